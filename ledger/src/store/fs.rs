//! [`FsStore`]: the embedded default [`Store`], append-only files in one data directory, really fsynced.
//!
//! Layout (see docs/architecture.md "Ledger storage" for why files and not sled):
//! - `journal`: entry frames `[u16 BE len][entry][leaf hash]`; the one file fdatasync'ed per group commit.
//! - `ends`: u64 BE per entry, the journal offset just after its frame (so bundle reads are one pread).
//! - `level-<L>`: the hashes of tile level L, concatenated; tile `L/N` is bytes `[N*8192, (N+1)*8192)` and a
//!   partial tile `.p/W` its first `W*32` bytes. Written per commit, fdatasync'ed before each checkpoint write.
//! - `checkpoint`: the signed note, replaced atomically and durably through [`durable::write_atomic`].
//!
//! The directory is created 0700 and every file 0600 (see [`crate::durable`]). `ends` and `level-*` are
//! derived from the journal: [`rebuild`] rewrites them for `tradeledger repair`.

mod rebuild;

pub use rebuild::Rebuilt;

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::journal::{FRAME_OVERHEAD, encode_frame, scan_valid, split_frame};
use super::{Batch, Store};
use crate::Error;
use crate::durable;
use crate::merkle::{Hash, leaf_hash};
use crate::tiles::{TILE_WIDTH, level_count};

/// Tile levels a u64-sized tree can have (`256^8 = 2^64`).
const LEVELS: usize = 8;

/// The file-backed store. One process may open a directory at a time.
pub struct FsStore {
    dir: PathBuf,
    journal: File,
    ends: File,
    levels: Vec<File>,
    /// Files written since their last sync by `write_checkpoint`: `ends`, then each level.
    dirty: Vec<AtomicBool>,
    writer: Mutex<Writer>,
}

/// The append position, owned by the single writer.
#[derive(Default)]
struct Writer {
    entries: u64,
    journal_len: u64,
    level_counts: [u64; LEVELS],
}

fn io(op: &'static str) -> impl FnOnce(std::io::Error) -> Error {
    move |source| Error::Io { op, source }
}

fn open_rw(path: &Path) -> Result<(File, bool), Error> {
    durable::open_or_create(path).map_err(io("open store file"))
}

fn sync_dir(dir: &Path) -> Result<(), Error> {
    durable::sync_dir(dir).map_err(io("sync data directory"))
}

fn file_len(file: &File) -> Result<u64, Error> {
    Ok(file.metadata().map_err(io("stat store file"))?.len())
}

fn read_at(file: &File, offset: u64, len: u64, what: &'static str) -> Result<Vec<u8>, Error> {
    let n =
        usize::try_from(len).map_err(|_| Error::Corrupted(format!("{what}: read too large")))?;
    let mut buf = vec![0u8; n];
    file.read_exact_at(&mut buf, offset)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                Error::Corrupted(format!("{what} missing from storage"))
            }
            _ => Error::Io {
                op: "read store file",
                source: e,
            },
        })?;
    Ok(buf)
}

impl FsStore {
    /// Open (creating if needed) the store in directory `dir`.
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, Error> {
        let dir = dir.as_ref().to_path_buf();
        if durable::create_private_dir(&dir)
            .map_err(io("create data directory"))?
            .is_some()
        {
            durable::make_private(&dir).map_err(io("make the data directory private"))?;
        }
        let mut created = false;
        let mut open = |name: String| -> Result<File, Error> {
            let (file, new) = open_rw(&dir.join(name))?;
            created |= new;
            Ok(file)
        };
        let journal = open("journal".into())?;
        let ends = open("ends".into())?;
        let levels = (0..LEVELS)
            .map(|l| open(format!("level-{l}")))
            .collect::<Result<Vec<_>, _>>()?;
        if created {
            // New directory entries are durable only once the directory itself is synced.
            sync_dir(&dir)?;
        }
        let dirty = (0..=LEVELS).map(|_| AtomicBool::new(false)).collect();
        Ok(FsStore {
            dir,
            journal,
            ends,
            levels,
            dirty,
            writer: Mutex::new(Writer::default()),
        })
    }

    /// Rebuild the derived files (`ends`, `level-*`) of the (closed) store in `dir` from its journal; see
    /// [`Rebuilt`]. Refuses, writing nothing, unless the journal's intact entries reach the stored checkpoint
    /// (verified with `signer` under `origin`) and hash to its root.
    pub fn rebuild(
        dir: impl AsRef<Path>,
        signer: &crate::NoteSigner,
        origin: &str,
    ) -> Result<Rebuilt, Error> {
        rebuild::rebuild(dir.as_ref(), signer, origin)
    }

    /// Bytes the store occupies on disk (file sizes), for the benchmarks' bytes-per-entry figure.
    pub fn disk_usage(&self) -> Result<u64, Error> {
        let mut total = file_len(&self.journal)? + file_len(&self.ends)?;
        for level in &self.levels {
            total += file_len(level)?;
        }
        let checkpoint = self.dir.join("checkpoint");
        if checkpoint.exists() {
            total += std::fs::metadata(checkpoint)
                .map_err(io("stat checkpoint"))?
                .len();
        }
        Ok(total)
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Writer> {
        // The writer state is only advanced after its writes succeeded, so a poisoned lock holds a valid state.
        self.writer.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn level(&self, level: u8) -> Result<&File, Error> {
        self.levels
            .get(usize::from(level))
            .ok_or(Error::Corrupted(format!("no tile level {level}")))
    }

    /// The journal offset where entry `index` starts (the end of the previous frame).
    fn start_of(&self, index: u64) -> Result<u64, Error> {
        if index == 0 {
            return Ok(0);
        }
        let raw = read_at(&self.ends, (index - 1) * 8, 8, "entry offset")?;
        Ok(u64::from_be_bytes(raw.try_into().unwrap_or_default()))
    }

    /// The journal frames (entry, stored leaf hash) of entries `[start, start + count)`.
    fn read_frames(&self, start: u64, count: u64) -> Result<Vec<(Vec<u8>, Hash)>, Error> {
        if count == 0 {
            return Ok(Vec::new());
        }
        let first = self.start_of(start)?;
        let last_end = self.start_of(start.saturating_add(count))?;
        let len = last_end
            .checked_sub(first)
            .ok_or(Error::Corrupted("entry offsets decrease".into()))?;
        let bytes = read_at(&self.journal, first, len, "entries")?;
        let mut rest = bytes.as_slice();
        let mut out = Vec::new();
        while let Some((entry, leaf, next)) = split_frame(rest) {
            out.push((entry.to_vec(), leaf));
            rest = next;
        }
        if !rest.is_empty() || u64::try_from(out.len()).ok() != Some(count) {
            return Err(Error::Corrupted(format!(
                "journal frames for entries {start}.. do not parse"
            )));
        }
        Ok(out)
    }

    fn mark_dirty(&self, slot: usize) {
        if let Some(flag) = self.dirty.get(slot) {
            flag.store(true, Ordering::Release);
        }
    }
}

impl Store for FsStore {
    fn recover(&self, trusted: u64) -> Result<u64, Error> {
        let mut w = self.writer();
        if file_len(&self.ends)? < trusted.saturating_mul(8) {
            return Err(Error::Corrupted(format!(
                "entry offsets do not reach checkpoint size {trusted}"
            )));
        }
        let start = self.start_of(trusted)?;
        let journal_len = file_len(&self.journal)?;
        if journal_len < start {
            return Err(Error::Corrupted(format!(
                "journal ends before checkpoint size {trusted}"
            )));
        }
        let tail = read_at(&self.journal, start, journal_len - start, "journal tail")?;
        let valid = scan_valid(&tail);
        let end = start + valid.last().map_or(0, |v| v.0);
        if end != journal_len {
            // Discard the torn tail durably before anything is appended after it.
            self.journal.set_len(end).map_err(io("truncate journal"))?;
            self.journal.sync_data().map_err(io("sync journal"))?;
        }
        let ends: Vec<u8> = valid
            .iter()
            .flat_map(|(e, _)| (start + e).to_be_bytes())
            .collect();
        let leaves: Vec<u8> = valid.iter().flat_map(|(_, h)| *h).collect();
        self.ends
            .set_len(trusted * 8)
            .map_err(io("truncate offsets"))?;
        self.ends
            .write_all_at(&ends, trusted * 8)
            .map_err(io("write offsets"))?;
        let entries = trusted + u64::try_from(valid.len()).unwrap_or(0);
        for (l, file) in (0u8..).zip(&self.levels) {
            let keep = level_count(trusted, l);
            if file_len(file)? < keep * 32 {
                return Err(Error::Corrupted(format!(
                    "tile level {l} does not reach checkpoint size {trusted}"
                )));
            }
            file.set_len(keep * 32).map_err(io("truncate tile level"))?;
            w.level_counts[usize::from(l)] = keep;
        }
        self.level(0)?
            .write_all_at(&leaves, trusted * 32)
            .map_err(io("write tile level"))?;
        w.level_counts[0] = entries;
        w.entries = entries;
        w.journal_len = end;
        for slot in 0..self.dirty.len() {
            self.mark_dirty(slot);
        }
        Ok(entries)
    }

    fn append(&self, batch: &Batch) -> Result<(), Error> {
        let mut w = self.writer();
        if batch.first != w.entries {
            return Err(Error::Corrupted(format!(
                "append at {} but the store holds {}",
                batch.first, w.entries
            )));
        }
        let mut frames = Vec::with_capacity(
            batch
                .entries
                .iter()
                .map(|e| e.0.len() + FRAME_OVERHEAD)
                .sum(),
        );
        let mut ends = Vec::with_capacity(batch.entries.len() * 8);
        let mut leaves = Vec::with_capacity(batch.entries.len() * 32);
        for (entry, leaf) in &batch.entries {
            encode_frame(&mut frames, entry, leaf)?;
            let end = w.journal_len + u64::try_from(frames.len()).unwrap_or(u64::MAX);
            ends.extend_from_slice(&end.to_be_bytes());
            leaves.extend_from_slice(leaf);
        }
        let n = u64::try_from(batch.entries.len()).unwrap_or(u64::MAX);
        self.journal
            .write_all_at(&frames, w.journal_len)
            .map_err(io("write journal"))?;
        self.ends
            .write_all_at(&ends, w.entries * 8)
            .map_err(io("write offsets"))?;
        self.level(0)?
            .write_all_at(&leaves, w.level_counts[0] * 32)
            .map_err(io("write tile level"))?;
        self.mark_dirty(0);
        self.mark_dirty(1);
        for (level, first, hashes) in &batch.tiles {
            let slot = usize::from(*level);
            let count = w.level_counts.get(slot).copied();
            if count != Some(*first) || slot == 0 {
                return Err(Error::Corrupted(format!(
                    "tile level {level} append out of order"
                )));
            }
            let bytes: Vec<u8> = hashes.concat();
            self.level(*level)?
                .write_all_at(&bytes, first * 32)
                .map_err(io("write tile level"))?;
            w.level_counts[slot] += u64::try_from(hashes.len()).unwrap_or(u64::MAX);
            self.mark_dirty(slot + 1);
        }
        w.journal_len += u64::try_from(frames.len()).unwrap_or(u64::MAX);
        w.entries += n;
        w.level_counts[0] += n;
        Ok(())
    }

    fn sync(&self) -> Result<(), Error> {
        // The group commit's one real fdatasync: entries and their leaf hashes are all in the journal.
        self.journal.sync_data().map_err(io("sync journal"))
    }

    fn write_checkpoint(&self, _size: u64, note: &[u8]) -> Result<(), Error> {
        // Every hash file written since the last checkpoint must be durable before a checkpoint vouches for
        // it; sync them in parallel so the device flushes overlap.
        let files: Vec<&File> = std::iter::once(&self.ends).chain(&self.levels).collect();
        let results: Vec<Result<(), Error>> = std::thread::scope(|s| {
            let handles: Vec<_> = files
                .iter()
                .zip(&self.dirty)
                .filter(|(_, dirty)| dirty.swap(false, Ordering::AcqRel))
                .map(|(file, _)| s.spawn(move || file.sync_data().map_err(io("sync tile hashes"))))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or(Err(Error::Corrupted("sync thread panicked".into())))
                })
                .collect()
        });
        results.into_iter().collect::<Result<(), Error>>()?;
        durable::write_atomic(&self.dir.join("checkpoint"), note).map_err(io("write checkpoint"))
    }

    fn read_checkpoint(&self) -> Result<Option<Vec<u8>>, Error> {
        match std::fs::read(self.dir.join("checkpoint")) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::Io {
                op: "read checkpoint",
                source: e,
            }),
        }
    }

    fn read_hashes(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, Error> {
        let bytes = read_at(
            self.level(level)?,
            start.saturating_mul(32),
            count.saturating_mul(32),
            "tile hashes",
        )?;
        Ok(bytes
            .chunks_exact(32)
            .map(|c| c.try_into().unwrap_or_default())
            .collect())
    }

    fn read_entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, Error> {
        Ok(self
            .read_frames(start, count)?
            .into_iter()
            .map(|f| f.0)
            .collect())
    }

    fn check_internal(&self) -> Result<(), Error> {
        // The journal's copy of each leaf hash is what recovery trusts above the stored checkpoint: it must
        // agree with the entry and with the level-0 tile hash.
        let entries = self.writer().entries;
        let mut start = 0;
        while start < entries {
            let count = TILE_WIDTH.min(entries - start);
            let level0 = self.read_hashes(0, start, count)?;
            for (((entry, leaf), tile_leaf), i) in self
                .read_frames(start, count)?
                .iter()
                .zip(&level0)
                .zip(start..)
            {
                if leaf_hash(entry) != *leaf || leaf != tile_leaf {
                    return Err(Error::Corrupted(format!(
                        "journal frame of entry {i} does not match its hashes"
                    )));
                }
            }
            start += count;
        }
        Ok(())
    }
}
