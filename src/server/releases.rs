//! Access receipts of concurrent opens, one log entry per group: the releases that arrive while the previous
//! group is being committed are signed together as one entry of kind `0x09` (docs/formats.md, "Access
//! receipts"), so an open costs a share of one Ed25519 signature by the log key instead of a whole one
//! (19 % of an open's instructions; docs/performance.md, "Issue 12, step 4").
//!
//! There is no thread of its own: the open that finds no group in flight leads the next one. It takes every
//! release waiting (up to [`MAX_RELEASES`]), signs them as one entry, queues it on the log, waits until the
//! entry is durable and applied, and answers them all with its index. Then it hands the lead to the first
//! release that arrived meanwhile. So a group forms while the previous one is committed, as the log's own
//! group commit does, and an open on an idle server is signed and queued at once, alone.
//!
//! Each opener is woken once, with its answer. The leader leaves its certificate's critical section as soon
//! as the entry is queued; the others leave theirs when they are answered, a group commit later than they
//! could: telling each "queued" first cost every opener a second wake-up of its thread (about one context
//! switch per open; docs/performance.md, "Issue 12, step 6"), and holding the section longer only delays
//! another decision about the same certificate (or its lock stripe) by that commit.
//!
//! Nothing here is held by an unauthenticated client: a release is added only after its opener's signature,
//! grant and Cedar decision were checked, and each waits on the blocking thread of its own request.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ledger::{Entry, MAX_RELEASES, PartyId, Release, SignedEntry};

use super::error::ApiError;
use super::state::{AppState, LOG_PARTY, now_ms};

/// The releases waiting for a group, and whether a group is in flight.
#[derive(Default)]
pub(super) struct Releases {
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    /// In arrival order. Empty whenever `leading` is false: a leader that finishes hands the lead to the first
    /// one here.
    queue: Vec<Pending>,
    /// Whether an opener is leading a group (from taking it until its entry is applied).
    leading: bool,
    /// Numbers the releases, so a leader knows its own in the group it takes.
    next_ticket: u64,
}

struct Pending {
    ticket: u64,
    release: Release,
    tell: Sender<News>,
}

/// What a waiting opener is told.
enum News {
    /// Lead the next group (its release is the first waiting).
    Lead,
    /// The group's entry is durable and applied at this index, or the append failed.
    Done(Result<u64, ApiError>),
}

impl Releases {
    /// Logs `release` in the entry of the next group; `on_queued` runs, on this thread, once that entry is
    /// queued on the log (at once for the group's leader; for the others when the entry is durable, so that
    /// they are woken only once). Returns the entry's index once it is durable and applied to the registry.
    /// Blocking: call from the blocking pool.
    pub(super) fn log(
        &self,
        state: &AppState,
        release: Release,
        on_queued: impl FnOnce(),
    ) -> Result<u64, ApiError> {
        let (tell, news) = mpsc::channel();
        let (ticket, mut lead) = {
            let mut waiting = self.lock();
            let ticket = waiting.next_ticket;
            waiting.next_ticket = ticket.wrapping_add(1);
            waiting.queue.push(Pending {
                ticket,
                release,
                tell,
            });
            (ticket, !std::mem::replace(&mut waiting.leading, true))
        };
        let mut on_queued = Some(on_queued);
        loop {
            if lead && let Some(result) = self.lead(state, ticket, &mut on_queued) {
                return result;
            }
            match Self::next(&news)? {
                News::Lead => lead = true,
                News::Done(result) => {
                    // Queued long since: the entry is durable.
                    if let Some(queued) = on_queued.take() {
                        queued();
                    }
                    return result;
                }
            }
        }
    }

    fn next(news: &Receiver<News>) -> Result<News, ApiError> {
        // Only a leader that panicked drops the sender of a release it took.
        news.recv().map_err(|_| ApiError::internal())
    }

    /// Takes the waiting releases as one group, logs them and tells their openers; returns the outcome for
    /// `ticket` if the group held it.
    fn lead(
        &self,
        state: &AppState,
        ticket: u64,
        on_queued: &mut Option<impl FnOnce()>,
    ) -> Option<Result<u64, ApiError>> {
        let _hand_off = HandOff(self);
        let group: Vec<Pending> = {
            let mut waiting = self.lock();
            let n = waiting.queue.len().min(MAX_RELEASES);
            waiting.queue.drain(..n).collect()
        };
        let mine = group.iter().any(|p| p.ticket == ticket);
        let others = || group.iter().filter(move |p| p.ticket != ticket);
        let result = Self::commit(state, &group, || {
            if mine && let Some(queued) = on_queued.take() {
                queued();
            }
        });
        for pending in others() {
            let _ = pending.tell.send(News::Done(result.clone()));
        }
        mine.then_some(result)
    }

    /// Signs the group's releases as one access receipt, queues it (then runs `queued`), and waits until it is
    /// durable and applied; returns its index.
    fn commit(state: &AppState, group: &[Pending], queued: impl FnOnce()) -> Result<u64, ApiError> {
        let receipt = SignedEntry::sign(
            Entry::AccessReceipts {
                releases: group.iter().map(|p| p.release).collect(),
                time_ms: now_ms(),
            },
            PartyId::new(LOG_PARTY).map_err(|_| ApiError::internal())?,
            state.log_key.signing_key(),
        )
        .map_err(|_| ApiError::internal())?;
        let appending = state.enqueue(&receipt)?;
        queued();
        state.applied(appending, &receipt)
    }

    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // The queue stays consistent at every unlock, so a panic elsewhere does not make it unusable.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Ends a group, even one whose leader panicked: the lead passes to the first release waiting, or lapses.
struct HandOff<'a>(&'a Releases);

impl Drop for HandOff<'_> {
    fn drop(&mut self) {
        let mut waiting = self.0.lock();
        while let Some(first) = waiting.queue.first() {
            if first.tell.send(News::Lead).is_ok() {
                return;
            }
            // Its opener is gone (its thread panicked): nobody waits for that release.
            waiting.queue.remove(0);
        }
        waiting.leading = false;
    }
}

#[cfg(test)]
mod tests;
