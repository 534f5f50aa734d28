//! What the frontends of one database agree on (`serve --postgres`): the first frontend records its log key,
//! the digest of its policy set and a random key for the lock hash in `frontend_settings`; every later one
//! compares, and refuses to start on a difference (the same request must get the same answer at every
//! frontend, and every checkpoint must verify under one key).
//!
//! The policies change only by restarting the frontends with the new set, the first with
//! `--adopt-policies` (it records the new digest; frontends still on the old set keep running until restarted,
//! and refuse to start again with it).

use std::path::Path;

use anyhow::Context as _;
use sha2::{Digest as _, Sha256};
use vault::{PgMigration, PgPool, pg_error, pg_migrate};

const MIGRATIONS: &[PgMigration] = &[
    PgMigration {
        version: 1,
        sql: include_str!("pg_frontends.sql"),
    },
    PgMigration {
        version: 2,
        sql: include_str!("pg_lease.sql"),
    },
];

/// What this frontend agreed with the others.
pub(super) struct Agreed {
    /// Keys the hash of certificate ids for the advisory locks (`super::pg_locks`).
    pub(super) lock_key: [u8; 32],
}

/// Compares this frontend's log key and policy set with the ones the database records (recording them if it
/// records none), and returns the shared lock key.
pub(super) fn agree(
    pool: &PgPool,
    log_vkey: &str,
    policy_dir: &Path,
    adopt_policies: bool,
) -> anyhow::Result<Agreed> {
    let mut conn = pool.get().context("connecting to PostgreSQL")?;
    migrate(&mut conn)?;
    let recorded = setting(&mut conn, "log_vkey", log_vkey.as_bytes())?;
    anyhow::ensure!(
        recorded == log_vkey.as_bytes(),
        "this frontend's log key ({log_vkey}) differs from the key this database's log was started with \
         ({}): every frontend must sign with the same key; pass --log-key-file with a copy of that key file",
        String::from_utf8_lossy(&recorded)
    );
    let digest = policy_digest(policy_dir)?;
    if adopt_policies {
        conn.execute(
            "INSERT INTO frontend_settings (name, value) VALUES ('policies', $1) \
             ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            &[&digest.as_slice()],
        )
        .map_err(pg_error)
        .context("recording the policy set")?;
        tracing::warn!("recorded this frontend's policy set as the one every frontend must run");
    }
    let recorded = setting(&mut conn, "policies", &digest)?;
    anyhow::ensure!(
        recorded == digest,
        "this frontend's policy set ({}) differs from the one the other frontends of this database run: \
         start it with the same files, or restart every frontend with the new set, the first with \
         --adopt-policies",
        policy_dir.display()
    );
    let lock_key = setting(&mut conn, "lock_key", &rand::random::<[u8; 32]>())?;
    let lock_key = <[u8; 32]>::try_from(lock_key.as_slice())
        .map_err(|_| anyhow::anyhow!("the database's lock key is not 32 bytes"))?;
    Ok(Agreed { lock_key })
}

/// Creates or upgrades the frontends' tables (settings, the publishing lease).
pub(super) fn migrate(conn: &mut postgres::Client) -> anyhow::Result<()> {
    pg_migrate(conn, "frontends", MIGRATIONS).context("migrating the frontend settings")
}

/// The recorded value of `name`, recording `ours` first if there is none (the first frontend wins a race).
fn setting(conn: &mut postgres::Client, name: &str, ours: &[u8]) -> anyhow::Result<Vec<u8>> {
    conn.execute(
        "INSERT INTO frontend_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
        &[&name, &ours],
    )
    .map_err(pg_error)
    .with_context(|| format!("recording the frontend setting {name}"))?;
    conn.query_one(
        "SELECT value FROM frontend_settings WHERE name = $1",
        &[&name],
    )
    .and_then(|row| row.try_get(0))
    .map_err(pg_error)
    .with_context(|| format!("reading the frontend setting {name}"))
}

/// SHA-256 over the policy files the authorizer loads (`*.cedar` and the schema), by name in byte order.
pub(super) fn policy_digest(dir: &Path) -> anyhow::Result<[u8; 32]> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path
            .extension()
            .is_some_and(|e| e == "cedar" || e == "cedarschema")
        {
            names.push(path);
        }
    }
    names.sort();
    let mut hash = Sha256::new();
    for path in names {
        let text = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.as_encoded_bytes())
            .unwrap_or_default();
        for part in [name, text.as_slice()] {
            hash.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
            hash.update(part);
        }
    }
    Ok(hash.finalize().into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::server::pg_cluster;

    fn policies(text: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("permissions.cedar"), text).unwrap();
        std::fs::write(dir.path().join("README.md"), "not a policy").unwrap();
        dir
    }

    #[test]
    fn frontends_must_share_the_log_key_and_the_policies() {
        let db = pg_cluster::fresh_database();
        let pool = PgPool::connect(&db, 2).unwrap();
        let (first, other) = (
            policies("permit(principal, action, resource);"),
            policies("forbid(principal, action, resource);"),
        );
        let a = agree(&pool, "log+1", first.path(), false).unwrap();
        // The same key and set: accepted, with the same lock key.
        let b = agree(&pool, "log+1", first.path(), false).unwrap();
        assert_eq!(a.lock_key, b.lock_key);
        let key = agree(&pool, "log+2", first.path(), false).err().unwrap();
        assert!(format!("{key:#}").contains("--log-key"), "{key:#}");
        let set = agree(&pool, "log+1", other.path(), false).err().unwrap();
        assert!(format!("{set:#}").contains("--adopt-policies"), "{set:#}");
        // Adopting the new set makes it the one; the old set is then refused.
        agree(&pool, "log+1", other.path(), true).unwrap();
        assert!(agree(&pool, "log+1", first.path(), false).is_err());
        // Files the authorizer does not load do not count.
        std::fs::write(other.path().join("README.md"), "changed").unwrap();
        agree(&pool, "log+1", other.path(), false).unwrap();
    }
}
