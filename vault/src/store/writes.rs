//! A commit's index changes, written to sled one key at a time in the order they were queued, the
//! checkpoint last.
//!
//! Why not one sled `apply_batch` per commit, as before: every batch writes out sled's I/O buffer
//! twice (`PageCache::pin_log` rolls it before and after the batch's manifest), each write-out is a
//! task for sled's I/O pool that wakes all of its idle threads, and the first batch in a process
//! turns on sled's process-wide concurrency-control lock, which every later sled read and write in
//! the process then takes (docs/performance.md, issue 12 step 8). Single writes only fill the I/O
//! buffer; it is written out when full or at a checkpoint's flush.
//!
//! Why single writes are as safe: sled 0.34 recovers a prefix of its log in write order (its log
//! iterator reads in LSN order and stops at the first torn message; a segment whose predecessor was
//! lost is dropped). One thread writes a commit's changes, and commits apply in commit order, so:
//!
//! - a recovered checkpoint brings every change written before it, this commit's and all earlier
//!   commits': every record before the checkpoint has its index entry;
//! - changes after the last recovered checkpoint may be there or not: replay on open indexes every
//!   valid record after the checkpoint that the index lacks, so it completes a commit's puts cut
//!   short by a crash, and skips the entries that made it;
//! - a purge queues its tombstone before dropping its intent, so a recovered drop brings the
//!   tombstone, and an intent without one is finished on open;
//! - grants, revocations and purges are acknowledged only after the flush and `fdatasync` that
//!   follow the checkpoint, as before.

use sled::IVec;

use super::StoreError;
use super::index;

/// Index changes in the order they must reach sled (`None`: remove the key).
#[derive(Default)]
pub(crate) struct IndexWrites(Vec<(IVec, Option<IVec>)>);

impl IndexWrites {
    pub(crate) fn insert(&mut self, key: &[u8], value: impl Into<IVec>) {
        self.0.push((key.into(), Some(value.into())));
    }

    pub(crate) fn remove(&mut self, key: &[u8]) {
        self.0.push((key.into(), None));
    }

    /// Writes every change in order, then the checkpoint `(segment, offset)` if given: every record
    /// before it is in the index once these writes are.
    pub(crate) fn write_to(
        self,
        db: &sled::Db,
        checkpoint: Option<(u32, u64)>,
    ) -> Result<(), StoreError> {
        for (key, value) in self.with_checkpoint(checkpoint) {
            match value {
                Some(value) => db.insert(key, value)?,
                None => db.remove(key)?,
            };
        }
        Ok(())
    }

    /// The same as one sled batch, for the all-in-sled baseline: its ciphertexts live only in sled, so
    /// there is no replay to complete a commit cut short, and a batch put must stay all or nothing.
    pub(crate) fn write_atomically_to(
        self,
        db: &sled::Db,
        checkpoint: Option<(u32, u64)>,
    ) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (key, value) in self.with_checkpoint(checkpoint) {
            match value {
                Some(value) => batch.insert(key, value),
                None => batch.remove(key),
            }
        }
        Ok(db.apply_batch(batch)?)
    }

    /// The changes in order, the checkpoint `(segment, offset)` last if given.
    fn with_checkpoint(mut self, checkpoint: Option<(u32, u64)>) -> Vec<(IVec, Option<IVec>)> {
        if let Some((segment, offset)) = checkpoint {
            let value = index::encode_checkpoint(segment, offset);
            self.insert(&index::checkpoint_key(), &value);
        }
        self.0
    }
}
