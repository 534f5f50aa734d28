//! Append-only segment files holding ciphertext records, with in-place shredding for purge.
//!
//! A record is `magic (4) | body length u32 LE | cert id (16) | CRC-32 u32 LE | body`, the CRC
//! (IEEE, as in zlib) covering length, id and body. Purge overwrites the magic with [`SHREDDED`]
//! and the CRC and body with zeros, in place.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use super::StoreError;
use super::index::Location;

/// Marks a live record.
const MAGIC: [u8; 4] = *b"TLV1";
/// Marks a record whose body was overwritten by a purge.
const SHREDDED: [u8; 4] = *b"TLVX";
/// Bytes before the body.
pub(crate) const HEADER_LEN: u64 = 28;
/// A new segment is started when the active one would grow past this.
pub(crate) const MAX_SEGMENT_LEN: u64 = 256 * 1024 * 1024;

/// Appends one record for `body` to `out`.
pub(crate) fn encode_record(
    cert_id: [u8; 16],
    body: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let len = u32::try_from(body.len())
        .map_err(|_| StoreError::TooLarge)?
        .to_le_bytes();
    let mut crc = crc32fast::Hasher::new();
    crc.update(&len);
    crc.update(&cert_id);
    crc.update(body);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&len);
    out.extend_from_slice(&cert_id);
    out.extend_from_slice(&crc.finalize().to_le_bytes());
    out.extend_from_slice(body);
    Ok(())
}

/// Length of the record for a body of `body_len` bytes.
pub(crate) fn record_len(body_len: usize) -> u64 {
    HEADER_LEN.saturating_add(u64::try_from(body_len).unwrap_or(u64::MAX))
}

/// What a record read found.
pub(crate) enum Record {
    /// The intact body.
    Live(Vec<u8>),
    /// The record was shredded by a purge.
    Shredded,
}

/// The segment files of one store: `NNNNNNNNNN.seg` in one directory, opened read-write and cached.
pub(crate) struct SegmentFiles {
    dir: PathBuf,
    files: RwLock<HashMap<u32, Arc<File>>>,
}

impl SegmentFiles {
    /// Opens the directory (creating it) and returns the files with the id and length of the last one.
    pub(crate) fn open(dir: &Path) -> Result<(Self, u32, u64), StoreError> {
        std::fs::create_dir_all(dir)?;
        let mut files = HashMap::new();
        let mut last = None;
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(parse_name) else {
                continue;
            };
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(entry.path())?;
            let len = file.metadata()?.len();
            if last.is_none_or(|(last_id, _)| id > last_id) {
                last = Some((id, len));
            }
            files.insert(id, Arc::new(file));
        }
        let segments = Self {
            dir: dir.to_owned(),
            files: RwLock::new(files),
        };
        let (id, len) = match last {
            Some(last) => last,
            None => {
                segments.create(1)?;
                (1, 0)
            }
        };
        Ok((segments, id, len))
    }

    /// Creates segment `id`. The caller must sync the directory before relying on it.
    pub(crate) fn create(&self, id: u32) -> Result<Arc<File>, StoreError> {
        let path = self.dir.join(format!("{id:010}.seg"));
        let file = Arc::new(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .open(path)?,
        );
        self.files
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, Arc::clone(&file));
        Ok(file)
    }

    /// Segment `id`, which the index says exists.
    pub(crate) fn get(&self, id: u32) -> Result<Arc<File>, StoreError> {
        let files = self.files.read().unwrap_or_else(PoisonError::into_inner);
        files
            .get(&id)
            .cloned()
            .ok_or(StoreError::Corrupt("index names a missing segment"))
    }

    /// Total length of all segment files.
    pub(crate) fn total_len(&self) -> Result<u64, StoreError> {
        let files = self.files.read().unwrap_or_else(PoisonError::into_inner);
        files
            .values()
            .try_fold(0u64, |sum, f| Ok(sum.saturating_add(f.metadata()?.len())))
    }

    /// Makes created segment files durable (their directory entries).
    pub(crate) fn sync_dir(&self) -> Result<(), StoreError> {
        File::open(&self.dir)?.sync_all()?;
        Ok(())
    }

    /// Reads and checks the record at `loc`, which must belong to `cert_id`.
    pub(crate) fn read(&self, loc: Location, cert_id: [u8; 16]) -> Result<Record, StoreError> {
        let file = self.get(loc.segment)?;
        let len =
            usize::try_from(record_len(loc.len as usize)).map_err(|_| StoreError::TooLarge)?;
        let mut buf = vec![0u8; len];
        file.read_exact_at(&mut buf, loc.offset)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => {
                    StoreError::Corrupt("segment shorter than its index")
                }
                _ => StoreError::Io(e),
            })?;
        decode_record(buf, loc.len, cert_id)
    }

    /// Overwrites the record at `loc` in place: magic to [`SHREDDED`], CRC and body to zeros.
    /// Not durable until the segment is synced.
    pub(crate) fn shred(&self, loc: Location) -> Result<(), StoreError> {
        let file = self.get(loc.segment)?;
        file.write_all_at(&SHREDDED, loc.offset)?;
        let crc_offset = loc.offset.saturating_add(24);
        let zeros = vec![0u8; 4usize.saturating_add(loc.len as usize)];
        file.write_all_at(&zeros, crc_offset)?;
        Ok(())
    }
}

/// Checks a whole record read from disk; untrusted bytes, so every field is checked.
fn decode_record(mut buf: Vec<u8>, body_len: u32, cert_id: [u8; 16]) -> Result<Record, StoreError> {
    let header = buf.get(..28).ok_or(StoreError::Corrupt("short record"))?;
    let (magic, rest) = header.split_at(4);
    let (len, rest) = rest.split_at(4);
    let (id, crc) = rest.split_at(16);
    if magic == SHREDDED {
        return Ok(Record::Shredded);
    }
    if magic != MAGIC {
        return Err(StoreError::Corrupt("bad record magic"));
    }
    if len != body_len.to_le_bytes() || id != cert_id {
        return Err(StoreError::Corrupt("record does not match its index entry"));
    }
    let stored_crc = crc
        .try_into()
        .map(u32::from_le_bytes)
        .map_err(|_| StoreError::Corrupt("short record"))?;
    let body = buf.get(28..).ok_or(StoreError::Corrupt("short record"))?;
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(len);
    hasher.update(id);
    hasher.update(body);
    if hasher.finalize() != stored_crc {
        return Err(StoreError::Corrupt("record checksum mismatch"));
    }
    buf.drain(..28);
    Ok(Record::Live(buf))
}

/// The id of a segment file name `NNNNNNNNNN.seg`.
fn parse_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
