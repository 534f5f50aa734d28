//! [`PgStore`]: the log in a PostgreSQL database, appended to by any number of writers (frontends).

use postgres::{Client, GenericClient, IsolationLevel, Transaction};

use super::{Batch, Store, Tail};
use crate::Error;
use crate::merkle::Hash;
use crate::pg::{Migration, PgPool, db_error, migrate};

/// The log's migrations (track `ledger`).
const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: include_str!("pg/ledger_v1.sql"),
}];

/// A [`Store`] in PostgreSQL, shared by several writers: each `Log` that opens the same database (with the
/// same key and origin) appends to one log.
///
/// How it keeps the contract:
/// - **Sequencing**: [`commit`](Store::commit) runs one transaction that locks the single coordination row
///   (`SELECT size FROM ledger_sequence ... FOR UPDATE`, as transparency-dev/tessera's storage/aws does),
///   reads the committed size and the leaf hashes other writers committed since the caller last looked,
///   writes the caller's entries at the next consecutive indexes with the tile hashes they complete, moves
///   the row to the new size and commits. Commits are serialized by the row lock; an index is taken by exactly
///   one committed transaction (and the primary keys refuse a second).
/// - **Durable**: a commit returns `Ok` only once PostgreSQL has flushed its WAL record (`synchronous_commit
///   = on` on every pooled connection; a server with `fsync` off is refused by [`PgPool::connect`]). Entries
///   and tile hashes are durable together, so [`recover`](Store::recover) has nothing to drop or re-derive.
/// - **Failures**: a transaction that fails before `COMMIT` is rolled back by the server (or when its
///   connection dies), so the store is as it was and the writer may go on
///   ([`rolls_back_failed_commits`](Store::rolls_back_failed_commits)); a `COMMIT` whose answer is lost may
///   or may not have happened, and the writer's next commit finds out by re-reading the coordination row.
/// - **Checkpoint**: [`write_checkpoint`](Store::write_checkpoint) is a compare-and-swap on the stored size
///   under the checkpoint row's lock: a larger size replaces it, a smaller one is ignored, an equal one must
///   be byte-identical ([`Error::CheckpointConflict`] otherwise), and it never exceeds the committed size.
/// - **Stalls**: a writer paused mid-commit (SIGSTOP, a frozen VM, a connection left half-open) holds the row
///   every other writer's commit waits for; the server ends a transaction idle for
///   [`STALL_LIMIT`](crate::pg::STALL_LIMIT), so the others wait that long at most, and the paused commit
///   fails when it resumes, having acknowledged nothing.
/// - **Concurrency**: every method may be called from any thread of any process at once.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Uses an open pool (it may be the one the vault uses), bringing the `ledger` schema up to date.
    pub fn open(pool: PgPool) -> Result<PgStore, Error> {
        let mut conn = pool.get()?;
        migrate(&mut conn, "ledger", MIGRATIONS)?;
        drop(conn);
        Ok(PgStore { pool })
    }

    /// Connects (see [`PgPool::connect`]) and brings the schema up to date.
    pub fn connect(url: &str, max_connections: u32) -> Result<PgStore, Error> {
        PgStore::open(PgPool::connect(url, max_connections)?)
    }

    /// The pool this store uses, to share with other stores.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// A transaction at READ COMMITTED whatever the server's default: after waiting for the coordination row,
/// each statement must see what the writer before committed (at REPEATABLE READ or SERIALIZABLE the lock
/// would fail with a serialization error instead).
fn read_committed(client: &mut Client) -> Result<Transaction<'_>, Error> {
    client
        .build_transaction()
        .isolation_level(IsolationLevel::ReadCommitted)
        .start()
        .map_err(db_error)
}

/// Converts between the log's `u64` sizes and PostgreSQL's `bigint`.
fn to_sql(n: u64) -> Result<i64, Error> {
    i64::try_from(n).map_err(|_| Error::Corrupted(format!("index {n} is beyond bigint")))
}

fn from_sql(n: i64) -> Result<u64, Error> {
    u64::try_from(n).map_err(|_| Error::Corrupted(format!("negative size {n} in the database")))
}

fn to_hash(bytes: &[u8]) -> Result<Hash, Error> {
    Hash::try_from(bytes).map_err(|_| Error::Corrupted("a stored hash is not 32 bytes".into()))
}

/// The committed size; with `lock`, the coordination row stays locked until the transaction ends.
fn committed_size(client: &mut impl GenericClient, lock: bool) -> Result<u64, Error> {
    let sql = if lock {
        "SELECT size FROM ledger_sequence WHERE id FOR UPDATE"
    } else {
        "SELECT size FROM ledger_sequence WHERE id"
    };
    let size: i64 = client
        .query_one(sql, &[])
        .and_then(|row| row.try_get(0))
        .map_err(db_error)?;
    from_sql(size)
}

/// `count` hashes of tile level `level` from `start`; all must be present.
fn hashes(
    client: &mut impl GenericClient,
    level: u8,
    start: u64,
    count: u64,
) -> Result<Vec<Hash>, Error> {
    let end = start.checked_add(count).ok_or(Error::BeyondLog {
        what: "tile hashes",
        requested: u64::MAX,
        size: 0,
    })?;
    let rows = if level == 0 {
        client.query(
            "SELECT leaf FROM ledger_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
            &[&to_sql(start)?, &to_sql(end)?],
        )
    } else {
        client.query(
            "SELECT hash FROM ledger_tiles WHERE level = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
            &[&i16::from(level), &to_sql(start)?, &to_sql(end)?],
        )
    }
    .map_err(db_error)?;
    if u64::try_from(rows.len()).ok() != Some(count) {
        return Err(Error::BeyondLog {
            what: "tile hashes",
            requested: end,
            size: start.saturating_add(u64::try_from(rows.len()).unwrap_or(0)),
        });
    }
    rows.iter()
        .map(|row| to_hash(row.try_get::<_, &[u8]>(0).map_err(db_error)?))
        .collect()
}

/// Writes `batch` (which must start at `size`, the committed size) and moves the coordination row past it.
fn write_batch(client: &mut impl GenericClient, size: u64, batch: &Batch) -> Result<(), Error> {
    if batch.first != size {
        return Err(Error::Corrupted(format!(
            "append at {} but {size} entries are committed",
            batch.first
        )));
    }
    let n =
        u64::try_from(batch.entries.len()).map_err(|_| Error::EntryTooLarge("batch too large"))?;
    let new_size = size
        .checked_add(n)
        .ok_or(Error::EntryTooLarge("batch too large"))?;
    if n > 0 {
        let idx: Vec<i64> = (to_sql(size)?..to_sql(new_size)?).collect();
        let entries: Vec<&[u8]> = batch.entries.iter().map(|e| e.0.as_slice()).collect();
        let leaves: Vec<&[u8]> = batch.entries.iter().map(|e| e.1.as_slice()).collect();
        client
            .execute(
                "INSERT INTO ledger_entries (idx, entry, leaf) \
                 SELECT * FROM unnest($1::bigint[], $2::bytea[], $3::bytea[])",
                &[&idx, &entries, &leaves],
            )
            .map_err(db_error)?;
    }
    for (level, first, hashes) in &batch.tiles {
        if *level == 0 {
            return Err(Error::Corrupted("tile level 0 is the leaf hashes".into()));
        }
        let count = u64::try_from(hashes.len()).unwrap_or(u64::MAX);
        let end = first
            .checked_add(count)
            .ok_or(Error::EntryTooLarge("batch too large"))?;
        let idx: Vec<i64> = (to_sql(*first)?..to_sql(end)?).collect();
        let hashes: Vec<&[u8]> = hashes.iter().map(|h| h.as_slice()).collect();
        client
            .execute(
                "INSERT INTO ledger_tiles (level, idx, hash) \
                 SELECT $1, * FROM unnest($2::bigint[], $3::bytea[])",
                &[&i16::from(*level), &idx, &hashes],
            )
            .map_err(db_error)?;
    }
    client
        .execute(
            "UPDATE ledger_sequence SET size = $1 WHERE id",
            &[&to_sql(new_size)?],
        )
        .map_err(db_error)?;
    Ok(())
}

impl Store for PgStore {
    fn recover(&self, trusted: u64) -> Result<u64, Error> {
        let size = committed_size(&mut *self.pool.get()?, false)?;
        if size < trusted {
            return Err(Error::Corrupted(format!(
                "checkpoint covers {trusted} entries but only {size} are committed"
            )));
        }
        Ok(size)
    }

    /// One transaction that locks the coordination row and refuses the batch unless it starts at the
    /// committed size: durable on return (the log's own writes go through [`commit`](Store::commit)).
    fn append(&self, batch: &Batch) -> Result<(), Error> {
        let mut conn = self.pool.get()?;
        let mut tx = read_committed(&mut conn)?;
        let size = committed_size(&mut tx, true)?;
        write_batch(&mut tx, size, batch)?;
        tx.commit().map_err(db_error)
    }

    /// Nothing to do: every append is durable when it returns.
    fn sync(&self) -> Result<(), Error> {
        Ok(())
    }

    fn commit(
        &self,
        known: u64,
        build: &mut dyn FnMut(Tail) -> Result<Batch, Error>,
    ) -> Result<(), Error> {
        let mut conn = self.pool.get()?;
        // Dropped without `commit`, the transaction rolls back (and a dead connection rolls back on the
        // server), so every early return below leaves the store as it was.
        let mut tx = read_committed(&mut conn)?;
        let size = committed_size(&mut tx, true)?;
        let leaves = foreign_leaves(&mut tx, known, size)?;
        let batch = build(Tail { size, leaves })?;
        write_batch(&mut tx, size, &batch)?;
        tx.commit().map_err(db_error)
    }

    fn tail(&self, known: u64) -> Result<Tail, Error> {
        let mut conn = self.pool.get()?;
        // Entries below a size read from the row were committed with it, so a later statement sees them.
        let size = committed_size(&mut *conn, false)?;
        let leaves = foreign_leaves(&mut *conn, known, size)?;
        Ok(Tail { size, leaves })
    }

    fn rolls_back_failed_commits(&self) -> bool {
        true
    }

    fn write_checkpoint(&self, size: u64, note: &[u8]) -> Result<(), Error> {
        let mut conn = self.pool.get()?;
        let mut tx = read_committed(&mut conn)?;
        let row = tx
            .query_one(
                "SELECT size, note FROM ledger_checkpoint WHERE id FOR UPDATE",
                &[],
            )
            .map_err(db_error)?;
        let stored: Option<i64> = row.try_get(0).map_err(db_error)?;
        let stored_note: Option<Vec<u8>> = row.try_get(1).map_err(db_error)?;
        if let Some(stored) = stored.map(from_sql).transpose()? {
            if stored > size {
                // Only forward: a newer checkpoint is already stored.
                return Ok(());
            }
            if stored == size {
                return match stored_note.as_deref() == Some(note) {
                    true => Ok(()),
                    false => Err(Error::CheckpointConflict(size)),
                };
            }
        }
        if committed_size(&mut tx, false)? < size {
            return Err(Error::Corrupted(format!(
                "checkpoint at {size} is beyond the committed entries"
            )));
        }
        tx.execute(
            "UPDATE ledger_checkpoint SET size = $1, note = $2 WHERE id",
            &[&to_sql(size)?, &note],
        )
        .map_err(db_error)?;
        tx.commit().map_err(db_error)
    }

    fn read_checkpoint(&self) -> Result<Option<Vec<u8>>, Error> {
        self.pool
            .get()?
            .query_one("SELECT note FROM ledger_checkpoint WHERE id", &[])
            .and_then(|row| row.try_get(0))
            .map_err(db_error)
    }

    fn read_hashes(&self, level: u8, start: u64, count: u64) -> Result<Vec<Hash>, Error> {
        hashes(&mut *self.pool.get()?, level, start, count)
    }

    fn read_entries(&self, start: u64, count: u64) -> Result<Vec<Vec<u8>>, Error> {
        let end = start.checked_add(count).ok_or(Error::BeyondLog {
            what: "entries",
            requested: u64::MAX,
            size: 0,
        })?;
        let rows = self
            .pool
            .get()?
            .query(
                "SELECT entry FROM ledger_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx",
                &[&to_sql(start)?, &to_sql(end)?],
            )
            .map_err(db_error)?;
        if u64::try_from(rows.len()).ok() != Some(count) {
            return Err(Error::BeyondLog {
                what: "entries",
                requested: end,
                size: start.saturating_add(u64::try_from(rows.len()).unwrap_or(0)),
            });
        }
        rows.iter()
            .map(|row| row.try_get(0).map_err(db_error))
            .collect()
    }
}

/// The leaf hashes of entries `known..size`, which other writers committed since this one last looked.
fn foreign_leaves(
    client: &mut impl GenericClient,
    known: u64,
    size: u64,
) -> Result<Vec<Hash>, Error> {
    let count = size.checked_sub(known).ok_or_else(|| {
        Error::Corrupted(format!(
            "the committed size went back from {known} to {size}"
        ))
    })?;
    if count == 0 {
        return Ok(Vec::new());
    }
    hashes(client, 0, known, count)
}
