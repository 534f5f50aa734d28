//! The replay-nonce store in PostgreSQL (`serve --postgres`): every accepted (party, nonce) is claimed with one
//! `INSERT ... ON CONFLICT` in the shared database, so a request accepted by one frontend is refused by every
//! other, and by this one after a restart.
//!
//! The claim is an autocommitted statement on a `synchronous_commit = on` connection: durable before the request
//! is acted on. Rows live until `created + max skew`; a claim of an expired key takes the row over, and a sweep
//! at most once a minute deletes the rest, so the table holds about one window of accepted requests (each
//! frontend's in-memory guard still bounds every party's share).

use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context as _;
use vault::{PgMigration, PgPool, pg_error, pg_migrate};

use crate::httpsig::SharedNonceStore;

const MIGRATIONS: &[PgMigration] = &[PgMigration {
    version: 1,
    sql: include_str!("pg_nonces.sql"),
}];

/// Least time between two sweeps of expired rows, in seconds.
const SWEEP_EVERY_SECS: u64 = 60;

/// The shared nonce store over a pool.
pub(super) struct PgNonces {
    pool: PgPool,
    last_sweep: AtomicU64,
}

impl PgNonces {
    /// Brings the `replay` schema track up to date and returns the store.
    pub(super) fn open(pool: PgPool) -> anyhow::Result<PgNonces> {
        let mut conn = pool.get().context("connecting to PostgreSQL")?;
        pg_migrate(&mut conn, "replay", MIGRATIONS).context("migrating the replay-nonce table")?;
        drop(conn);
        Ok(PgNonces {
            pool,
            last_sweep: AtomicU64::new(0),
        })
    }

    /// Deletes expired rows, at most once per [`SWEEP_EVERY_SECS`] per frontend.
    fn maybe_sweep(&self, conn: &mut postgres::Client, now: i64) -> std::io::Result<()> {
        let now_u = u64::try_from(now).unwrap_or(0);
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now_u < last.saturating_add(SWEEP_EVERY_SECS)
            || self
                .last_sweep
                .compare_exchange(last, now_u, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return Ok(());
        }
        conn.execute("DELETE FROM replay_nonces WHERE expires_at < $1", &[&now])
            .map_err(|e| std::io::Error::other(pg_error(e)))?;
        Ok(())
    }
}

fn seconds(value: u64) -> std::io::Result<i64> {
    i64::try_from(value).map_err(|_| std::io::Error::other("timestamp out of range"))
}

impl SharedNonceStore for PgNonces {
    fn claim(
        &self,
        party: &str,
        nonce: &[u8; 16],
        expires: u64,
        now: u64,
    ) -> std::io::Result<bool> {
        let (expires, now) = (seconds(expires)?, seconds(now)?);
        let mut conn = self.pool.get().map_err(std::io::Error::other)?;
        let claimed = conn
            .execute(
                "INSERT INTO replay_nonces (keyid, nonce, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (keyid, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at \
                 WHERE replay_nonces.expires_at < $4",
                &[&party, &nonce.as_slice(), &expires, &now],
            )
            .map_err(|e| std::io::Error::other(pg_error(e)))?;
        // A failed sweep costs nothing now: the next one deletes what it missed.
        if let Err(e) = self.maybe_sweep(&mut conn, now) {
            tracing::warn!(error = %e, "sweeping expired replay nonces failed");
        }
        Ok(claimed == 1)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::server::pg_cluster;

    fn rows(db: &str) -> i64 {
        let mut client = postgres::Client::connect(db, postgres::NoTls).unwrap();
        client
            .query_one("SELECT count(*) FROM replay_nonces", &[])
            .unwrap()
            .get(0)
    }

    #[test]
    fn a_claim_is_refused_until_it_expires_and_expired_rows_are_swept() {
        let db = pg_cluster::fresh_database();
        let open = || PgNonces::open(PgPool::connect(&db, 2).unwrap()).unwrap();
        let (a, b) = (open(), open());
        let now = 1_000_000;
        assert!(a.claim("cbp", &[1; 16], now + 300, now).unwrap());
        // Another frontend, and the same one again: refused while the claim lives.
        assert!(!b.claim("cbp", &[1; 16], now + 310, now + 10).unwrap());
        assert!(!a.claim("cbp", &[1; 16], now + 310, now + 10).unwrap());
        // The same nonce key of another party is its own.
        assert!(b.claim("acme-imports", &[1; 16], now + 300, now).unwrap());
        // Past its expiry the key may be claimed again (its request would be stale anyway).
        assert!(b.claim("cbp", &[1; 16], now + 700, now + 301).unwrap());
        assert!(!a.claim("cbp", &[1; 16], now + 700, now + 302).unwrap());
        // That claim came more than a minute after b's last sweep: it swept acme-imports' expired row.
        assert_eq!(rows(&db), 1);
        // A new frontend sweeps at its first claim: cbp's row expired at now + 700.
        let c = open();
        assert!(c.claim("cbp", &[2; 16], now + 1100, now + 800).unwrap());
        assert_eq!(rows(&db), 1, "only the new claim is left");
    }
}
