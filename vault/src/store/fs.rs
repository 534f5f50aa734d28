//! The embedded store: ciphertexts in append-only segment files, index and envelopes in sled,
//! every commit made durable with a real `fdatasync`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;

use super::group::{Committer, State, Taken};
use super::index::{self, IndexEntry, Location};
use super::segments::{self, MAX_SEGMENT_LEN, Record, SegmentFiles};
use super::{
    HexId, NewCertificate, StoreError, VaultStore, validate_batch, validate_envelope,
    validate_party,
};

/// The embedded [`VaultStore`]: one data directory holding `index/` (sled: index entries,
/// envelopes, purge intents) and `segments/` (ciphertext records).
///
/// A commit syncs the written segment files (`fdatasync`), the segment directory when a file was
/// created, then applies the queued index changes in one atomic sled batch, flushes sled and
/// `fdatasync`s sled's log file, since sled 0.34's own flush stops at `sync_file_range`. An index
/// entry therefore never reaches the disk before the record it points to. Purge first makes a
/// purge intent durable, then shreds the record in place and drops the index entry and envelopes;
/// an intent found on open is finished before the store is used.
pub struct FsVaultStore {
    db: sled::Db,
    db_log: File,
    segments: SegmentFiles,
    committer: Committer,
    inline: bool,
}

impl FsVaultStore {
    /// Opens (or creates) the store in `dir`, finishing any purge interrupted by a crash.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_layout(dir, false)
    }

    /// The measured alternative, kept only for the benchmark: ciphertexts inline in sled.
    /// Its purge drops the index entry, but sled's log keeps the old bytes until sled reuses the
    /// segment, so it is not crypto-shredding. Do not use it to store certificates.
    #[doc(hidden)]
    pub fn open_inline_baseline(dir: &Path) -> Result<Self, StoreError> {
        Self::open_layout(dir, true)
    }

    fn open_layout(dir: &Path, inline: bool) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir)?;
        let index_dir = dir.join("index");
        // sled's background flusher only calls sync_file_range; durability comes from our commits.
        let db = sled::Config::new()
            .path(&index_dir)
            .flush_every_ms(None)
            .open()?;
        let db_log = OpenOptions::new()
            .read(true)
            .write(true)
            .open(index_dir.join("db"))?;
        let (segments, active, len) = SegmentFiles::open(&dir.join("segments"))?;
        for created in [&index_dir, &dir.join("segments"), dir] {
            File::open(created)?.sync_all()?;
        }
        let store = Self {
            db,
            db_log,
            segments,
            committer: Committer::new(active, len),
            inline,
        };
        for intent in store.db.scan_prefix(index::intent_prefix()).keys() {
            store.finish_purge(index::cert_of_intent(&intent?)?)?;
        }
        Ok(store)
    }

    /// Bytes the data directory takes on disk (sled's estimate plus the segment files).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self
            .db
            .size_on_disk()?
            .saturating_add(self.segments.total_len()?))
    }

    /// The commit run by a group's leader.
    fn sync(&self, taken: Taken) -> Result<(), StoreError> {
        for id in &taken.dirty_segments {
            self.segments.get(*id)?.sync_data()?;
        }
        if taken.dir_dirty {
            self.segments.sync_dir()?;
        }
        self.db.apply_batch(taken.batch)?;
        self.db.flush()?;
        self.db_log.sync_data()?;
        Ok(())
    }

    fn entry(&self, cert_id: [u8; 16]) -> Result<Option<IndexEntry>, StoreError> {
        self.db
            .get(index::index_key(cert_id))?
            .map(|v| IndexEntry::decode(&v))
            .transpose()
    }

    /// The entry of a certificate that mutations may change: live, not purged.
    fn live_entry(&self, cert_id: [u8; 16]) -> Result<IndexEntry, StoreError> {
        match self.entry(cert_id)? {
            None => Err(StoreError::NotFound(HexId(cert_id))),
            Some(IndexEntry::Purged) => Err(StoreError::Purged(HexId(cert_id))),
            Some(live) => Ok(live),
        }
    }

    /// Appends the batch's records to the active segment (rotating if full) and returns their places.
    fn append(
        &self,
        state: &mut State,
        certs: &[NewCertificate<'_>],
    ) -> Result<Vec<Location>, StoreError> {
        let total = certs
            .iter()
            .map(|c| segments::record_len(c.ciphertext.len()))
            .sum::<u64>();
        if state.active_len > 0 && state.active_len.saturating_add(total) > MAX_SEGMENT_LEN {
            let next = state
                .active_segment
                .checked_add(1)
                .ok_or(StoreError::TooLarge)?;
            self.segments.create(next)?;
            state.active_segment = next;
            state.active_len = 0;
            state.next.dir_dirty = true;
        }
        let mut buf = Vec::with_capacity(usize::try_from(total).map_err(|_| StoreError::TooLarge)?);
        let mut places = Vec::with_capacity(certs.len());
        for cert in certs {
            let offset = state
                .active_len
                .saturating_add(u64::try_from(buf.len()).map_err(|_| StoreError::TooLarge)?);
            let len = u32::try_from(cert.ciphertext.len()).map_err(|_| StoreError::TooLarge)?;
            places.push(Location {
                segment: state.active_segment,
                offset,
                len,
            });
            segments::encode_record(cert.cert_id, cert.ciphertext, &mut buf)?;
        }
        // A failed write leaves active_len as it was, so the partial bytes are overwritten later.
        self.segments
            .get(state.active_segment)?
            .write_all_at(&buf, state.active_len)?;
        state.active_len = state.active_len.saturating_add(total);
        state.next.dirty_segments.insert(state.active_segment);
        Ok(places)
    }

    /// Second half of a purge, once its intent is durable: shred, then drop entry and envelopes.
    fn finish_purge(&self, cert_id: [u8; 16]) -> Result<(), StoreError> {
        let mut state = self.committer.lock_certs(&[cert_id])?;
        match self.entry(cert_id)? {
            Some(IndexEntry::Segment(loc)) => {
                self.segments.shred(loc)?;
                state.next.dirty_segments.insert(loc.segment);
            }
            Some(IndexEntry::Inline(_)) | Some(IndexEntry::Purged) | None => {}
        }
        let batch = &mut state.next.batch;
        batch.insert(&index::index_key(cert_id), IndexEntry::Purged.encode());
        for key in self.db.scan_prefix(index::envelope_prefix(cert_id)).keys() {
            batch.remove(key?);
        }
        batch.remove(&index::intent_key(cert_id));
        let ticket = state.enqueue([cert_id]);
        self.committer.wait_durable(state, ticket, |t| self.sync(t))
    }
}

impl VaultStore for FsVaultStore {
    fn put_certificates(&self, certs: &[NewCertificate<'_>]) -> Result<(), StoreError> {
        validate_batch(certs)?;
        let ids: Vec<[u8; 16]> = certs.iter().map(|c| c.cert_id).collect();
        let mut state = self.committer.lock_certs(&ids)?;
        for id in &ids {
            match self.entry(*id)? {
                None => {}
                Some(IndexEntry::Purged) => return Err(StoreError::Purged(HexId(*id))),
                Some(_) => return Err(StoreError::AlreadyExists(HexId(*id))),
            }
        }
        let entries: Vec<IndexEntry> = if self.inline {
            certs
                .iter()
                .map(|c| IndexEntry::Inline(c.ciphertext.to_vec()))
                .collect()
        } else {
            self.append(&mut state, certs)?
                .into_iter()
                .map(IndexEntry::Segment)
                .collect()
        };
        for (cert, entry) in certs.iter().zip(entries) {
            state
                .next
                .batch
                .insert(&index::index_key(cert.cert_id), entry.encode());
            for (party, envelope) in cert.envelopes {
                state
                    .next
                    .batch
                    .insert(index::envelope_key(cert.cert_id, party), *envelope);
            }
        }
        let ticket = state.enqueue(ids);
        self.committer.wait_durable(state, ticket, |t| self.sync(t))
    }

    fn add_envelope(
        &self,
        cert_id: [u8; 16],
        party: &str,
        envelope: &[u8],
    ) -> Result<(), StoreError> {
        validate_envelope(party, envelope)?;
        let mut state = self.committer.lock_certs(&[cert_id])?;
        self.live_entry(cert_id)?;
        let key = index::envelope_key(cert_id, party);
        if self.db.contains_key(&key)? {
            return Err(StoreError::DuplicateRecipient(HexId(cert_id)));
        }
        state.next.batch.insert(key, envelope);
        let ticket = state.enqueue([cert_id]);
        self.committer.wait_durable(state, ticket, |t| self.sync(t))
    }

    fn remove_envelope(&self, cert_id: [u8; 16], party: &str) -> Result<bool, StoreError> {
        validate_party(party)?;
        let mut state = self.committer.lock_certs(&[cert_id])?;
        self.live_entry(cert_id)?;
        let key = index::envelope_key(cert_id, party);
        if !self.db.contains_key(&key)? {
            return Ok(false);
        }
        state.next.batch.remove(key);
        let ticket = state.enqueue([cert_id]);
        self.committer
            .wait_durable(state, ticket, |t| self.sync(t))?;
        Ok(true)
    }

    fn purge(&self, cert_id: [u8; 16]) -> Result<(), StoreError> {
        let mut state = self.committer.lock_certs(&[cert_id])?;
        self.live_entry(cert_id)?;
        // The intent is durable before any byte is shredded, so a crash in between is finished on open.
        state.next.batch.insert(&index::intent_key(cert_id), &[]);
        let ticket = state.enqueue([cert_id]);
        self.committer
            .wait_durable(state, ticket, |t| self.sync(t))?;
        self.finish_purge(cert_id)
    }

    fn get_ciphertext(&self, cert_id: [u8; 16]) -> Result<Option<Vec<u8>>, StoreError> {
        let loc = match self.entry(cert_id)? {
            None | Some(IndexEntry::Purged) => return Ok(None),
            Some(IndexEntry::Inline(body)) => return Ok(Some(body)),
            Some(IndexEntry::Segment(loc)) => loc,
        };
        match self.segments.read(loc, cert_id) {
            Ok(Record::Live(body)) => Ok(Some(body)),
            Ok(Record::Shredded) => Ok(None),
            // A purge may be shredding this very record: that is absence, not corruption.
            Err(StoreError::Corrupt(what)) => {
                let purging = self.db.contains_key(index::intent_key(cert_id))?
                    || self.entry(cert_id)? != Some(IndexEntry::Segment(loc));
                if purging {
                    Ok(None)
                } else {
                    Err(StoreError::Corrupt(what))
                }
            }
            Err(e) => Err(e),
        }
    }

    fn get_envelope(&self, cert_id: [u8; 16], party: &str) -> Result<Option<Vec<u8>>, StoreError> {
        validate_party(party)?;
        Ok(self
            .db
            .get(index::envelope_key(cert_id, party))?
            .map(|v| v.to_vec()))
    }

    fn list_recipients(&self, cert_id: [u8; 16]) -> Result<Vec<String>, StoreError> {
        self.db
            .scan_prefix(index::envelope_prefix(cert_id))
            .keys()
            .map(|k| index::party_of(&k?))
            .collect()
    }
}
