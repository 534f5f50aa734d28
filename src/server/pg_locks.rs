//! Critical sections shared by every frontend of one database (`serve --postgres`): PostgreSQL advisory locks,
//! each taken by a transaction on a pooled connection and held until that transaction ends.
//!
//! A lock is `pg_advisory_xact_lock(namespace, key)`: the two-integer form, in namespaces of our own (the
//! vault's migration lock uses the one-bigint form, which never collides with it). A certificate's key is a
//! hash of its id keyed with a random secret the first frontend stored in the database (`super::pg_frontends`),
//! so a client cannot grind ids that share the lock of someone else's certificate. The wait is bounded by
//! `lock_timeout`: a lock that cannot be had in time is a 503, never a hang. If the frontend dies, PostgreSQL
//! ends its connection and the lock with it.
//!
//! The connections come from a pool of their own: a holder also needs a connection for the vault and the log,
//! and must not wait for one behind other holders.

use std::time::Duration;

use ledger::CertId;
use sha2::{Digest as _, Sha256};
use vault::{PgConnection, PgPool};

use super::error::ApiError;

/// Locks on one certificate each ("TLC" 1).
const CERTIFICATES: i32 = 0x544C_4301;
/// The one lock on enrollments and rotations ("TLP" 1).
const PARTIES: i32 = 0x544C_5001;
/// The one lock on witness cosigning rounds ("TLW" 1).
const COSIGNING: i32 = 0x544C_5701;

/// Advisory locks over a pool.
pub(super) struct PgLocks {
    pool: PgPool,
    key: [u8; 32],
    wait: Duration,
}

/// A held advisory lock: the open transaction that holds it. Dropping it rolls the transaction back, which
/// releases the lock (nothing else is done in that transaction).
pub(super) struct PgLockHeld {
    conn: PgConnection,
}

impl Drop for PgLockHeld {
    fn drop(&mut self) {
        if let Err(e) = self.conn.batch_execute("ROLLBACK") {
            // The connection is gone, and the lock with it: PostgreSQL releases a dead session's locks.
            tracing::warn!(error = %vault::pg_error(e), "releasing an advisory lock");
        }
    }
}

impl PgLocks {
    /// Locks over a pool of their own of at most `max_connections` to the database at `url`; `key` (32 random
    /// bytes shared by every frontend) keys the certificate hash, and a lock not had within `wait` is refused.
    ///
    /// The pool has no stall limit (`ledger::pg::STALL_LIMIT`): a lock is a transaction left open while its
    /// holder decides, and the server ending it would end the exclusion while the holder still acts on it.
    pub(super) fn connect(
        url: &str,
        max_connections: u32,
        key: [u8; 32],
        wait: Duration,
    ) -> Result<Self, ledger::Error> {
        let pool = PgPool::connect_without_stall_limit(url, max_connections)?;
        Ok(PgLocks { pool, key, wait })
    }

    /// The locks' own pool (the publishing lease renews on it: never behind request traffic).
    pub(super) fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Holds every decision about `cert_id`, in every frontend, until dropped.
    pub(super) fn certificate(&self, cert_id: &CertId) -> Result<PgLockHeld, ApiError> {
        self.take(CERTIFICATES, self.certificate_key(cert_id))
    }

    /// Holds every enrollment and rotation, in every frontend, until dropped.
    pub(super) fn parties(&self) -> Result<PgLockHeld, ApiError> {
        self.take(PARTIES, 0)
    }

    /// The cosigning lock if no other frontend holds it now (`None`: one does; do not wait for it).
    pub(super) fn try_cosigning(&self) -> Result<Option<PgLockHeld>, ApiError> {
        let mut conn = self.begin()?;
        let got: bool = conn
            .query_one("SELECT pg_try_advisory_xact_lock($1, 0)", &[&COSIGNING])
            .and_then(|row| row.try_get(0))
            .map_err(lock_failed)?;
        let held = PgLockHeld { conn };
        Ok(got.then_some(held))
    }

    fn certificate_key(&self, cert_id: &CertId) -> i32 {
        let digest = Sha256::new()
            .chain_update(b"tradeledger/lock/certificate\n")
            .chain_update(self.key)
            .chain_update(cert_id.as_bytes())
            .finalize();
        let mut first = [0u8; 4];
        first.copy_from_slice(&digest[..4]);
        i32::from_be_bytes(first)
    }

    fn take(&self, namespace: i32, key: i32) -> Result<PgLockHeld, ApiError> {
        let mut conn = self.begin()?;
        // Whole milliseconds, at least one: `SET` takes no parameters, and this is our own number.
        let wait_ms = self.wait.as_millis().clamp(1, u128::from(u32::MAX));
        let locked = conn
            .batch_execute(&format!("SET LOCAL lock_timeout = {wait_ms}"))
            .and_then(|()| {
                conn.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&namespace, &key])
            });
        // On failure the transaction is rolled back by the guard's drop.
        let held = PgLockHeld { conn };
        locked.map_err(lock_failed)?;
        Ok(held)
    }

    fn begin(&self) -> Result<PgConnection, ApiError> {
        let mut conn = self.pool.get().map_err(|e| {
            tracing::error!(error = %e, "no database connection for a lock");
            ApiError::unavailable()
        })?;
        conn.batch_execute("BEGIN").map_err(lock_failed)?;
        Ok(conn)
    }
}

fn lock_failed(error: postgres::Error) -> ApiError {
    if error.code() == Some(&postgres::error::SqlState::LOCK_NOT_AVAILABLE) {
        tracing::warn!("a decision's lock was not free within the lock wait");
    } else {
        tracing::error!(error = %vault::pg_error(error), "taking an advisory lock");
    }
    ApiError::unavailable()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::time::Instant;

    use super::*;
    use crate::server::pg_cluster;

    fn locks(db: &str, wait_ms: u64) -> PgLocks {
        PgLocks::connect(db, 4, [7; 32], Duration::from_millis(wait_ms)).unwrap()
    }

    #[test]
    fn a_certificate_lock_excludes_other_frontends_for_a_bounded_wait() {
        let db = pg_cluster::fresh_database();
        let (a, b) = (locks(&db, 300), locks(&db, 300));
        let id = CertId::random();
        let held = a.certificate(&id).unwrap();
        // The other frontend waits for the lock wait, then gets a 503, not a hang.
        let started = Instant::now();
        let refused = b.certificate(&id).err().unwrap();
        assert_eq!(refused.status, axum::http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert!(started.elapsed() < Duration::from_secs(5));
        // Another certificate is free meanwhile, and this one once released.
        drop(b.certificate(&CertId::random()).unwrap());
        drop(held);
        drop(b.certificate(&id).unwrap());
        // The parties lock is one lock for all frontends; so is the cosigning lock, which is never waited for.
        let parties = a.parties().unwrap();
        assert!(b.parties().is_err());
        drop(parties);
        let cosigning = a.try_cosigning().unwrap().unwrap();
        assert!(b.try_cosigning().unwrap().is_none());
        drop(cosigning);
        assert!(b.try_cosigning().unwrap().is_some());
    }

    /// The stores' connections end a transaction idle for the stall limit; a lock's must not, or a holder
    /// deciding slowly would lose the exclusion without knowing.
    #[test]
    fn a_lock_held_past_the_stores_stall_limit_still_excludes() {
        let db = pg_cluster::fresh_database();
        let (a, b) = (locks(&db, 300), locks(&db, 300));
        let id = CertId::random();
        let held = a.certificate(&id).unwrap();
        std::thread::sleep(ledger::pg::STALL_LIMIT + Duration::from_secs(1));
        assert!(b.certificate(&id).is_err(), "the lock was lost while held");
        drop(held);
        drop(b.certificate(&id).unwrap());
    }

    #[test]
    fn a_dead_holder_releases_its_lock() {
        let db = pg_cluster::fresh_database();
        let (a, b) = (locks(&db, 300), locks(&db, 300));
        let id = CertId::random();
        let held = a.certificate(&id).unwrap();
        // As when a frontend is killed: its session ends; the server releases what it held.
        let mut admin = postgres::Client::connect(&db, postgres::NoTls).unwrap();
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_locks \
                 WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid() \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())",
                &[],
            )
            .unwrap();
        drop(b.certificate(&id).unwrap());
        drop(held);
    }
}
