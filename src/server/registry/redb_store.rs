//! The embedded registry store: one redb database, `DATA/registry/registry.redb` (tables in `redb_tables`).
//!
//! Why redb: a copy-on-write B-tree whose open reads its header and root pages, not a table that grows with
//! the tree (sled 0.34 deserialized its whole page table at every open: 3.0 s and 952 MB at 10M entries), with
//! a cache of fixed size ([`CACHE_BYTES`]) in front of the file whatever the log's length.
//!
//! Each `apply` is one write transaction: the watermark and the call's facts commit together or not at all.
//! Nothing is durable per call (the registry is derived from the log; a crash costs a replay from the last
//! durable watermark), so calls commit with `Durability::None`; the first call after [`DURABLE_EVERY`] or the
//! [`DURABLE_AFTER_APPLIES`]th, whichever comes first, commits durably, and so does `flush`. The bound
//! matters beyond the crash's replay: pages of the last durable commit that later commits replaced are freed
//! only by the next durable one, and redb keeps the non-durable commits' bookkeeping in memory until then.
//! Durable commits save the allocator's state (redb's quick repair), so a start after a crash loads it
//! instead of walking the whole file to rebuild it.
//!
//! The directory may still hold the sled registry of an earlier build: the new store starts empty, the start
//! replays the log into it, and its first durable commit removes what sled left ([`SledLeftovers`]).

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ledger::CertId;
use redb::{Database, Durability, ReadableDatabase};

use super::redb_tables::{
    CERTIFICATES, HELD, META, PARTIES, RECEIPTS, Tables, WATERMARK, decode_certificate, failed,
};
use super::sled_leftovers::SledLeftovers;
use super::store::{Fact, RegistryError, RegistryStore, StoredCertificate};

/// The database's file in the registry's directory.
pub(crate) const FILE: &str = "registry.redb";

/// redb's page cache (reads and the write buffer): what the registry may hold in memory, whatever the log's
/// length. Branch pages are a small share of a B-tree (a 10M-entry registry's fit), so a lookup reads at most
/// its leaf from the file (the kernel's page cache, usually).
const CACHE_BYTES: usize = 64 << 20;

/// At most this long between durable commits while calls come in.
const DURABLE_EVERY: Duration = Duration::from_secs(1);

/// At most this many non-durable commits between durable ones.
const DURABLE_AFTER_APPLIES: u32 = 1024;

/// The registry in a redb database of its own.
pub(crate) struct RedbRegistry {
    db: Database,
    /// Since the last durable commit; held across an `apply`, which also serializes them.
    since_durable: Mutex<SinceDurable>,
    leftovers: SledLeftovers,
}

/// Non-durable commits since the last durable one.
struct SinceDurable {
    applies: u32,
    at: Instant,
}

impl RedbRegistry {
    /// Opens (or creates) the store in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<RedbRegistry, RegistryError> {
        let io = |e: std::io::Error| RegistryError::Unavailable(format!("{}: {e}", dir.display()));
        create_private_dir(dir).map_err(io)?;
        let path = dir.join(FILE);
        let created = create_private_file(&path).map_err(io)?;
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .set_repair_callback(|session| {
                tracing::info!(
                    progress = session.progress(),
                    "repairing the registry store after an unclean shutdown"
                );
            })
            .create(&path)
            .map_err(failed)?;
        if created {
            ledger::durable::sync_dir(dir).map_err(io)?;
        }
        let store = RedbRegistry {
            db,
            since_durable: Mutex::new(SinceDurable {
                applies: 0,
                at: Instant::now(),
            }),
            leftovers: SledLeftovers::find(dir, FILE).map_err(io)?,
        };
        // Every table exists from here on, so reads never meet a missing one.
        let mut tx = store.db.begin_write().map_err(failed)?;
        tx.set_quick_repair(true);
        Tables::open(&tx)?;
        tx.commit().map_err(failed)?;
        Ok(store)
    }

    /// An empty durable commit: writes out every non-durable one before it, with the allocator's state; then
    /// sled's files, if any, are not needed any more.
    fn durable_commit(&self) -> Result<(), RegistryError> {
        let mut tx = self.db.begin_write().map_err(failed)?;
        tx.set_quick_repair(true);
        tx.commit().map_err(failed)?;
        self.leftovers.remove()
    }

    fn read(&self) -> Result<redb::ReadTransaction, RegistryError> {
        self.db.begin_read().map_err(failed)
    }
}

impl RegistryStore for RedbRegistry {
    fn watermark(&self) -> Result<u64, RegistryError> {
        let table = self.read()?.open_table(META).map_err(failed)?;
        Ok(table
            .get(WATERMARK)
            .map_err(failed)?
            .map_or(0, |v| v.value()))
    }

    fn apply(&self, facts: &[Fact], through: u64) -> Result<(), RegistryError> {
        let mut since = self.since_durable.lock().map_err(|_| poisoned())?;
        let durable = since.applies >= DURABLE_AFTER_APPLIES || since.at.elapsed() >= DURABLE_EVERY;
        let mut tx = self.db.begin_write().map_err(failed)?;
        if durable {
            tx.set_quick_repair(true);
        } else {
            tx.set_durability(Durability::None).map_err(failed)?;
        }
        {
            let mut tables = Tables::open(&tx)?;
            if through <= tables.watermark()? {
                drop(tables);
                return tx.abort().map_err(failed); // every fact below the watermark is here already
            }
            for fact in facts {
                tables.apply(fact)?;
            }
            tables.set_watermark(through)?;
        }
        tx.commit().map_err(failed)?;
        if durable {
            *since = SinceDurable {
                applies: 0,
                at: Instant::now(),
            };
            self.leftovers.remove()?;
        } else {
            since.applies += 1;
        }
        Ok(())
    }

    fn party_entries(&self) -> Result<Vec<(u64, Vec<u8>)>, RegistryError> {
        let table = self.read()?.open_table(PARTIES).map_err(failed)?;
        table
            .range::<u64>(..)
            .map_err(failed)?
            .map(|item| {
                let (index, entry) = item.map_err(failed)?;
                Ok((index.value(), entry.value().to_vec()))
            })
            .collect()
    }

    fn certificate(&self, id: &CertId) -> Result<Option<StoredCertificate>, RegistryError> {
        let table = self.read()?.open_table(CERTIFICATES).map_err(failed)?;
        table
            .get(id.as_bytes())
            .map_err(failed)?
            .map(|value| decode_certificate(value.value()))
            .transpose()
    }

    fn receipts(&self, id: &CertId) -> Result<Vec<u64>, RegistryError> {
        let table = self.read()?.open_table(RECEIPTS).map_err(failed)?;
        let id = id.as_bytes();
        table
            .range((id, 0)..=(id, u64::MAX))
            .map_err(failed)?
            .map(|item| Ok(item.map_err(failed)?.0.value().1))
            .collect()
    }

    fn held_before(
        &self,
        cutoff_ms: u64,
        limit: usize,
    ) -> Result<Vec<(CertId, u64)>, RegistryError> {
        const LOWEST: [u8; 16] = [0; 16];
        let table = self.read()?.open_table(HELD).map_err(failed)?;
        table
            .range((0_u64, &LOWEST)..(cutoff_ms, &LOWEST))
            .map_err(failed)?
            .take(limit)
            .map(|item| {
                let (key, index) = item.map_err(failed)?;
                Ok((CertId(*key.value().1), index.value()))
            })
            .collect()
    }

    #[cfg(test)]
    fn rewind(&self, to: u64) -> Result<(), RegistryError> {
        let tx = self.db.begin_write().map_err(failed)?;
        Tables::open(&tx)?.set_watermark(to)?;
        tx.commit().map_err(failed)
    }

    fn flush(&self) -> Result<(), RegistryError> {
        let mut since = self.since_durable.lock().map_err(|_| poisoned())?;
        self.durable_commit()?;
        since.applies = 0;
        since.at = Instant::now();
        Ok(())
    }
}

/// The store's directory, private to the service's user (it names parties and certificates).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(e),
        _ => ledger::durable::make_private(dir),
    }
}

/// Creates the database's file 0600 before redb opens it (redb would create it with the umask's mode);
/// whether it was created.
fn create_private_file(path: &Path) -> std::io::Result<bool> {
    use std::os::unix::fs::OpenOptionsExt as _;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            ledger::durable::make_private(path).map(|()| false)
        }
        Err(e) => Err(e),
    }
}

fn poisoned() -> RegistryError {
    RegistryError::Unavailable("a thread panicked while applying".to_owned())
}
