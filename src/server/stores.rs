//! Opening the service's stores: everything in the data directory (the embedded mode), or with
//! `serve --postgres` the log, the vault, the registry and the replay nonces in one PostgreSQL database shared
//! by every frontend, on one pool, with the cross-frontend locks on a pool of their own; with `--bucket` too,
//! the vault's ciphertexts go to the bucket's private prefix.

use std::path::Path;
use std::time::Instant;

use anyhow::Context as _;

use super::ServeConfig;
use super::locks::Locks;
use super::logkey::LogKey;
use super::pg_locks::PgLocks;
use super::pg_nonces::PgNonces;
use super::registry::{PgRegistry, RedbRegistry, RegistryStore};
use super::vault_backend::VaultBackend;

/// The opened stores.
pub(super) struct Stores {
    /// The log: in `DATA/log`, or in PostgreSQL shared with the other frontends.
    pub(super) log: ledger::Log,
    /// The vault: in `DATA/vault`, or in PostgreSQL.
    pub(super) vault: VaultBackend,
    /// The registry derived from the log: in `DATA/registry/registry.redb`, or in PostgreSQL shared with the others.
    pub(super) registry: Box<dyn RegistryStore>,
    /// The shared replay-nonce store (PostgreSQL only).
    pub(super) nonces: Option<PgNonces>,
    /// The critical sections: this process's, or the database's advisory locks.
    pub(super) locks: Locks,
}

/// Opens the stores `config` names. With PostgreSQL, first checks that this frontend signs with the log key
/// and runs the policies (`policies`) the database's other frontends do.
pub(super) fn open(
    config: &ServeConfig,
    log_key: &LogKey,
    policies: &Path,
) -> anyhow::Result<Stores> {
    let Some(url) = &config.postgres else {
        // Each store's opening is timed: start-up must not grow with the log (docs/performance.md, issue 12).
        let clock = Instant::now();
        let store =
            ledger::FsStore::open(config.data.join("log")).context("opening the log store")?;
        let log = ledger::Log::open(store, log_key.note_signer(), &config.origin)
            .context("opening the log")?;
        let log_ms = clock.elapsed().as_millis();
        let clock = Instant::now();
        let vault =
            vault::FsVaultStore::open(&config.data.join("vault")).context("opening the vault")?;
        let vault_ms = clock.elapsed().as_millis();
        let clock = Instant::now();
        let registry = open_embedded_registry(&config.data.join("registry"))?;
        let registry_ms = clock.elapsed().as_millis();
        tracing::info!(log_ms, vault_ms, registry_ms, "embedded stores opened");
        return Ok(Stores {
            log,
            vault: VaultBackend::Fs(Box::new(vault)),
            registry,
            nonces: None,
            locks: Locks::default(),
        });
    };
    let pool = vault::PgPool::connect(url.expose(), config.postgres_connections)
        .context("connecting to PostgreSQL")?;
    let agreed =
        super::pg_frontends::agree(&pool, log_key.vkey(), policies, config.adopt_policies)?;
    let store = ledger::PgStore::open(pool.clone()).context("opening the log in PostgreSQL")?;
    let log = ledger::Log::open(store, log_key.note_signer(), &config.origin)
        .context("opening the log")?;
    let vault = match &config.bucket {
        // Ciphertexts under the bucket's private prefix; envelopes and the index stay in PostgreSQL.
        Some(location) => {
            let runtime = tokio::runtime::Handle::try_current()
                .context("the bucket's vault blobs need the service's tokio runtime")?;
            let blobs = crate::bucket::S3Blobs::new(location, runtime)
                .context("the bucket's private prefix for the vault")?;
            vault::PgVaultStore::with_blobs(pool.clone(), std::sync::Arc::new(blobs))
                .context("opening the vault in PostgreSQL and the bucket")?
        }
        None => vault::PgVaultStore::with_pool(pool.clone())
            .context("opening the vault in PostgreSQL")?,
    };
    let registry = PgRegistry::open(pool.clone()).context("opening the registry in PostgreSQL")?;
    let nonces = PgNonces::open(pool)?;
    let locks = PgLocks::connect(
        url.expose(),
        config.postgres_connections,
        agreed.lock_key,
        config.lock_wait,
    )
    .context("connecting to PostgreSQL for locks")?;
    let locks = Locks::Shared(locks);
    tracing::info!(
        "log, vault, registry and replay nonces in PostgreSQL, shared with any other frontend"
    );
    Ok(Stores {
        log,
        vault: VaultBackend::Pg(vault),
        registry: Box::new(registry),
        nonces: Some(nonces),
        locks,
    })
}

/// Opens the embedded registry store in `dir`. It is derived from the log, so one that does not open (redb
/// found its file damaged, a disk's fault) is set aside and rebuilt by a replay of the log, with a warning,
/// rather than keep the service down. A directory that holds an earlier build's sled registry opens too: the
/// new store starts empty beside it, and the start replays the log into it (`registry::sled_leftovers`).
fn open_embedded_registry(dir: &Path) -> anyhow::Result<Box<dyn RegistryStore>> {
    match RedbRegistry::open(dir) {
        Ok(store) => Ok(Box::new(store)),
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "the registry store does not open; rebuilding it from the log");
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("removing the damaged registry in {}", dir.display()))?;
            let store = RedbRegistry::open(dir)
                .with_context(|| format!("creating the registry in {}", dir.display()))?;
            Ok(Box::new(store))
        }
    }
}
