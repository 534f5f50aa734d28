//! Group commit: many mutations, one sync. Leader/follower on one mutex and condition variable.
//!
//! A mutation, holding the state lock, queues its index changes into the shared batch and takes a
//! ticket. Whoever then finds no commit running becomes the leader: it takes everything queued so
//! far, releases the lock, syncs (segment files first, then the index), and wakes everyone whose
//! ticket it covered. Mutations queued meanwhile ride on the next commit.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use ledger::CertId;

use super::StoreError;

/// Everything one commit must make durable.
pub(crate) struct Taken {
    /// Index changes, applied atomically by one `apply_batch` after the segments are synced.
    pub(crate) batch: sled::Batch,
    /// Segment files written since the last commit.
    pub(crate) dirty_segments: BTreeSet<u32>,
    /// Whether a segment file was created since the last commit.
    pub(crate) dir_dirty: bool,
    /// Whether this commit must sync the index (a grant, revocation or purge step is queued, or
    /// enough records were appended since the last checkpoint). Puts alone need only the segment
    /// sync: their records are replayed into the index on open.
    pub(crate) index_sync: bool,
    /// The end of the appended records when the commit was taken: the checkpoint, if it syncs.
    pub(crate) end: (u32, u64),
}

/// The writer state shared by all mutations, guarded by [`Committer`]'s mutex.
pub(crate) struct State {
    /// The segment receiving appends, and its length.
    pub(crate) active_segment: u32,
    pub(crate) active_len: u64,
    /// What the next commit must make durable.
    pub(crate) next: Taken,
    /// Certificates with a queued, not yet durable mutation, and that mutation's ticket. Another
    /// mutation of the same certificate waits until it is durable, so each validates against the
    /// index alone.
    pub(crate) pending: HashMap<CertId, u64>,
    /// Record bytes appended since the last checkpoint was queued.
    pub(crate) since_checkpoint: u64,
    /// The last ticket handed out.
    last_ticket: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    committing: bool,
    poisoned: bool,
}

impl State {
    /// Hands out the next ticket and marks `ids` pending under it.
    pub(crate) fn enqueue(&mut self, ids: impl IntoIterator<Item = CertId>) -> u64 {
        self.last_ticket += 1;
        for id in ids {
            self.pending.insert(id, self.last_ticket);
        }
        self.last_ticket
    }
}

/// The lock, the condition variable and the leader/follower protocol.
pub(crate) struct Committer {
    state: Mutex<State>,
    changed: Condvar,
}

/// Appended bytes after which a commit also syncs the index, bounding the replay on open.
const CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;

fn empty_taken() -> Taken {
    Taken {
        batch: sled::Batch::default(),
        dirty_segments: BTreeSet::new(),
        dir_dirty: false,
        index_sync: false,
        end: (0, 0),
    }
}

impl Committer {
    pub(crate) fn new(active_segment: u32, active_len: u64) -> Self {
        let state = State {
            active_segment,
            active_len,
            next: empty_taken(),
            since_checkpoint: 0,
            pending: HashMap::new(),
            last_ticket: 0,
            durable: 0,
            committing: false,
            poisoned: false,
        };
        Self {
            state: Mutex::new(state),
            changed: Condvar::new(),
        }
    }

    /// Locks the state once no mutation of `ids` is pending; refuses if the store is poisoned.
    pub(crate) fn lock_certs(&self, ids: &[CertId]) -> Result<MutexGuard<'_, State>, StoreError> {
        // A panic under the lock leaves at most queued, unacknowledged changes: safe to go on.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            if state.poisoned {
                return Err(StoreError::Poisoned);
            }
            if !ids.iter().any(|id| state.pending.contains_key(id)) {
                return Ok(state);
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Releases the lock and returns once `ticket` is durable, leading a commit with `sync` if none
    /// is running. A failed sync poisons the store: what reached the disk is unknown.
    pub(crate) fn wait_durable<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        ticket: u64,
        sync: impl Fn(Taken) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        loop {
            if state.durable >= ticket {
                return Ok(());
            }
            if state.poisoned {
                return Err(StoreError::Poisoned);
            }
            if state.committing {
                state = self
                    .changed
                    .wait(state)
                    .unwrap_or_else(PoisonError::into_inner);
                continue;
            }
            state.committing = true;
            let upto = state.last_ticket;
            let mut taken = std::mem::replace(&mut state.next, empty_taken());
            taken.end = (state.active_segment, state.active_len);
            if taken.index_sync || state.since_checkpoint >= CHECKPOINT_BYTES {
                taken.index_sync = true;
                state.since_checkpoint = 0;
            }
            drop(state);
            let result = sync(taken);
            state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.committing = false;
            match result {
                Ok(()) => {
                    state.durable = upto;
                    state.pending.retain(|_, t| *t > upto);
                    self.changed.notify_all();
                }
                Err(e) => {
                    state.poisoned = true;
                    self.changed.notify_all();
                    return Err(e);
                }
            }
        }
    }
}
