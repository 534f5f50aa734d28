//! The registry follows the log: entries are applied strictly in index order, each exactly once, whether this
//! frontend appended them or (over PostgreSQL, `serve --postgres`) another frontend did.
//!
//! A frontend's own append comes back with its index, but with other writers that index is not necessarily the
//! next one the registry needs: [`AppState::apply_own`] applies everything before it first (read back from the
//! log) and its own entries from memory. [`AppState::catch_up`] takes in what other frontends committed
//! (`ledger::Log::refresh`) and applies it; it runs after a cross-frontend critical section is taken and before
//! the state the decision depends on is read, before refusing a request over an unknown party or certificate,
//! and in the background ([`run`]). With the embedded store there is one writer, so the registry is never
//! behind its own appends and nothing here changes what a request sees.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledger::SignedEntry;

use super::error::ApiError;
use super::locks::Held;
use super::registry::Registry;
use super::state::AppState;

/// Most entries read from the log into memory per step of a catch-up.
const CHUNK: u64 = 4096;

/// When the latest successful catch-up after a miss began, shared by the requests that missed in the registry
/// so that many misses at once cost one refresh, not one each.
pub(super) struct Follow {
    last_refresh: Mutex<Instant>,
}

impl Default for Follow {
    fn default() -> Self {
        Follow {
            last_refresh: Mutex::new(Instant::now()),
        }
    }
}

impl AppState {
    /// Takes the critical section of every decision about `cert_id` (in every frontend, with a shared log),
    /// then catches the registry up: the decision reads state no other frontend changes until it is dropped.
    pub(super) fn decide_on(&self, cert_id: &ledger::CertId) -> Result<Held<'_>, ApiError> {
        let held = self.locks.certificate(cert_id)?;
        self.catch_up_if_shared()?;
        Ok(held)
    }

    /// [`AppState::decide_on`] for enrollments and rotations.
    pub(super) fn decide_on_parties(&self) -> Result<Held<'_>, ApiError> {
        let held = self.locks.parties()?;
        self.catch_up_if_shared()?;
        Ok(held)
    }

    /// Whether other frontends write to the same log (the log is in PostgreSQL).
    pub(super) fn shared_log(&self) -> bool {
        self.config.postgres.is_some()
    }

    /// Takes in what other frontends committed to the log and applies it to the registry; returns the log
    /// size. Blocking: call from the blocking pool.
    pub(super) fn catch_up(&self) -> Result<u64, ApiError> {
        let size = self.refreshed_size()?;
        self.apply_range(size, 0, &[])?;
        if let Some(last) = size.checked_sub(1) {
            self.checkpoints.appended(last);
        }
        Ok(size)
    }

    /// [`AppState::catch_up`] with a shared log; nothing with the embedded store (one writer: the registry
    /// already holds every entry this frontend acknowledged).
    pub(super) fn catch_up_if_shared(&self) -> Result<(), ApiError> {
        if self.shared_log() {
            self.catch_up()?;
        }
        Ok(())
    }

    /// After a registry miss at `missed` (an unknown party or certificate): catches up, unless a catch-up
    /// began after the miss already (it covers everything committed before the miss). Returns whether the
    /// registry may have changed, so the caller looks again before refusing.
    pub(super) fn catch_up_after_miss(&self, missed: Instant) -> Result<bool, ApiError> {
        if !self.shared_log() {
            return Ok(false);
        }
        // Held through the catch-up: whoever finds `last` recent finds that catch-up finished, too. `last` moves
        // only when a catch-up succeeded: after a failed one (the database unreachable), a request waiting here
        // must try again and fail with 503 itself, not look again at a stale registry and answer 404.
        let mut last = self
            .follow
            .last_refresh
            .lock()
            .map_err(|_| ApiError::internal())?;
        if *last <= missed {
            let started = Instant::now();
            self.catch_up()?;
            *last = started;
        }
        Ok(true)
    }

    /// Looks `find` up in the registry; on a miss with a shared log, catches up and looks again, so that a
    /// party or certificate another frontend just acknowledged is found here too. Blocking.
    pub(super) fn look_up<T>(
        &self,
        find: impl Fn(&Registry) -> Result<Option<T>, ApiError>,
    ) -> Result<Option<T>, ApiError> {
        let missed = Instant::now();
        if let Some(found) = find(&self.registry)? {
            return Ok(Some(found));
        }
        if !self.catch_up_after_miss(missed)? {
            return Ok(None);
        }
        find(&self.registry)
    }

    /// Applies this frontend's own entries, durable at `first..first + own.len()`, and every entry before
    /// them that the registry does not hold yet. Blocking.
    pub(super) fn apply_own(&self, first: u64, own: &[&SignedEntry]) -> Result<(), ApiError> {
        let len = u64::try_from(own.len()).map_err(|_| ApiError::internal())?;
        let end = first.checked_add(len).ok_or_else(ApiError::internal)?;
        self.apply_range(end, first, own)?;
        if let Some(last) = end.checked_sub(1) {
            self.checkpoints.appended(last);
        }
        Ok(())
    }

    /// Applies log entries up to `end` in index order; those at `own_first..` come from `own`, the others are
    /// read back from the log.
    pub(super) fn apply_range(
        &self,
        end: u64,
        own_first: u64,
        own: &[&SignedEntry],
    ) -> Result<(), ApiError> {
        loop {
            let from = self.registry.applied();
            if from >= end {
                return Ok(());
            }
            let to = end.min(from.saturating_add(CHUNK));
            let mine = |index: u64| {
                index
                    .checked_sub(own_first)
                    .and_then(|i| usize::try_from(i).ok())
                    .and_then(|i| own.get(i))
            };
            // Read outside the registry's lock (other threads keep applying and reading meanwhile), in one
            // query for the chunk unless every entry in it is this frontend's own.
            let stored = if (from..to).all(|index| mine(index).is_some()) {
                Vec::new()
            } else {
                self.read_entries(from..to)?
            };
            let stored_count = u64::try_from(stored.len()).unwrap_or(u64::MAX);
            let mut stored = stored.into_iter();
            let mut entries = Vec::new();
            for index in from..to {
                // `stored` holds every entry of the chunk, or none if all are this frontend's own.
                entries.push(match (mine(index), stored.next()) {
                    (Some(entry), _) => std::borrow::Cow::Borrowed(*entry),
                    (None, Some(bytes)) => std::borrow::Cow::Owned(decode(index, &bytes)?),
                    (None, None) => return Err(ApiError::internal()),
                });
            }
            let entries: Vec<&SignedEntry> = entries.iter().map(AsRef::as_ref).collect();
            // Entries below `applied` were applied by another thread meanwhile, and are skipped.
            if !self.registry.apply(from, &entries)? {
                return Err(ApiError::internal());
            }
            if stored_count > 0 {
                self.metrics
                    .registry_entries_read
                    .fetch_add(stored_count, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    fn read_entries(&self, range: std::ops::Range<u64>) -> Result<Vec<Vec<u8>>, ApiError> {
        self.log.entries(range.clone()).map_err(|e| {
            tracing::error!(from = range.start, to = range.end, error = %e, "reading log entries to apply");
            ApiError::unavailable()
        })
    }

    /// The log's size, with what other writers committed taken in.
    pub(super) fn refreshed_size(&self) -> Result<u64, ApiError> {
        if !self.shared_log() {
            return Ok(self.log.size());
        }
        self.log.refresh().map_err(|e| {
            tracing::error!(error = %e, "taking in other frontends' appends");
            ApiError::unavailable()
        })
    }
}

/// [`AppState::look_up`] from an async handler: the catch-up, if one is needed, runs on the blocking pool.
pub(super) async fn look_up<T: Send + 'static>(
    state: &Arc<AppState>,
    find: impl Fn(&Registry) -> Result<Option<T>, ApiError> + Send + 'static,
) -> Result<Option<T>, ApiError> {
    // The store may block (a query with PostgreSQL, a page read with redb): on the blocking pool.
    let state = state.clone();
    tokio::task::spawn_blocking(move || {
        let missed = Instant::now();
        if let Some(found) = find(&state.registry)? {
            return Ok(Some(found));
        }
        if !state.shared_log() {
            return Ok(None);
        }
        state.catch_up_after_miss(missed)?;
        find(&state.registry)
    })
    .await
    .map_err(|_| ApiError::internal())?
}

/// With a shared log, takes in what other frontends committed before now (one catch-up shared by the requests
/// that ask at once); nothing with the embedded store. A client may have seen a larger checkpoint, or an
/// entry acknowledged, through another frontend a moment ago: reads that depend on the log's size call this.
pub(super) async fn caught_up(state: &Arc<AppState>) -> Result<(), ApiError> {
    if !state.shared_log() {
        return Ok(());
    }
    let (state, asked) = (state.clone(), Instant::now());
    tokio::task::spawn_blocking(move || state.catch_up_after_miss(asked))
        .await
        .map_err(|_| ApiError::internal())?
        .map(|_| ())
}

/// [`caught_up`] if the log is smaller than `size` here.
pub(super) async fn covering(state: &Arc<AppState>, size: u64) -> Result<(), ApiError> {
    if size > state.log.size() {
        caught_up(state).await?;
    }
    Ok(())
}

/// Catches up every `every` until the service stops, so that the published checkpoint, long polls and the
/// cosigner follow appends made through other frontends. Returns at once with the embedded store.
pub(super) async fn run(state: Arc<AppState>, every: Duration) {
    if !state.shared_log() {
        return;
    }
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = state.checkpoints.stopped() => return,
            _ = tick.tick() => {}
        }
        let round = state.clone();
        let outcome =
            tokio::task::spawn_blocking(move || round.catch_up_after_miss(Instant::now())).await;
        match outcome {
            Ok(Ok(_)) => {}
            // Logged where it failed (a database outage, typically); the next tick tries again.
            Ok(Err(_)) => {}
            Err(e) => tracing::error!(error = %e, "the catch-up task failed"),
        }
    }
}

/// Log entry `index`, decoded.
fn decode(index: u64, bytes: &[u8]) -> Result<SignedEntry, ApiError> {
    SignedEntry::decode(bytes).map_err(|e| {
        // Every writer checks what it appends: this is a damaged log, not a client's doing.
        tracing::error!(index, error = %e, "a log entry does not decode; the registry stops before it");
        ApiError::internal()
    })
}
