//! An in-memory [`Store`] that models what a crash keeps and loses, with injectable faults for tests.

use std::sync::{Arc, Mutex, MutexGuard};

use super::{Batch, Store};
use crate::Error;
use crate::merkle::{Hash, leaf_hash};
use crate::tiles::level_count;

/// A fault to inject into a [`MemoryStore`] operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// `append` fails without writing anything.
    AppendFails,
    /// `append` writes the first half of the batch's entries, then fails (a short write).
    AppendTorn,
    /// `sync` fails and persists nothing.
    SyncFails,
    /// `sync` persists everything, then reports failure (the caller cannot tell it worked).
    SyncFailsAfterPersisting,
    /// `write_checkpoint` fails before replacing the checkpoint.
    CheckpointFails,
}

/// An in-memory store. Clones share the same state, so a test can keep a handle, drop the log, simulate a
/// crash with [`MemoryStore::crash`] and reopen.
///
/// It keeps apart what was appended and what is durable, exactly as the [`Store`] contract allows a disk
/// to: entries become durable at `sync`, tile hashes at `write_checkpoint`.
#[derive(Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
}

#[derive(Default)]
struct State {
    entries: Vec<(Vec<u8>, Hash)>,
    /// Entries durable so far.
    synced: usize,
    /// Tile hash levels; level 0 is the tile copy of the leaf hashes.
    levels: Vec<Vec<Hash>>,
    /// Per level, how many hashes the last checkpoint write made durable.
    durable_levels: Vec<usize>,
    checkpoint: Option<Vec<u8>>,
    /// Armed faults: (fault, successful calls of that operation to let through first).
    faults: Vec<(Fault, u64)>,
    syncs: u64,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Arm `fault`: the operation it names succeeds `after` more times, then fails once as described.
    pub fn inject(&self, fault: Fault, after: u64) {
        self.lock().faults.push((fault, after));
    }

    /// Simulate a power loss: drop every entry not synced and every hash not covered by a checkpoint write.
    /// With `torn_tail`, also leave a torn entry after the durable ones (its bytes do not match its hash).
    pub fn crash(&self, torn_tail: bool) {
        let mut s = self.lock();
        let synced = s.synced;
        s.entries.truncate(synced);
        let durable = s.durable_levels.clone();
        s.levels.truncate(durable.len());
        for (level, keep) in s.levels.iter_mut().zip(durable) {
            level.truncate(keep);
        }
        s.faults.clear();
        if torn_tail {
            s.entries.push((b"torn".to_vec(), leaf_hash(b"not torn")));
        }
    }

    /// Flip one bit of stored entry `index` (for corruption tests).
    pub fn corrupt_entry(&self, index: usize) {
        if let Some(byte) = self
            .lock()
            .entries
            .get_mut(index)
            .and_then(|e| e.0.first_mut())
        {
            *byte ^= 1;
        }
    }

    /// Flip one bit of stored hash `index` at tile level `level` (for corruption tests).
    pub fn corrupt_hash(&self, level: usize, index: usize) {
        if let Some(hash) = self
            .lock()
            .levels
            .get_mut(level)
            .and_then(|l| l.get_mut(index))
        {
            hash[0] ^= 1;
        }
    }

    /// How many `sync` calls succeeded: one per group commit.
    pub fn syncs(&self) -> u64 {
        self.lock().syncs
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated in a way reads could misinterpret
        // beyond what a crash would, so recover the guard.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    /// Consume an armed fault of one of `kinds`, if one is due now.
    fn take_fault(&mut self, kinds: &[Fault]) -> Option<Fault> {
        let mut fired = None;
        self.faults.retain_mut(|(fault, after)| {
            if fired.is_some() || !kinds.contains(fault) {
                return true;
            }
            if *after == 0 {
                fired = Some(*fault);
                return false;
            }
            *after -= 1;
            true
        });
        fired
    }

    fn level_mut(&mut self, level: usize) -> &mut Vec<Hash> {
        if self.levels.len() <= level {
            self.levels.resize_with(level + 1, Vec::new);
            self.durable_levels.resize(level + 1, 0);
        }
        &mut self.levels[level]
    }

    fn write_entries(&mut self, entries: &[(Vec<u8>, Hash)]) {
        self.entries.extend_from_slice(entries);
        let leaves: Vec<Hash> = entries.iter().map(|e| e.1).collect();
        self.level_mut(0).extend(leaves);
    }
}

fn injected(op: &'static str) -> Error {
    Error::Io {
        op,
        source: std::io::Error::other("injected fault"),
    }
}

fn len_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl Store for MemoryStore {
    fn recover(&self, trusted: u64) -> Result<u64, Error> {
        let mut s = self.lock();
        let trusted_len = usize::try_from(trusted)
            .map_err(|_| Error::Corrupted("trusted size too large".into()))?;
        if s.entries.len() < trusted_len {
            return Err(Error::Corrupted(format!(
                "checkpoint covers {trusted} entries but only {} are stored",
                s.entries.len()
            )));
        }
        // Keep entries past the checkpoint up to the first torn one.
        let valid = s.entries[trusted_len..]
            .iter()
            .take_while(|(bytes, leaf)| leaf_hash(bytes) == *leaf)
            .count();
        s.entries.truncate(trusted_len + valid);
        s.synced = s.entries.len();
        // Hashes past the checkpoint are not trusted; level 0 is rebuilt from the entries' leaf hashes.
        for level in 0..s.levels.len() {
            let keep =
                usize::try_from(level_count(trusted, u8::try_from(level).unwrap_or(u8::MAX)))
                    .unwrap_or(0);
            if s.levels[level].len() < keep {
                return Err(Error::Corrupted(format!(
                    "tile level {level} is shorter than the checkpoint"
                )));
            }
            s.levels[level].truncate(keep);
        }
        let leaves: Vec<Hash> = s.entries[trusted_len..].iter().map(|e| e.1).collect();
        s.level_mut(0).extend(leaves);
        Ok(len_u64(s.entries.len()))
    }

    fn append(&self, batch: &Batch) -> Result<(), Error> {
        let mut s = self.lock();
        if batch.first != len_u64(s.entries.len()) {
            return Err(Error::Corrupted(format!(
                "append at {} but the store holds {}",
                batch.first,
                s.entries.len()
            )));
        }
        match s.take_fault(&[Fault::AppendFails, Fault::AppendTorn]) {
            Some(Fault::AppendFails) => return Err(injected("append")),
            Some(_) => {
                s.write_entries(&batch.entries[..batch.entries.len() / 2]);
                return Err(injected("append"));
            }
            None => {}
        }
        s.write_entries(&batch.entries);
        for (level, first, hashes) in &batch.tiles {
            let l = s.level_mut(usize::from(*level));
            if len_u64(l.len()) != *first {
                return Err(Error::Corrupted(format!(
                    "tile level {level} append out of order"
                )));
            }
            l.extend_from_slice(hashes);
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), Error> {
        let mut s = self.lock();
        match s.take_fault(&[Fault::SyncFails, Fault::SyncFailsAfterPersisting]) {
            Some(Fault::SyncFails) => Err(injected("sync")),
            Some(_) => {
                s.synced = s.entries.len();
                Err(injected("sync"))
            }
            None => {
                s.synced = s.entries.len();
                s.syncs += 1;
                Ok(())
            }
        }
    }

    fn write_checkpoint(&self, size: u64, note: &[u8]) -> Result<(), Error> {
        let mut s = self.lock();
        if s.take_fault(&[Fault::CheckpointFails]).is_some() {
            return Err(injected("write checkpoint"));
        }
        for level in 0..s.levels.len() {
            let need = usize::try_from(level_count(size, u8::try_from(level).unwrap_or(u8::MAX)))
                .unwrap_or(0);
            if s.levels[level].len() < need {
                return Err(Error::Corrupted(format!(
                    "checkpoint at {size} but tile level {level} is short"
                )));
            }
            s.durable_levels[level] = s.levels[level].len();
        }
        s.checkpoint = Some(note.to_vec());
        Ok(())
    }

    fn read_checkpoint(&self) -> Result<Option<Vec<u8>>, Error> {
        Ok(self.lock().checkpoint.clone())
    }

    fn read_hashes(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, Error> {
        let s = self.lock();
        let l = s
            .levels
            .get(usize::from(level))
            .map(Vec::as_slice)
            .unwrap_or_default();
        slice(l, start, count, "tile hashes").map(<[Hash]>::to_vec)
    }

    fn read_entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, Error> {
        let s = self.lock();
        Ok(slice(&s.entries, start, count, "entries")?
            .iter()
            .map(|e| e.0.clone())
            .collect())
    }
}

fn slice<'a, T>(
    items: &'a [T],
    start: u64,
    count: u64,
    what: &'static str,
) -> Result<&'a [T], Error> {
    let end = start.checked_add(count);
    let range = usize::try_from(start)
        .ok()
        .zip(end.and_then(|e| usize::try_from(e).ok()));
    range
        .and_then(|(a, b)| items.get(a..b))
        .ok_or(Error::BeyondLog {
            what,
            requested: end.unwrap_or(u64::MAX),
            size: len_u64(items.len()),
        })
}
