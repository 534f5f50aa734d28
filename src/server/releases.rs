//! Access receipts of concurrent opens, one log entry per group: the releases that arrive while the previous
//! group is being committed are signed together as one entry of kind `0x09` (docs/formats.md, "Access
//! receipts"), so an open costs a share of one Ed25519 signature by the log key instead of a whole one
//! (19 % of an open's instructions; docs/performance.md, "Issue 12, step 4").
//!
//! There is no thread of its own, and one group at a time is in flight. An open that finds no group in
//! flight queues its release at once, alone, and sees that group through. Whoever sees a group through waits
//! until its entry is durable, then first takes every release that arrived meanwhile (up to
//! [`MAX_RELEASES`]), signs them as the next group's entry, queues it on the log and hands that group to its
//! first opener; only then does it apply its own group's entry to the registry and answer its openers. So the
//! log's next commit starts as soon as the previous one is durable: the registry's write, the answers and the
//! hand-off to another thread happen while it runs, not between two commits, where they left the journal's
//! `fdatasync` idle more than half the time (docs/performance.md, "Issue 12, step 9"). Signing the next
//! group only once the previous one is durable keeps the groups as large as one commit's worth of arrivals.
//!
//! Each opener is woken once: told to see its group through (then its release is queued), or answered. The
//! one who sees a group through leaves its certificate's critical section as soon as the entry is queued;
//! the others leave theirs when they are answered (docs/performance.md, "Issue 12, step 6").
//!
//! Nothing here is held by an unauthenticated client: a release is added only after its opener's signature,
//! grant and Cedar decision were checked, and each waits on the blocking thread of its own request.

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use ledger::{Appending, Entry, MAX_RELEASES, PartyId, Release, SignedEntry};

use super::error::ApiError;
use super::state::{AppState, LOG_PARTY, now_ms};

/// The releases waiting for a group, and whether a group is in flight.
#[derive(Default)]
pub(super) struct Releases {
    waiting: Mutex<Waiting>,
}

#[derive(Default)]
struct Waiting {
    /// In arrival order. Empty whenever `in_flight` is false: whoever ends a group takes these next.
    queue: Vec<Pending>,
    /// Whether a group is in flight (from being taken from `queue` until its entry is durable and the next
    /// group is taken, or none was waiting).
    in_flight: bool,
    /// Numbers the releases, so an opener knows its own in a group.
    next_ticket: u64,
}

struct Pending {
    ticket: u64,
    release: Release,
    tell: Sender<News>,
}

/// A group whose entry is queued on the log.
struct Group {
    members: Vec<Pending>,
    receipt: SignedEntry,
    appending: Appending,
    taken: Instant,
}

/// Where an access receipt is, and when its group was taken from the queue and found durable (for the open's
/// timing event).
#[derive(Clone, Copy)]
pub(super) struct Logged {
    /// The index of the entry that lists the release.
    pub(super) index: u64,
    /// When its group was taken from the queue, to be signed and queued on the log.
    pub(super) taken: Instant,
    /// When the entry was durable (before it was applied to the registry).
    pub(super) durable: Instant,
}

/// What a waiting opener is told.
enum News {
    /// Its release is in this group, already queued on the log: see it through.
    SeeThrough(Box<Group>),
    /// Take the waiting releases as the next group (the one in flight ended without doing so: its opener's
    /// thread panicked).
    Take,
    /// The group's entry is durable and applied, or the append failed.
    Done(Result<Logged, ApiError>),
}

impl Releases {
    /// [`Releases::log_timed`], for the tests: the index alone.
    #[cfg(test)]
    pub(super) fn log(
        &self,
        state: &AppState,
        release: Release,
        on_queued: impl FnOnce(),
    ) -> Result<u64, ApiError> {
        self.log_timed(state, release, on_queued).map(|l| l.index)
    }

    /// Logs `release` in the entry of the next group; `on_queued` runs, on this thread, once that entry is
    /// queued on the log (at once for the opener who sees the group through; for the others when the entry is
    /// durable, so that they are woken only once). Returns where the entry is once it is durable and applied
    /// to the registry. Blocking: call from the blocking pool.
    pub(super) fn log_timed(
        &self,
        state: &AppState,
        release: Release,
        on_queued: impl FnOnce(),
    ) -> Result<Logged, ApiError> {
        let (tell, news) = mpsc::channel();
        let (ticket, take) = {
            let mut waiting = self.lock();
            let ticket = waiting.next_ticket;
            waiting.next_ticket = ticket.wrapping_add(1);
            waiting.queue.push(Pending {
                ticket,
                release,
                tell,
            });
            (ticket, !std::mem::replace(&mut waiting.in_flight, true))
        };
        if take {
            // No group in flight: this release is the first waiting, so the group taken now holds it and its
            // news comes back on `news`.
            self.take_next(state);
        }
        loop {
            match Self::next(&news)? {
                News::SeeThrough(group) => {
                    on_queued();
                    return self.see_through(state, group, ticket);
                }
                News::Done(result) => {
                    // Queued long since: the entry is durable.
                    on_queued();
                    return result;
                }
                News::Take => self.take_next(state),
            }
        }
    }

    fn next(news: &Receiver<News>) -> Result<News, ApiError> {
        // Only an opener whose thread panicked drops the sender of a release it took.
        news.recv().map_err(|_| ApiError::internal())
    }

    /// Waits until `group`'s entry is durable, queues the next group, then applies the entry and answers the
    /// group's other openers; returns the outcome for `ticket` (which is in the group).
    fn see_through(
        &self,
        state: &AppState,
        group: Box<Group>,
        ticket: u64,
    ) -> Result<Logged, ApiError> {
        let Group {
            members,
            receipt,
            appending,
            taken,
        } = *group;
        let durable = AppState::durable(appending);
        let durable_at = Instant::now();
        // Before this group's registry write and answers, so that the log's next commit need not wait for them.
        self.take_next(state);
        let result = durable.and_then(|index| {
            state.apply_own(index, &[&receipt])?;
            Ok(Logged {
                index,
                taken,
                durable: durable_at,
            })
        });
        for pending in members.iter().filter(|p| p.ticket != ticket) {
            let _ = pending.tell.send(News::Done(result.clone()));
        }
        result
    }

    /// Takes the waiting releases (up to [`MAX_RELEASES`]) as the next group, signs and queues its entry and
    /// tells its first opener to see it through; or, if none are waiting, ends the flight.
    fn take_next(&self, state: &AppState) {
        let ending = Ending(self);
        loop {
            let members: Vec<Pending> = {
                let mut waiting = self.lock();
                if waiting.queue.is_empty() {
                    waiting.in_flight = false;
                    ending.disarm();
                    return;
                }
                let n = waiting.queue.len().min(MAX_RELEASES);
                waiting.queue.drain(..n).collect()
            };
            let taken = Instant::now();
            let group = match Self::queue(state, &members) {
                Ok((receipt, appending)) => Box::new(Group {
                    members,
                    receipt,
                    appending,
                    taken,
                }),
                Err(err) => {
                    for pending in &members {
                        let _ = pending.tell.send(News::Done(Err(err.clone())));
                    }
                    continue;
                }
            };
            let first = group.members.first().map(|p| p.tell.clone());
            if let Some(tell) = first
                && tell.send(News::SeeThrough(group)).is_ok()
            {
                ending.disarm();
                return;
            }
            // Its first opener is gone (only a panic on its thread drops its receiver): the group went with the
            // news, and its other openers learn of a failure as its senders drop. The entry is committed all
            // the same, and the registry applies it with the next entry it applies. Take the next group.
        }
    }

    /// Signs the group's releases as one access receipt and queues it on the log.
    fn queue(state: &AppState, group: &[Pending]) -> Result<(SignedEntry, Appending), ApiError> {
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
        Ok((receipt, appending))
    }

    fn lock(&self) -> MutexGuard<'_, Waiting> {
        // The queue stays consistent at every unlock, so a panic elsewhere does not make it unusable.
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Keeps the releases moving if the thread taking the next group panics (signing or queueing it): the first
/// release waiting is told to take the next group, or the flight ends.
struct Ending<'a>(&'a Releases);

impl Ending<'_> {
    /// The next group was taken, or is the caller's to take: nothing to do on drop.
    fn disarm(self) {
        std::mem::forget(self);
    }
}

impl Drop for Ending<'_> {
    fn drop(&mut self) {
        let mut waiting = self.0.lock();
        while let Some(first) = waiting.queue.first() {
            if first.tell.send(News::Take).is_ok() {
                return;
            }
            // Its opener is gone (its thread panicked): nobody waits for that release.
            waiting.queue.remove(0);
        }
        waiting.in_flight = false;
    }
}

#[cfg(test)]
mod tests;
