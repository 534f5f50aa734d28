//! The storage contract of the log ([`Store`]) and its backends: files on disk, memory with faults, and
//! PostgreSQL shared by several writers.

mod fs;
mod journal;
mod memory;
mod pg;

pub use fs::{FsStore, Rebuilt};
pub use memory::{Fault, MemoryStore};
pub use pg::PgStore;

use crate::Error;
use crate::merkle::Hash;
use crate::tiles::{TILE_WIDTH, encode_bundle, requested_width, tile_bytes};

/// One group commit's writes: new entries with their leaf hashes, and the tile hashes they complete.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    /// The index of the first entry in `entries` (the store's entry count before this batch).
    pub first: u64,
    /// The new entries, in index order, each with its leaf hash (RFC 9162 §2.1.1, over the exact bytes).
    pub entries: Vec<(Vec<u8>, Hash)>,
    /// New hashes at tile levels 1 and up: `(level, index of the first hash, hashes)`, each run continuing its
    /// level exactly where the store's count for that level ends. Level 0 is `entries`' leaf hashes.
    pub tiles: Vec<(u8, u64, Vec<Hash>)>,
}

/// What other writers committed since a writer last looked (see [`Store::commit`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tail {
    /// The store's committed size: the number of entries every writer has committed.
    pub size: u64,
    /// The leaf hashes of the entries from the size the writer knew (`known`) up to `size`, in index order.
    pub leaves: Vec<Hash>,
}

/// Where a log keeps its entries, tile hashes (C2SP tlog-tiles) and latest signed checkpoint.
///
/// The log writes through exactly this interface, so this contract is what its durability rests on.
///
/// **Durability.** When [`sync`](Store::sync) returns `Ok`, every entry (with its leaf hash) passed to
/// [`append`](Store::append) before the call survives a process crash and a power loss. Tile hashes at levels
/// 1 and up, and the level-0 hash array used to serve tiles, are durable once a
/// [`write_checkpoint`](Store::write_checkpoint) whose `size` covers them has returned `Ok`; after a crash the
/// store may have lost or torn hashes beyond that checkpoint, and [`recover`](Store::recover) drops them so the
/// log re-derives them from the (durable) entries. A failed `sync` or `write_checkpoint` leaves the state
/// unknown: the caller must stop writing and reopen (after a failed fsync, Linux may already have dropped the
/// dirty pages).
///
/// **Atomicity.** `write_checkpoint` replaces the checkpoint atomically: a reader, or a restart after a crash,
/// sees the old or the new note, never a mix. `append` is not atomic: a crash can leave any prefix of an
/// un-synced batch, plus a torn tail that [`recover`](Store::recover) detects (an entry whose bytes do not hash
/// to its stored leaf hash) and discards.
///
/// **Concurrency.** One writer: `recover`, then `append`/`sync` from one thread at a time, and
/// `write_checkpoint` from at most one thread at a time (it may run alongside `append`/`sync`). Reads may be
/// called from any number of threads at once, alongside the writer, for data already appended; what has been
/// appended never changes afterwards, so a read never observes a half-written record below that point.
///
/// **Several writers.** The log writes each group commit through [`commit`](Store::commit) and learns of
/// other writers' entries through [`tail`](Store::tail). A single-writer store (files, memory) keeps the
/// defaults, which append and sync and report no foreign entries. A store shared by several writers (each a
/// `Log` in its own process, all with the same key and origin), such as [`PgStore`], overrides them: `commit`
/// runs as one atomic, durable transaction serialized against every other writer's, the batch it writes
/// starts at the committed size it reports in the [`Tail`], and `write_checkpoint` only ever moves the stored
/// checkpoint forward (a compare-and-swap on its size; an equal size must carry identical bytes, else
/// [`Error::CheckpointConflict`]). Such a store says so with
/// [`rolls_back_failed_commits`](Store::rolls_back_failed_commits).
pub trait Store: Send + Sync {
    /// Bring the store to a consistent state after opening; returns the number of entries it holds.
    ///
    /// `trusted` is the size of the stored checkpoint, after the log verified its signature: the store keeps
    /// everything at or below it, discards hashes above it, and keeps entries above it only up to the first
    /// torn or invalid one. Fails with [`Error::Corrupted`] if fewer than `trusted` entries are present.
    fn recover(&self, trusted: u64) -> Result<u64, Error>;

    /// Write a batch after the current end. Not durable until [`sync`](Store::sync).
    fn append(&self, batch: &Batch) -> Result<(), Error>;

    /// Make every appended entry durable (a real fdatasync, not a page-cache flush).
    fn sync(&self) -> Result<(), Error>;

    /// Make all hashes covering the first `size` entries durable, then atomically and durably replace the
    /// stored checkpoint with `note`.
    fn write_checkpoint(&self, size: u64, note: &[u8]) -> Result<(), Error>;

    /// The stored checkpoint note, if one was ever written.
    fn read_checkpoint(&self) -> Result<Option<Vec<u8>>, Error>;

    /// `count` hashes of tile level `level` starting at `start` (all must be present).
    fn read_hashes(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, Error>;

    /// `count` entries starting at index `start` (all must be present).
    fn read_entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, Error>;

    /// The stored bytes of tile `level/index` (C2SP tlog-tiles), full or `.p/<width>`, unverified.
    fn read_tile(
        &self,
        level: u8,
        index: u64,
        partial_width: Option<u8>,
    ) -> Result<Vec<u8>, Error> {
        let width = requested_width(partial_width)?;
        Ok(tile_bytes(&self.read_hashes(
            level,
            index.saturating_mul(TILE_WIDTH),
            width,
        )?))
    }

    /// The stored entry bundle `index` (C2SP tlog-tiles), full or `.p/<width>`, unverified.
    fn read_entry_bundle(&self, index: u64, partial_width: Option<u8>) -> Result<Vec<u8>, Error> {
        let width = requested_width(partial_width)?;
        encode_bundle(&self.read_entries(index.saturating_mul(TILE_WIDTH), width)?)
    }

    /// The stored checkpoint note, if any (the C2SP `checkpoint` resource).
    fn checkpoint(&self) -> Result<Option<Vec<u8>>, Error> {
        self.read_checkpoint()
    }

    /// Commit one group: learn the committed size and the other writers' entries since `known` (the size this
    /// writer last saw), let `build` make the batch that follows them (its `first` must be the tail's `size`),
    /// and write it durably. `build` is called at most once; when `commit` returns `Ok` the batch is durable
    /// and no other writer's batch can take its indexes.
    ///
    /// The default, for single-writer stores: no foreign entries, then [`append`](Store::append) and
    /// [`sync`](Store::sync).
    fn commit(
        &self,
        known: u64,
        build: &mut dyn FnMut(Tail) -> Result<Batch, Error>,
    ) -> Result<(), Error> {
        let batch = build(Tail {
            size: known,
            leaves: Vec::new(),
        })?;
        self.append(&batch)?;
        self.sync()
    }

    /// The committed size and the leaf hashes of the entries other writers committed from `known` on, without
    /// locking anything or writing. The default, for single-writer stores, reports nothing new.
    fn tail(&self, known: u64) -> Result<Tail, Error> {
        Ok(Tail {
            size: known,
            leaves: Vec::new(),
        })
    }

    /// Whether a failed [`commit`](Store::commit) or [`write_checkpoint`](Store::write_checkpoint) left the
    /// store as it was (a rolled-back transaction), so that the writer may go on with its next commit, which
    /// re-reads the committed size first. `false` (the default): the state is unknown after a failure (a
    /// failed fsync), and the log stops until it is reopened.
    fn rolls_back_failed_commits(&self) -> bool {
        false
    }

    /// Check redundancy private to the backend (e.g. copies of leaf hashes); the log's own integrity check
    /// calls it. The default has nothing extra to check.
    fn check_internal(&self) -> Result<(), Error> {
        Ok(())
    }
}
