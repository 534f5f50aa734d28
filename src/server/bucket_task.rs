//! `serve --bucket`: publishes the log to the bucket in the background as it grows.
//!
//! The task only ever aims at the latest published checkpoint (the cosigned one with witnesses), so its backlog
//! is one target whatever the load; each round uploads what the bucket's checkpoint lacks (docs/distributed.md).
//! A bucket that is down does not stop the service: the round fails, is logged and counted, and retried with
//! backoff until the bucket answers. A bucket that disagrees with the log (a conflicting tile, a foreign
//! checkpoint) stops publishing for good: an error line, `tradeledger_bucket_conflicts_total` and
//! `tradeledger_bucket_publishing 0`.
//!
//! With frontends sharing a database, one of them publishes at a time: the holder of the bucket prefix's
//! publishing lease (`super::pg_lease`); the others stand by, renew nothing, and take over when it runs out.
//! The holder takes in the other frontends' entries (`Log::refresh`) before each round, so the bucket follows
//! every frontend's acknowledgements, not only its own.

use std::fmt::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::locks::Locks;
use super::pg_lease::{Lease, RENEW_EVERY};
use super::state::AppState;
use crate::bucket::{BucketLocation, LogReader, Publisher, S3};

/// First retry delay after a failed round; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the task looks at the published checkpoint even without an append (cosigned checkpoints arrive
/// on their own).
const POLL: Duration = Duration::from_millis(500);
/// How often an idle task reads the bucket's checkpoint anyway: a bucket emptied or restored from an old backup
/// while the log is quiet is refilled, and one rewritten by another history is caught, without waiting for an
/// append.
const RECHECK: Duration = Duration::from_secs(30);
/// With other frontends on the log: how often the holder takes in their entries when its own appends do not
/// wake it (their entries reach the bucket within about this, plus one round).
const SHARED_POLL: Duration = Duration::from_millis(100);
/// Under load, rounds start at most this often: each round rewrites the partial tiles at the log's edge, so
/// back-to-back rounds of a few entries each cost the bucket many small objects for little gain in latency.
const MIN_ROUND_SPACING: Duration = Duration::from_millis(200);

/// What `/metrics` shows of the publisher.
#[derive(Default)]
pub struct BucketMetrics {
    configured: AtomicBool,
    stopped: AtomicBool,
    /// The size of the bucket's checkpoint after the last round.
    bucket_size: AtomicU64,
    /// The size of the checkpoint the service publishes.
    target_size: AtomicU64,
    /// Since when (Unix ms) the bucket lags the published checkpoint; 0 when it does not.
    behind_since_ms: AtomicU64,
    errors: AtomicU64,
    conflicts: AtomicU64,
    /// Whether this frontend publishes now (alone, or as the lease holder).
    publisher: AtomicBool,
    /// PUT requests this frontend sent to the bucket.
    puts: AtomicU64,
}

impl BucketMetrics {
    /// Appends the bucket metrics (nothing without `--bucket`).
    pub(super) fn render(&self, out: &mut String) {
        if !self.configured.load(Ordering::Relaxed) {
            return;
        }
        let bucket = self.bucket_size.load(Ordering::Relaxed);
        let target = self.target_size.load(Ordering::Relaxed);
        let since = self.behind_since_ms.load(Ordering::Relaxed);
        let lag_seconds = if since == 0 {
            0.0
        } else {
            now_ms().saturating_sub(since) as f64 / 1000.0
        };
        for (name, kind, help, value) in [
            (
                "tradeledger_bucket_size",
                "gauge",
                "Entries in the bucket's checkpoint.",
                bucket.to_string(),
            ),
            (
                "tradeledger_bucket_lag_entries",
                "gauge",
                "Published entries not yet in the bucket's checkpoint.",
                target.saturating_sub(bucket).to_string(),
            ),
            (
                "tradeledger_bucket_lag_seconds",
                "gauge",
                "How long the bucket has lagged the published checkpoint (0: up to date).",
                lag_seconds.to_string(),
            ),
            (
                "tradeledger_bucket_errors_total",
                "counter",
                "Publishing rounds that failed and will be retried.",
                self.errors.load(Ordering::Relaxed).to_string(),
            ),
            (
                "tradeledger_bucket_conflicts_total",
                "counter",
                "Bucket objects found disagreeing with the log (publishing stops).",
                self.conflicts.load(Ordering::Relaxed).to_string(),
            ),
            (
                "tradeledger_bucket_publishing",
                "gauge",
                "1 while publishing runs, 0 once stopped by a conflict.",
                u8::from(!self.stopped.load(Ordering::Relaxed)).to_string(),
            ),
            (
                "tradeledger_bucket_publisher",
                "gauge",
                "1 while this frontend is the one publishing (alone, or holding the publishing lease).",
                u8::from(self.publisher.load(Ordering::Relaxed)).to_string(),
            ),
            (
                "tradeledger_bucket_puts_total",
                "counter",
                "PUT requests this frontend sent to the bucket.",
                self.puts.load(Ordering::Relaxed).to_string(),
            ),
        ] {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
            );
        }
    }

    fn observe(&self, target: u64, bucket: u64) {
        self.target_size.store(target, Ordering::Relaxed);
        self.bucket_size.store(bucket, Ordering::Relaxed);
        if bucket >= target {
            self.behind_since_ms.store(0, Ordering::Relaxed);
        } else {
            let _ = self.behind_since_ms.compare_exchange(
                0,
                now_ms(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

impl LogReader for AppState {
    fn log(&self) -> &ledger::Log {
        &self.log
    }
}

/// The publishing lease of `location` when frontends share the log (`serve --postgres`); `None` alone.
pub(super) fn lease(state: &AppState, location: &BucketLocation) -> Option<Arc<Lease>> {
    match &state.locks {
        Locks::Shared(pg) => Some(Arc::new(Lease::new(
            pg.pool().clone(),
            location.public_url(),
        ))),
        Locks::Local(_) => None,
    }
}

/// Keeps renewing (or trying to take) `lease` until the service stops, then gives it up.
async fn keep_lease(state: Arc<AppState>, lease: Arc<Lease>) {
    let mut held = false;
    loop {
        let claim = lease.clone();
        match tokio::task::spawn_blocking(move || claim.renew()).await {
            Ok(Ok(now)) => {
                if now != held {
                    tracing::info!(holder = now, "publishing lease changed hands");
                }
                held = now;
            }
            // The deadline already had stands: the lease runs out by itself if renewals keep failing.
            Ok(Err(e)) => tracing::warn!(error = %e, "renewing the publishing lease"),
            Err(e) => tracing::error!(error = %e, "the lease renewal panicked"),
        }
        tokio::select! {
            () = tokio::time::sleep(RENEW_EVERY) => {}
            () = state.checkpoints.stopped() => break,
        }
    }
    let _ = tokio::task::spawn_blocking(move || lease.release()).await;
}

/// Publishes until the service stops or the bucket disagrees with the log; with `lease`, only while holding it.
pub(super) async fn run(
    state: Arc<AppState>,
    location: Arc<BucketLocation>,
    lease: Option<Arc<Lease>>,
) {
    let metrics = &state.metrics.bucket;
    metrics.configured.store(true, Ordering::Relaxed);
    let s3 = match S3::new(&location) {
        Ok(s3) => s3,
        Err(e) => {
            tracing::error!(error = %e, "bucket publishing cannot start");
            metrics.stopped.store(true, Ordering::Relaxed);
            return;
        }
    };
    let keeper = lease
        .clone()
        .map(|lease| tokio::spawn(keep_lease(state.clone(), lease)));
    let publisher = Publisher::new(s3, state.clone());
    publish_rounds(&state, &publisher, lease.as_deref()).await;
    metrics.publisher.store(false, Ordering::Relaxed);
    if let Some(keeper) = keeper {
        let _ = keeper.await;
    }
}

async fn publish_rounds(state: &Arc<AppState>, publisher: &Publisher, lease: Option<&Lease>) {
    let metrics = &state.metrics.bucket;
    let mut appends = state.checkpoints.appends();
    let mut bucket_size = 0;
    let mut backoff = FIRST_BACKOFF;
    let mut checked = tokio::time::Instant::now();
    let mut last_round: Option<tokio::time::Instant> = None;
    let poll = if lease.is_some() { SHARED_POLL } else { POLL };
    loop {
        metrics.puts.store(publisher.puts(), Ordering::Relaxed);
        if let Some(lease) = lease {
            let holds = lease.holds();
            metrics.publisher.store(holds, Ordering::Relaxed);
            if !holds {
                // Standing by: what the holder published is unknown here, so the first round as holder reads
                // the bucket afresh; the lag is the holder's to report (no alert from every standby).
                bucket_size = 0;
                metrics.behind_since_ms.store(0, Ordering::Relaxed);
                tokio::select! {
                    () = tokio::time::sleep(RENEW_EVERY / 4) => continue,
                    () = state.checkpoints.stopped() => return,
                }
            }
            // Take in what the other frontends acknowledged, so that the bucket follows them too.
            let st = state.clone();
            if let Ok(Err(e)) = tokio::task::spawn_blocking(move || st.log.refresh()).await {
                tracing::warn!(error = %e, "taking in other frontends' entries before publishing");
            }
        } else {
            metrics.publisher.store(true, Ordering::Relaxed);
        }
        let target = state.checkpoints.published(&state.log);
        let mut wait = poll;
        let recheck = checked.elapsed() >= RECHECK;
        if let Some(target) = target.filter(|t| t.size > bucket_size || recheck) {
            // Batch under load: wait out the spacing, then publish whatever the latest checkpoint is by then.
            let since = last_round.map_or(MIN_ROUND_SPACING, |t| t.elapsed());
            if since < MIN_ROUND_SPACING {
                tokio::select! {
                    () = tokio::time::sleep(MIN_ROUND_SPACING - since) => continue,
                    () = state.checkpoints.stopped() => return,
                }
            }
            last_round = Some(tokio::time::Instant::now());
            checked = tokio::time::Instant::now();
            metrics.observe(target.size, bucket_size);
            // The fence: a checkpoint is written only while this frontend still holds the lease.
            let may_write = || lease.is_none_or(Lease::holds);
            // Shutdown does not wait for a slow bucket: a round dropped half-way leaves only write-once objects
            // and at most an older checkpoint, which the next start completes.
            let round = tokio::select! {
                round = publisher.publish_fenced(target.size, target.note.as_bytes(), &may_write) => round,
                () = state.checkpoints.stopped() => return,
            };
            match round {
                Ok(size) => {
                    bucket_size = size;
                    metrics.observe(target.size, size);
                    backoff = FIRST_BACKOFF;
                    continue;
                }
                Err(e) if e.is_fatal() => {
                    tracing::error!(error = %e, "the bucket disagrees with the log: publishing stopped");
                    metrics.conflicts.fetch_add(1, Ordering::Relaxed);
                    metrics.stopped.store(true, Ordering::Relaxed);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis(), "bucket publishing failed");
                    metrics.errors.fetch_add(1, Ordering::Relaxed);
                    wait = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        tokio::select! {
            _ = appends.changed(), if wait == poll => {}
            () = tokio::time::sleep(wait) => {}
            () = state.checkpoints.stopped() => return,
        }
    }
}
