//! Group commit: many mutations, one sync. Leader/follower on one mutex and condition variable.
//!
//! A mutation, holding the state lock, queues its index changes into the shared list and takes a
//! ticket. Whoever then finds no commit running becomes the leader: it takes everything queued so
//! far, releases the lock, syncs (segment files first, then the index), and wakes everyone whose
//! ticket it covered. Mutations queued meanwhile ride on the next commit.

use std::collections::{BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

use ledger::CertId;

use super::StoreError;
use super::writes::IndexWrites;

/// Everything one commit must make durable.
pub(crate) struct Taken {
    /// Index changes, written in order after the segments are synced.
    pub(crate) writes: IndexWrites,
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
    /// The last ticket included in a commit that has started.
    last_taken: u64,
    /// Every ticket up to this one is durable.
    durable: u64,
    /// Whether a commit is syncing segments (at most one does at a time).
    syncing: bool,
    /// Commits started and not finished (at most two: one applying, one syncing segments).
    in_flight: u32,
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

impl State {
    /// Whether a new commit may start now: when none runs, or when one is applying and the next
    /// has segments to sync meanwhile. Starting one only to wait behind an index sync would shrink
    /// groups to a few mutations each, so those wait and join the following group.
    fn may_start_commit(&self) -> bool {
        !self.syncing
            && (self.in_flight == 0
                || (self.in_flight == 1 && !self.next.dirty_segments.is_empty()))
    }
}

/// The lock, the condition variables and the leader/follower protocol.
pub(crate) struct Committer {
    state: Mutex<State>,
    /// Signalled when `durable` advances or the store is poisoned.
    durable_cv: Condvar,
    /// Signalled when a new commit may be able to start (`syncing` or `in_flight` went down).
    /// Two variables, so a commit wakes its own followers and the next leader candidates, not
    /// every waiting thread at every step.
    pipeline_cv: Condvar,
}

/// Appended bytes after which a commit also syncs the index, bounding the replay on open.
const CHECKPOINT_BYTES: u64 = 64 * 1024 * 1024;

fn empty_taken() -> Taken {
    Taken {
        writes: IndexWrites::default(),
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
            last_taken: 0,
            durable: 0,
            syncing: false,
            in_flight: 0,
            poisoned: false,
        };
        Self {
            state: Mutex::new(state),
            durable_cv: Condvar::new(),
            pipeline_cv: Condvar::new(),
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
            state = wait(&self.durable_cv, state);
        }
    }

    /// Releases the lock and returns once `ticket` is durable, leading a commit if no one has
    /// taken it yet. A commit runs in two phases: `sync_segments` (records durable), then, after
    /// every earlier commit has finished, `apply` (index entries applied, index synced if asked).
    /// The next commit's segment sync overlaps this one's apply. A failure poisons the store: what
    /// reached the disk is unknown.
    pub(crate) fn wait_durable<'a>(
        &'a self,
        mut state: MutexGuard<'a, State>,
        ticket: u64,
        sync_segments: impl Fn(&Taken) -> Result<(), StoreError>,
        apply: impl Fn(Taken) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        loop {
            if state.durable >= ticket {
                return Ok(());
            }
            if state.poisoned {
                return Err(StoreError::Poisoned);
            }
            if state.last_taken >= ticket {
                state = wait(&self.durable_cv, state);
                continue;
            }
            if !state.may_start_commit() {
                state = wait(&self.pipeline_cv, state);
                continue;
            }
            state.syncing = true;
            state.in_flight += 1;
            let after = state.last_taken;
            let upto = state.last_ticket;
            state.last_taken = upto;
            let mut taken = std::mem::replace(&mut state.next, empty_taken());
            taken.end = (state.active_segment, state.active_len);
            if taken.index_sync || state.since_checkpoint >= CHECKPOINT_BYTES {
                taken.index_sync = true;
                state.since_checkpoint = 0;
            }
            drop(state);
            let synced = catch_unwind(AssertUnwindSafe(|| sync_segments(&taken)));
            state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            state.syncing = false;
            if let Err(e) = self.check(synced, &mut state) {
                return Err(self.fail(state, e));
            }
            self.pipeline_cv.notify_all();
            // Index changes are applied in commit order, so a checkpoint never covers a record
            // whose index entry an earlier, still running commit has not applied yet.
            while state.durable < after && !state.poisoned {
                state = wait(&self.durable_cv, state);
            }
            if state.poisoned {
                return Err(self.fail(state, StoreError::Poisoned));
            }
            drop(state);
            let applied = catch_unwind(AssertUnwindSafe(|| apply(taken)));
            state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(e) = self.check(applied, &mut state) {
                return Err(self.fail(state, e));
            }
            state.in_flight -= 1;
            state.durable = upto;
            state.pending.retain(|_, t| *t > upto);
            self.durable_cv.notify_all();
            self.pipeline_cv.notify_all();
        }
    }

    /// The result of a commit phase. A panic in it (a bug, e.g. in sled) must not leave the other
    /// threads waiting forever: the commit fails, the store is poisoned, and the panic goes on.
    fn check(
        &self,
        phase: std::thread::Result<Result<(), StoreError>>,
        state: &mut MutexGuard<'_, State>,
    ) -> Result<(), StoreError> {
        match phase {
            Ok(result) => result,
            Err(panic) => {
                state.in_flight -= 1;
                state.poisoned = true;
                self.durable_cv.notify_all();
                self.pipeline_cv.notify_all();
                std::panic::resume_unwind(panic)
            }
        }
    }

    /// Ends a failed commit: poisons the store and wakes everyone to see it.
    fn fail(&self, mut state: MutexGuard<'_, State>, error: StoreError) -> StoreError {
        state.in_flight -= 1;
        state.poisoned = true;
        self.durable_cv.notify_all();
        self.pipeline_cv.notify_all();
        error
    }
}

fn wait<'a>(cv: &Condvar, state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
    cv.wait(state).unwrap_or_else(PoisonError::into_inner)
}
