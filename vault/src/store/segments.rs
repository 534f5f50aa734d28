//! The append-only segment files (`NNNNNNNNNN.seg`) holding [`record`](super::record)s: open,
//! create, read, shred in place, and scan for replay.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{FileExt, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use super::StoreError;
use super::index::Location;
use super::record::{self, CRC_OFFSET, Contents, HEADER_LEN, Header, SHREDDED};

/// A new segment is started when the active one would grow past this.
pub(crate) const MAX_SEGMENT_LEN: u64 = 256 * 1024 * 1024;

/// What reading a record found.
pub(crate) enum Read {
    /// The intact record.
    Live(Contents),
    /// The record was shredded by a purge.
    Shredded,
}

/// The segment files of one store, opened read-write and cached by id.
pub(crate) struct SegmentFiles {
    dir: PathBuf,
    files: RwLock<HashMap<u32, Arc<File>>>,
}

impl SegmentFiles {
    /// Opens the directory, creating it and a first segment if it has none.
    pub(crate) fn open(dir: &Path) -> Result<Self, StoreError> {
        if ledger::durable::create_private_dir(dir)?.is_some() {
            ledger::durable::make_private(dir)?;
        }
        let mut files = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let Some(id) = entry.file_name().to_str().and_then(parse_name) else {
                continue;
            };
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .open(entry.path())?;
            files.insert(id, Arc::new(file));
        }
        let empty = files.is_empty();
        let segments = Self {
            dir: dir.to_owned(),
            files: RwLock::new(files),
        };
        if empty {
            segments.create(1)?;
        }
        Ok(segments)
    }

    /// Creates segment `id`. Durable once the directory is synced ([`sync_dir`](Self::sync_dir)).
    pub(crate) fn create(&self, id: u32) -> Result<Arc<File>, StoreError> {
        let path = self.dir.join(format!("{id:010}.seg"));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(ledger::durable::FILE_MODE)
            .open(path)?;
        let file = Arc::new(file);
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

    /// Ids of all segments, ascending.
    pub(crate) fn ids(&self) -> Vec<u32> {
        let files = self.files.read().unwrap_or_else(PoisonError::into_inner);
        let mut ids: Vec<u32> = files.keys().copied().collect();
        ids.sort_unstable();
        ids
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

    /// Reads and checks the record at `loc`, which must belong to `cert_id`: header and payload in one read
    /// (an open's ciphertext read was three system calls: the header, the file's length, the payload).
    pub(crate) fn read(&self, loc: Location, cert_id: [u8; 16]) -> Result<Read, StoreError> {
        let file = self.get(loc.segment)?;
        let len = HEADER_LEN.saturating_add(to_usize(loc.len)?);
        let bytes = read_up_to(&file, loc.offset, len)?;
        let (header, payload) = bytes.split_first_chunk::<HEADER_LEN>().ok_or(SHORT)?;
        let header = record::parse_header(header);
        if header.magic == SHREDDED {
            return Ok(Read::Shredded);
        }
        if header.payload_len != loc.len || header.cert_id != cert_id {
            return Err(StoreError::Corrupt("record does not match its index entry"));
        }
        if bytes.len() < len {
            return Err(SHORT);
        }
        record::check(&header, payload).map(Read::Live)
    }

    /// Overwrites the record at `loc` in place (magic to shredded, CRC and payload to zeros).
    /// Not durable until the segment is synced.
    pub(crate) fn shred(&self, loc: Location) -> Result<(), StoreError> {
        let file = self.get(loc.segment)?;
        file.write_all_at(&SHREDDED, loc.offset)?;
        let zeros = vec![0u8; 4usize.saturating_add(to_usize(loc.len)?)];
        file.write_all_at(&zeros, loc.offset.saturating_add(CRC_OFFSET))?;
        Ok(())
    }

    /// The record starting at `offset` of segment `id`, for replay: `None` at the end of the valid
    /// records (end of file, a torn or never-completed record), else its header, its place and,
    /// unless shredded, its checked contents.
    pub(crate) fn scan_one(
        &self,
        id: u32,
        offset: u64,
    ) -> Result<Option<(Header, Location, Option<Contents>)>, StoreError> {
        let file = self.get(id)?;
        let Some(header) = read_header(&file, offset)? else {
            return Ok(None);
        };
        let loc = Location {
            segment: id,
            offset,
            len: header.payload_len,
        };
        if header.magic == SHREDDED {
            return Ok(Some((header, loc, None)));
        }
        let Some(payload) = read_payload(&file, offset, header.payload_len)? else {
            return Ok(None);
        };
        match record::check(&header, &payload) {
            Ok(contents) => Ok(Some((header, loc, Some(contents)))),
            Err(StoreError::Corrupt(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// The end of the record at `loc`.
pub(crate) fn record_end(loc: Location) -> u64 {
    loc.offset
        .saturating_add(HEADER_LEN as u64)
        .saturating_add(u64::from(loc.len))
}

const SHORT: StoreError = StoreError::Corrupt("segment shorter than its index");

/// The header at `offset`, or `None` if the file ends first.
fn read_header(file: &File, offset: u64) -> Result<Option<Header>, StoreError> {
    let mut bytes = [0u8; HEADER_LEN];
    match file.read_exact_at(&mut bytes, offset) {
        Ok(()) => Ok(Some(record::parse_header(&bytes))),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The payload of the record at `offset`, or `None` if the file ends first.
fn read_payload(file: &File, offset: u64, len: u32) -> Result<Option<Vec<u8>>, StoreError> {
    // Check the length against the file before allocating: it comes from disk.
    if record_end(Location {
        segment: 0,
        offset,
        len,
    }) > file.metadata()?.len()
    {
        return Ok(None);
    }
    let mut payload = vec![0u8; to_usize(len)?];
    match file.read_exact_at(&mut payload, offset.saturating_add(HEADER_LEN as u64)) {
        Ok(()) => Ok(Some(payload)),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Up to `len` bytes of `file` from `offset`, fewer if the file ends first. `len` comes from disk, so the buffer
/// grows with what was read, a chunk at a time, never to a length nothing backs: a record's usual few KiB are one
/// `pread`.
fn read_up_to(file: &File, offset: u64, len: usize) -> Result<Vec<u8>, StoreError> {
    const CHUNK: usize = 1024 * 1024;
    let mut out = Vec::new();
    while out.len() < len {
        let start = out.len();
        out.resize(start.saturating_add((len - start).min(CHUNK)), 0);
        let mut filled = start;
        while let Some(rest) = out.get_mut(filled..).filter(|rest| !rest.is_empty()) {
            let at = offset.saturating_add(filled as u64);
            match file.read_at(rest, at) {
                Ok(0) => break,
                Ok(n) => filled = filled.saturating_add(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        let ended = filled < out.len();
        out.truncate(filled);
        if ended {
            break;
        }
    }
    Ok(out)
}

fn to_usize(len: u32) -> Result<usize, StoreError> {
    usize::try_from(len).map_err(|_| StoreError::TooLarge)
}

/// The id of a segment file name `NNNNNNNNNN.seg`.
fn parse_name(name: &str) -> Option<u32> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 10 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}
