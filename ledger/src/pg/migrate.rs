//! Versioned schema migrations, run at open: each component (the log, the vault, the server's nonce store) has its
//! own track of numbered SQL scripts, recorded in one `schema_version` table.

use postgres::Client;

use super::pool::db_error;
use crate::Error;

/// One step of a track: the SQL that takes the schema from `version - 1` to `version`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version this script brings the track to (1, 2, ...; consecutive).
    pub version: i32,
    /// The script (one or more statements).
    pub sql: &'static str,
}

/// Every frontend starting at once takes this transaction-scoped advisory lock, so one of them migrates
/// and the others then find the work done. (An arbitrary constant: "tl-schema" in ASCII.)
const MIGRATION_LOCK: i64 = 0x746c_2d73_6368_656d;

/// Brings `track` up to its last migration in one transaction (all steps or none). Refuses a database
/// whose `track` is at a version this build does not know (written by a newer build).
pub fn migrate(client: &mut Client, track: &str, migrations: &[Migration]) -> Result<(), Error> {
    let mut tx = client.transaction().map_err(db_error)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .map_err(db_error)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
             track      text        NOT NULL,
             version    integer     NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now(),
             PRIMARY KEY (track, version)
         )",
    )
    .map_err(db_error)?;
    let current: Option<i32> = tx
        .query_one(
            "SELECT max(version) FROM schema_version WHERE track = $1",
            &[&track],
        )
        .and_then(|row| row.try_get(0))
        .map_err(db_error)?;
    let current = current.unwrap_or(0);
    let latest = migrations.last().map_or(0, |m| m.version);
    if current > latest {
        return Err(Error::Database(format!(
            "the database's {track} schema is at version {current}, newer than this build's {latest}"
        )));
    }
    for migration in migrations.iter().filter(|m| m.version > current) {
        tx.batch_execute(migration.sql).map_err(db_error)?;
        tx.execute(
            "INSERT INTO schema_version (track, version) VALUES ($1, $2)",
            &[&track, &migration.version],
        )
        .map_err(db_error)?;
    }
    tx.commit().map_err(db_error)
}
