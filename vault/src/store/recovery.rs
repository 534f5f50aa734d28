//! Opening after a crash: replay the records appended since the last checkpoint into the index,
//! cut a torn tail off the last segment.
//!
//! Why this is enough: a put is acknowledged once its segment is synced, and its index entry is
//! applied to sled without a sync; a checkpoint (a sled sync) records the segment position up to
//! which every record is in the index. Commits sync whole files in append order and a segment is
//! synced before the next one is started, so every record before an acknowledged one is durable:
//! the first invalid record after the checkpoint can only be the torn tail of the last segment.

use ledger::CertId;

use super::StoreError;
use super::index::{self, Entry, Place};
use super::segments::{SegmentFiles, record_end};
use super::writes::IndexWrites;

/// Indexes every valid record after the checkpoint that the index lacks, truncates the last
/// segment after its last valid record, and returns the entries to write and the append position
/// (the new checkpoint, once they are written).
pub(crate) fn replay(
    db: &sled::Db,
    segments: &SegmentFiles,
) -> Result<(IndexWrites, u32, u64), StoreError> {
    let ids = segments.ids();
    let last = ids
        .last()
        .copied()
        .ok_or(StoreError::Corrupt("no segment files"))?;
    let (start_id, start_offset) = match db.get(index::checkpoint_key())? {
        Some(bytes) => index::decode_checkpoint(&bytes)?,
        None => (ids.first().copied().unwrap_or(last), 0),
    };
    let mut writes = IndexWrites::default();
    let mut seen = std::collections::HashSet::new();
    let mut end = (start_id, start_offset);
    for id in ids.into_iter().filter(|id| *id >= start_id) {
        let mut offset = if id == start_id { start_offset } else { 0 };
        while let Some((header, loc, contents)) = segments.scan_one(id, offset)? {
            if let Some(contents) = contents {
                let cert_id = CertId(header.cert_id);
                if db.get(index::index_key(cert_id))?.is_none() && seen.insert(cert_id) {
                    let envelopes = contents.envelopes.into_iter().collect();
                    let entry = Entry {
                        place: Place::Segment(loc),
                        envelopes,
                    };
                    writes.insert(&index::index_key(cert_id), entry.encode()?);
                }
            }
            offset = record_end(loc);
        }
        let file = segments.get(id)?;
        let len = file.metadata()?.len();
        if offset < len {
            if id != last {
                return Err(StoreError::Corrupt(
                    "invalid record inside a sealed segment",
                ));
            }
            // Unacknowledged bytes: cut off so the next append follows the last valid record.
            file.set_len(offset)?;
            file.sync_data()?;
        }
        end = (id, offset);
    }
    Ok((writes, end.0, end.1))
}
