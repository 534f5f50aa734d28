//! The log: group-committed durable appends, checkpoints signed only over durable entries, verified reads,
//! tiles and proofs.

mod frontier;
mod integrity;
mod recovery;
mod sequencer;
pub(crate) mod signing;
mod source;

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock, mpsc};
use std::thread::JoinHandle;

use crate::merkle::{Hash, leaf_hash};
use crate::note::NoteSigner;
use crate::store::Store;
use crate::tiles::{
    MAX_ENTRY_LEN, TILE_WIDTH, encode_bundle, level_count, requested_width, tile_bytes,
};
use crate::{Error, merkle};
use sequencer::{Persister, Request};
use source::{TileCache, TileSource};

/// A verifiable append-only log (RFC 9162 tree, C2SP checkpoints and tiles) over a [`Store`].
///
/// `append` may be called from many threads at once: one sequencer thread gathers whatever is pending,
/// writes it, syncs once (a real fdatasync), signs a checkpoint and only then acknowledges every append in the
/// group. Readers see only durable, checkpointed state. After a storage failure the log refuses appends
/// ([`Error::LogFailed`]) until it is reopened, which recovers the last durable state.
///
/// On a store shared by several writers ([`PgStore`](crate::PgStore)), any number of `Log`s with the same
/// key and origin, in any processes, append to one log: each group commit first takes in what the others
/// committed (see [`Store::commit`]), and [`Log::refresh`] does so without appending. There a failed commit
/// was rolled back, so it fails only its own group and the log goes on (docs/distributed.md).
pub struct Log {
    shared: Arc<Shared>,
    requests: Option<mpsc::Sender<Request>>,
    sequencer: Option<JoinHandle<()>>,
    persister: Option<JoinHandle<()>>,
}

/// State shared by the handle, the sequencer and the checkpoint persister.
pub(crate) struct Shared {
    store: Box<dyn Store>,
    /// The latest durable, signed state.
    snapshot: RwLock<Arc<Snapshot>>,
    cache: TileCache,
    failed: AtomicBool,
    persister: Persister,
}

/// One durable state of the tree: its size, the right edge of every tile level, and its signed checkpoint.
pub(crate) struct Snapshot {
    size: u64,
    /// Per tile level, the hashes of its rightmost partial tile (fewer than 256; maybe none).
    edge: Vec<Vec<Hash>>,
    /// The root hash the checkpoint signs.
    root: Hash,
    checkpoint: Vec<u8>,
}

impl Shared {
    fn snapshot(&self) -> Arc<Snapshot> {
        // Snapshots are replaced whole, so a poisoned lock still holds a complete one.
        Arc::clone(&self.snapshot.read().unwrap_or_else(|p| p.into_inner()))
    }

    fn publish(&self, snapshot: Snapshot) {
        *self.snapshot.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(snapshot);
    }

    fn source<'a>(&'a self, snapshot: &'a Snapshot) -> TileSource<'a> {
        TileSource::new(self.store.as_ref(), &self.cache, snapshot)
    }
}

impl Log {
    /// Open the log kept in `store`, signing checkpoints with `signer` under `origin`.
    ///
    /// Recovers the last durable state: verifies the stored checkpoint's signature and root against the
    /// stored tree, discards a torn tail, re-derives tile hashes the crash lost, and signs a checkpoint over
    /// every durable entry before returning.
    pub fn open(
        store: impl Store + 'static,
        signer: NoteSigner,
        origin: &str,
    ) -> Result<Log, Error> {
        let store: Box<dyn Store> = Box::new(store);
        let cache = TileCache::default();
        let snapshot = recovery::recover(store.as_ref(), &cache, &signer, origin)?;
        let sequencer = sequencer::Sequencer::new(&snapshot, signer, origin);
        let shared = Arc::new(Shared {
            store,
            snapshot: RwLock::new(Arc::new(snapshot)),
            cache,
            failed: AtomicBool::new(false),
            persister: Persister::default(),
        });
        let (requests, incoming) = mpsc::channel();
        let seq_shared = Arc::clone(&shared);
        let spawn = |name: &str| std::thread::Builder::new().name(name.to_string());
        let sequencer = spawn("ledger-sequencer")
            .spawn(move || sequencer.run(&seq_shared, &incoming))
            .map_err(|source| Error::Io {
                op: "spawn sequencer",
                source,
            })?;
        let persist_shared = Arc::clone(&shared);
        let persister = spawn("ledger-checkpoint")
            .spawn(move || sequencer::persist_loop(&persist_shared))
            .map_err(|source| Error::Io {
                op: "spawn checkpoint writer",
                source,
            })?;
        Ok(Log {
            shared,
            requests: Some(requests),
            sequencer: Some(sequencer),
            persister: Some(persister),
        })
    }

    /// Append one entry; returns its index once it is durable and covered by a signed checkpoint.
    pub fn append(&self, entry: Vec<u8>) -> Result<u64, Error> {
        self.append_batch(vec![entry]).map(|r| r.start)
    }

    /// Append entries as consecutive indices; returns their range once all are durable and checkpointed.
    pub fn append_batch(&self, entries: Vec<Vec<u8>>) -> Result<Range<u64>, Error> {
        self.enqueue(entries)?.wait()
    }

    /// Queue entries to be appended as consecutive indices, and return without waiting; [`Appending::wait`]
    /// gives their range once they are durable and checkpointed. Entries queued by a later call get later
    /// indices, and none of them becomes durable unless these do (a failed commit stops the log), so a
    /// caller may release whatever orders its appends once they are queued, before they are durable.
    pub fn enqueue(&self, entries: Vec<Vec<u8>>) -> Result<Appending, Error> {
        if entries.iter().any(|e| e.len() > MAX_ENTRY_LEN) {
            return Err(Error::EntryTooLarge("log entry over 65535 bytes"));
        }
        if entries.is_empty() {
            let size = self.size();
            return Ok(Appending(Queued::Done(size..size)));
        }
        if self.shared.failed.load(Ordering::Acquire) {
            return Err(Error::LogFailed);
        }
        let n =
            u64::try_from(entries.len()).map_err(|_| Error::EntryTooLarge("batch too large"))?;
        // Hash on the caller's thread so the sequencer's critical path is only write + sync + sign.
        let entries = entries.into_iter().map(|e| {
            let leaf = leaf_hash(&e);
            (e, leaf)
        });
        let (reply, answer) = mpsc::sync_channel(1);
        let sender = self.requests.as_ref().ok_or(Error::LogFailed)?;
        sender
            .send(Request {
                entries: entries.collect(),
                reply,
            })
            .map_err(|_| Error::LogFailed)?;
        Ok(Appending(Queued::Waiting { answer, n }))
    }

    /// Take in the entries other writers of a shared store (e.g. [`PgStore`](crate::PgStore)) committed since
    /// this log last looked, without appending: sign a checkpoint over the committed size and root, publish
    /// it as this log's state, and return the new size. For a single-writer store this is [`Log::size`].
    ///
    /// Runs on the sequencer thread, so it is ordered with this log's own commits; an append that returned
    /// before the call is covered by the size it returns.
    pub fn refresh(&self) -> Result<u64, Error> {
        if self.shared.failed.load(Ordering::Acquire) {
            return Err(Error::LogFailed);
        }
        let (reply, answer) = mpsc::sync_channel(1);
        let sender = self.requests.as_ref().ok_or(Error::LogFailed)?;
        sender
            .send(Request {
                entries: Vec::new(),
                reply,
            })
            .map_err(|_| Error::LogFailed)?;
        answer.recv().map_err(|_| Error::LogFailed)?
    }

    /// The number of durable entries: the size of the latest signed checkpoint.
    pub fn size(&self) -> u64 {
        self.shared.snapshot().size
    }

    /// The latest signed checkpoint (a C2SP signed note), over durable entries only.
    pub fn checkpoint(&self) -> Vec<u8> {
        self.shared.snapshot().checkpoint.clone()
    }

    /// The root hash of the tree of the first `size` entries (`size` at most [`Log::size`]).
    pub fn root(&self, size: u64) -> Result<Hash, Error> {
        let snap = self.shared.snapshot();
        check_size(size, &snap)?;
        merkle::tree_root(size, &self.shared.source(&snap))
    }

    /// Entry `index`, checked against its leaf hash before it is returned.
    pub fn entry(&self, index: u64) -> Result<Vec<u8>, Error> {
        let snap = self.shared.snapshot();
        if index >= snap.size {
            return Err(Error::BeyondLog {
                what: "entry",
                requested: index,
                size: snap.size,
            });
        }
        let entry = self
            .shared
            .store
            .read_entries(index, 1)?
            .pop()
            .ok_or(Error::Corrupted("entry lost".into()))?;
        if leaf_hash(&entry) != self.shared.source(&snap).hash(0, index)? {
            return Err(Error::Corrupted(format!(
                "entry {index} does not match its leaf hash"
            )));
        }
        Ok(entry)
    }

    /// Entries `range` (all below [`Log::size`]), read in one store call and each checked against its leaf hash
    /// before they are returned: what replays the log in order, where one call per entry would cost one
    /// database round trip each.
    pub fn entries(&self, range: Range<u64>) -> Result<Vec<Vec<u8>>, Error> {
        let snap = self.shared.snapshot();
        if range.end > snap.size {
            return Err(Error::BeyondLog {
                what: "entries",
                requested: range.end,
                size: snap.size,
            });
        }
        let count = range.end.saturating_sub(range.start);
        let entries = self.shared.store.read_entries(range.start, count)?;
        let source = self.shared.source(&snap);
        for (index, entry) in range.zip(&entries) {
            if leaf_hash(entry) != source.hash(0, index)? {
                return Err(Error::Corrupted(format!(
                    "entry {index} does not match its leaf hash"
                )));
            }
        }
        Ok(entries)
    }

    /// The inclusion proof of entry `index` in the tree of `size` entries (RFC 9162 §2.1.3.1).
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, Error> {
        let snap = self.shared.snapshot();
        check_size(size, &snap)?;
        merkle::inclusion_proof(index, size, &self.shared.source(&snap))
    }

    /// The consistency proof from tree size `old` to `new` (RFC 9162 §2.1.4.1).
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, Error> {
        let snap = self.shared.snapshot();
        check_size(new, &snap)?;
        merkle::consistency_proof(old, new, &self.shared.source(&snap))
    }

    /// Tile `level/index` (C2SP tlog-tiles), full or `.p/<width>`, as served bytes; verified up to the
    /// checkpoint before it is returned.
    pub fn read_tile(
        &self,
        level: u8,
        index: u64,
        partial_width: Option<u8>,
    ) -> Result<Vec<u8>, Error> {
        let snap = self.shared.snapshot();
        let width = requested_width(partial_width)?;
        let count = level_count(snap.size, level);
        if index.saturating_mul(TILE_WIDTH).saturating_add(width) > count {
            return Err(Error::BeyondLog {
                what: "tile",
                requested: index,
                size: snap.size,
            });
        }
        Ok(tile_bytes(
            &self.shared.source(&snap).tile_hashes(level, index, width)?,
        ))
    }

    /// Entry bundle `index` (C2SP tlog-tiles), full or `.p/<width>`; every entry is checked against its leaf
    /// hash before the bundle is returned.
    pub fn read_entry_bundle(
        &self,
        index: u64,
        partial_width: Option<u8>,
    ) -> Result<Vec<u8>, Error> {
        let snap = self.shared.snapshot();
        let width = requested_width(partial_width)?;
        let start = index.saturating_mul(TILE_WIDTH);
        if start.saturating_add(width) > snap.size {
            return Err(Error::BeyondLog {
                what: "entry bundle",
                requested: index,
                size: snap.size,
            });
        }
        let entries = self.shared.store.read_entries(start, width)?;
        let leaves = self.shared.source(&snap).tile_hashes(0, index, width)?;
        for ((entry, leaf), i) in entries.iter().zip(&leaves).zip(start..) {
            if leaf_hash(entry) != *leaf {
                return Err(Error::Corrupted(format!(
                    "entry {i} does not match its leaf hash"
                )));
            }
        }
        encode_bundle(&entries)
    }

    /// Recompute everything from the stored entries: every leaf hash, every tile level, and the checkpoint's
    /// root. Reports the first mismatch as [`Error::Corrupted`].
    pub fn check_integrity(&self) -> Result<(), Error> {
        let snap = self.shared.snapshot();
        integrity::check(self.shared.store.as_ref(), &snap)
    }

    /// Stop the writer, wait for in-flight appends, and persist the latest checkpoint.
    pub fn close(mut self) -> Result<(), Error> {
        self.shutdown()
    }

    fn shutdown(&mut self) -> Result<(), Error> {
        self.requests = None;
        if let Some(handle) = self.sequencer.take() {
            let _ = handle.join();
        }
        self.shared.persister.stop();
        if let Some(handle) = self.persister.take() {
            let _ = handle.join();
        }
        if self.shared.failed.load(Ordering::Acquire) {
            Err(Error::LogFailed)
        } else {
            Ok(())
        }
    }
}

/// Entries queued by [`Log::enqueue`].
pub struct Appending(Queued);

enum Queued {
    Waiting {
        answer: mpsc::Receiver<Result<u64, Error>>,
        n: u64,
    },
    Done(Range<u64>),
}

impl Appending {
    /// Waits until the entries are durable and checkpointed; returns their indices.
    pub fn wait(self) -> Result<Range<u64>, Error> {
        match self.0 {
            Queued::Waiting { answer, n } => {
                let first = answer.recv().map_err(|_| Error::LogFailed)??;
                Ok(first..first + n)
            }
            Queued::Done(range) => Ok(range),
        }
    }
}

impl Drop for Log {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}

fn check_size(size: u64, snap: &Snapshot) -> Result<(), Error> {
    if size > snap.size {
        return Err(Error::BeyondLog {
            what: "tree size",
            requested: size,
            size: snap.size,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests;
