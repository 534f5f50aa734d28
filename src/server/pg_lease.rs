//! The publishing lease (`serve --postgres --bucket`): one frontend at a time publishes the log to a bucket
//! prefix (and runs the witness cosigning rounds whose checkpoints it publishes); the others stand by and take
//! over within seconds when the holder dies.
//!
//! A row per bucket prefix in `publishing_lease` names the holder and an expiry on the database's clock. The
//! holder renews it every [`RENEW_EVERY`]; anyone may take it once expired. Why a row with an expiry rather than
//! a session advisory lock: a session lock is held as long as the holder's connection lives, so a holder that is
//! paused (SIGSTOP, a long GC-like stall, a half-open TCP connection) keeps it indefinitely and nobody
//! publishes; with an expiry a standby takes over after [`TTL`] whatever the holder's state.
//!
//! The holder counts its lease from the moment it *sent* a renewal (`asked + TTL`, on its own monotonic clock),
//! which is no later than the expiry the database recorded, and only writes a checkpoint while that deadline
//! is at least [`MARGIN`] away ([`Lease::holds`]: the fence, checked right before each checkpoint write). A
//! holder paused between that check and the write can still send a late write: then the bucket's own
//! conditional write is the last guard (the checkpoint is replaced only with `If-Match` on the ETag read, and
//! only by a larger one, `crate::bucket::Publisher`), so a stale holder never moves the checkpoint back. The
//! lease is about doing the work once; the bucket's compare-and-swap is what keeps it correct.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use vault::{PgPool, pg_error};

/// How long a lease lasts after a renewal was sent.
pub(super) const TTL: Duration = Duration::from_secs(3);
/// How often the holder renews and a standby tries to take over (a dead holder is replaced within
/// `TTL + RENEW_EVERY`).
pub(super) const RENEW_EVERY: Duration = Duration::from_secs(1);
/// The holder stops writing checkpoints this long before its lease runs out.
const MARGIN: Duration = Duration::from_millis(500);

/// One frontend's claim on the publishing lease of one bucket prefix.
pub(super) struct Lease {
    pool: PgPool,
    /// The bucket prefix the lease is for (its public URL).
    name: String,
    /// This process's random identity: a restarted frontend is a new holder.
    holder: [u8; 16],
    /// Until when this frontend holds the lease, if it does.
    until: Mutex<Option<Instant>>,
}

impl Lease {
    /// A claim on the lease named `name`, not yet held.
    pub(super) fn new(pool: PgPool, name: String) -> Self {
        Lease {
            pool,
            name,
            holder: rand::random(),
            until: Mutex::new(None),
        }
    }

    /// Takes the lease if it is free or expired, renews it if this frontend holds it; returns whether this
    /// frontend holds it now. A database error keeps the deadline already had (the lease runs out by itself).
    /// Blocking: call from the blocking pool.
    pub(super) fn renew(&self) -> Result<bool, ledger::Error> {
        let asked = Instant::now();
        let ttl_ms = i64::try_from(TTL.as_millis()).unwrap_or(i64::MAX);
        let mut conn = self.pool.get()?;
        // One statement: take (a new holder bumps the epoch) or renew, only if it is ours or has run out.
        let row = conn
            .query_opt(
                "INSERT INTO publishing_lease (name, holder, epoch, expires_at) \
                 VALUES ($1, $2, 1, clock_timestamp() + $3::bigint * interval '1 millisecond') \
                 ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, \
                     expires_at = EXCLUDED.expires_at, \
                     epoch = publishing_lease.epoch \
                         + CASE WHEN publishing_lease.holder = EXCLUDED.holder THEN 0 ELSE 1 END \
                 WHERE publishing_lease.holder = EXCLUDED.holder \
                    OR publishing_lease.expires_at < clock_timestamp() \
                 RETURNING epoch",
                &[&self.name, &self.holder.as_slice(), &ttl_ms],
            )
            .map_err(pg_error)?;
        let mut until = self.until.lock().unwrap_or_else(|e| e.into_inner());
        let held = row.is_some();
        *until = held.then_some(asked + TTL);
        Ok(held)
    }

    /// Whether this frontend may write a checkpoint now: it holds the lease for at least [`MARGIN`] more.
    pub(super) fn holds(&self) -> bool {
        let until = *self.until.lock().unwrap_or_else(|e| e.into_inner());
        until.is_some_and(|t| Instant::now() + MARGIN < t)
    }

    /// Gives the lease up (a graceful stop), so that a standby takes over at its next try rather than after the
    /// expiry. Blocking.
    pub(super) fn release(&self) {
        *self.until.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let released = self.pool.get().and_then(|mut conn| {
            conn.execute(
                "UPDATE publishing_lease SET expires_at = clock_timestamp() \
                 WHERE name = $1 AND holder = $2",
                &[&self.name, &self.holder.as_slice()],
            )
            .map_err(pg_error)
        });
        if let Err(e) = released {
            tracing::warn!(error = %e, "giving up the publishing lease (it runs out by itself)");
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::server::pg_cluster;

    fn lease(db: &str, name: &str) -> Lease {
        let pool = PgPool::connect(db, 2).unwrap();
        let mut conn = pool.get().unwrap();
        crate::server::pg_frontends::migrate(&mut conn).unwrap();
        drop(conn);
        Lease::new(pool, name.into())
    }

    #[test]
    fn one_holder_at_a_time_and_a_standby_takes_over_after_the_expiry() {
        let db = pg_cluster::fresh_database();
        let (a, b) = (lease(&db, "s3://one"), lease(&db, "s3://one"));
        assert!(a.renew().unwrap() && a.holds());
        // Held: the other cannot take it, however often it tries; the holder renews.
        assert!(!b.renew().unwrap() && !b.holds());
        assert!(a.renew().unwrap());
        // Another bucket prefix is another lease.
        assert!(lease(&db, "s3://two").renew().unwrap());
        // The holder stops renewing (dead or paused): it stops holding before the database lets anyone else in.
        let stopped = Instant::now();
        while a.holds() {
            assert!(
                !b.renew().unwrap(),
                "taken while the holder still believed it held it"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(stopped.elapsed() >= TTL - MARGIN - Duration::from_millis(200));
        let deadline = Instant::now() + TTL;
        while !b.renew().unwrap() {
            assert!(Instant::now() < deadline, "the standby never took over");
            std::thread::sleep(Duration::from_millis(100));
        }
        // The old holder, back, finds it taken.
        assert!(!a.renew().unwrap() && !a.holds());
        // A graceful release lets the standby in at once.
        b.release();
        assert!(!b.holds());
        assert!(a.renew().unwrap());
    }
}
