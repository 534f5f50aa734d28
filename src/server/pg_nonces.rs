//! The replay-nonce store in PostgreSQL (`serve --postgres`): every accepted (party, nonce) is claimed with one
//! `INSERT ... ON CONFLICT` in the shared database, so a request accepted by one frontend is refused by every
//! other, and by this one after a restart.
//!
//! The claim is an autocommitted statement on a `synchronous_commit = on` connection: durable before the request
//! is acted on. Claims are group-committed: one thread takes every claim queued meanwhile and makes them with one
//! multi-row statement (rows through `unnest`), so a load of N signed requests costs far fewer commits than N. Rows live until `created + max skew`; a claim of an expired key takes the row over, and a sweep
//! at most once a minute deletes the rest, so the table holds about one window of accepted requests (each
//! frontend's in-memory guard still bounds every party's share).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};

use anyhow::Context as _;
use vault::{PgMigration, PgPool, pg_error, pg_migrate};

use crate::httpsig::SharedNonceStore;

const MIGRATIONS: &[PgMigration] = &[PgMigration {
    version: 1,
    sql: include_str!("pg_nonces.sql"),
}];

/// Least time between two sweeps of expired rows, in seconds.
const SWEEP_EVERY_SECS: u64 = 60;

/// Most claims one statement makes.
const MAX_GROUP: usize = 1024;

/// The shared nonce store over a pool: a handle on the claiming thread.
pub(super) struct PgNonces {
    claims: mpsc::Sender<Claim>,
}

/// One queued claim and where its answer goes.
struct Claim {
    party: String,
    nonce: [u8; 16],
    expires: i64,
    now: i64,
    reply: mpsc::SyncSender<std::io::Result<bool>>,
}

/// The claiming thread's side: the pool and the sweep clock.
struct Claimer {
    pool: PgPool,
    last_sweep: AtomicU64,
}

impl PgNonces {
    /// Brings the `replay` schema track up to date and returns the store.
    pub(super) fn open(pool: PgPool) -> anyhow::Result<PgNonces> {
        let mut conn = pool.get().context("connecting to PostgreSQL")?;
        pg_migrate(&mut conn, "replay", MIGRATIONS).context("migrating the replay-nonce table")?;
        drop(conn);
        let claimer = Arc::new(Claimer {
            pool,
            last_sweep: AtomicU64::new(0),
        });
        let (claims, queue) = mpsc::channel();
        // Ends when the store is dropped (the channel closes).
        std::thread::Builder::new()
            .name("nonce-claims".into())
            .spawn(move || claimer.run(&queue))
            .context("starting the nonce-claim thread")?;
        Ok(PgNonces { claims })
    }
}

impl Claimer {
    fn run(&self, queue: &mpsc::Receiver<Claim>) {
        while let Ok(first) = queue.recv() {
            let mut group = vec![first];
            while group.len() < MAX_GROUP {
                match queue.try_recv() {
                    Ok(more) => group.push(more),
                    Err(_) => break,
                }
            }
            self.claim_group(group);
        }
    }

    /// Makes `group`'s claims with one statement and answers each. A (party, nonce) twice in the group is
    /// claimed by its first occurrence only; an expired row is taken over only if expired at the group's
    /// earliest `now` (never more permissive than claiming one at a time).
    fn claim_group(&self, group: Vec<Claim>) {
        let mut seen = HashSet::new();
        let first: Vec<bool> = group
            .iter()
            .map(|c| seen.insert((c.party.as_str(), c.nonce)))
            .collect();
        let (mut parties, mut nonces, mut expiries) = (Vec::new(), Vec::new(), Vec::new());
        for (claim, _) in group.iter().zip(&first).filter(|(_, first)| **first) {
            parties.push(claim.party.as_str());
            nonces.push(claim.nonce.as_slice());
            expiries.push(claim.expires);
        }
        let now = group.iter().map(|c| c.now).min().unwrap_or(0);
        let outcome = self
            .pool
            .get()
            .map_err(std::io::Error::other)
            .and_then(|mut conn| {
                let rows = conn
                    .query(
                        "INSERT INTO replay_nonces (keyid, nonce, expires_at) \
                         SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[]) \
                         ON CONFLICT (keyid, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at \
                         WHERE replay_nonces.expires_at < $4 RETURNING keyid, nonce",
                        &[&parties, &nonces, &expiries, &now],
                    )
                    .map_err(|e| std::io::Error::other(pg_error(e)))?;
                // A failed sweep costs nothing now: the next one deletes what it missed.
                if let Err(e) = self.maybe_sweep(&mut conn, now) {
                    tracing::warn!(error = %e, "sweeping expired replay nonces failed");
                }
                rows.iter()
                    .map(|row| -> Result<(String, Vec<u8>), postgres::Error> {
                        Ok((row.try_get(0)?, row.try_get(1)?))
                    })
                    .collect::<Result<HashSet<(String, Vec<u8>)>, postgres::Error>>()
                    .map_err(|e| std::io::Error::other(pg_error(e)))
            });
        for (claim, first) in group.into_iter().zip(first) {
            let answer = match &outcome {
                Ok(claimed) => Ok(first && claimed.contains(&(claim.party, claim.nonce.to_vec()))),
                Err(e) => Err(std::io::Error::other(e.to_string())),
            };
            let _ = claim.reply.send(answer);
        }
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
        let (reply, answer) = mpsc::sync_channel(1);
        let claim = Claim {
            party: party.to_owned(),
            nonce: *nonce,
            expires: seconds(expires)?,
            now: seconds(now)?,
            reply,
        };
        let gone = || std::io::Error::other("the nonce-claim thread stopped");
        self.claims.send(claim).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
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

    #[test]
    fn concurrent_claims_share_commits_and_each_nonce_is_claimed_once() {
        let db = pg_cluster::fresh_database();
        let store = Arc::new(PgNonces::open(PgPool::connect(&db, 2).unwrap()).unwrap());
        let now = 1_000_000;
        // 16 threads claim 8 nonces each, every nonce by two threads at once: grouped or not, each is won once.
        let winners: Vec<bool> = std::thread::scope(|scope| {
            let tasks: Vec<_> = (0..16u8)
                .map(|t| {
                    let store = store.clone();
                    scope.spawn(move || {
                        (0..8u8)
                            .map(|i| {
                                store
                                    .claim(
                                        "cbp",
                                        &[t / 2, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                                        now + 300,
                                        now,
                                    )
                                    .unwrap()
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            tasks.into_iter().flat_map(|t| t.join().unwrap()).collect()
        });
        assert_eq!(winners.iter().filter(|w| **w).count(), 64);
        assert_eq!(rows(&db), 64);
    }
}
