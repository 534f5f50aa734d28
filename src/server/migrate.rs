//! `tradeledger migrate`: moves a stopped embedded deployment (`--data DIR`) into PostgreSQL, the log at the
//! store level and the vault id by id, resumable, and proves the copy before it reports success.

mod log_copy;
mod vault_copy;

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use super::datadir::DataDirLock;
use super::logkey;

/// What a migration copied, found already there, and verified.
#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    /// The log's size, in the data directory and (verified) in PostgreSQL.
    pub log_size: u64,
    /// The root hash of the log at that size, hex, the same on both sides.
    pub log_root: String,
    /// Entries copied by this run.
    pub entries_copied: u64,
    /// Entries the database already held (an earlier, interrupted run), checked equal.
    pub entries_present: u64,
    /// Live certificates (ciphertext and envelopes) copied by this run.
    pub certificates_copied: u64,
    /// Purged tombstones copied by this run.
    pub tombstones_copied: u64,
    /// Certificates and tombstones the database already held, checked equal.
    pub certificates_present: u64,
    /// Every certificate id checked on both sides (live and purged).
    pub certificates_verified: u64,
}

/// Migrates the stopped deployment in `data` into the PostgreSQL database at `url`, reporting progress
/// through `progress` (one line at a time, no secret).
///
/// Takes the data directory's lock first, so it refuses while a `serve` runs there. The target must be
/// empty or hold a prefix of this same log and vault (an earlier run that was interrupted): it then resumes.
/// Afterwards it opens the log in PostgreSQL with the log key, which verifies the copied checkpoint against
/// the copied tree, compares size, root and checkpoint bytes with the source, recomputes every hash, and
/// compares every certificate's ciphertext and envelopes and every tombstone. With `blobs` (`--bucket`), the
/// ciphertexts are stored there, as `serve --postgres --bucket` keeps them, and read back from there to compare.
pub fn migrate(
    data: &Path,
    url: &str,
    blobs: Option<std::sync::Arc<dyn vault::BlobStore>>,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<MigrateReport> {
    anyhow::ensure!(
        data.join("log").join("journal").is_file(),
        "{} holds no embedded log (no log/journal): nothing to migrate",
        data.display()
    );
    let _lock = DataDirLock::acquire(data)?;
    let pool = ledger::pg::PgPool::connect(url, 4).context("connecting to PostgreSQL")?;
    let log = log_copy::copy(data, &pool, progress)?;
    progress(&format!(
        "log verified in PostgreSQL: size {}, root {}, checkpoint byte-identical, every hash recomputed",
        log.size, log.root
    ));
    let vault = vault_copy::copy(data, &pool, blobs, progress)?;
    if vault.verified > 0 {
        progress(&format!(
            "vault verified in PostgreSQL: {} certificate ids, every ciphertext and envelope equal",
            vault.verified
        ));
    }
    Ok(MigrateReport {
        log_size: log.size,
        log_root: log.root,
        entries_copied: log.copied,
        entries_present: log.present,
        certificates_copied: vault.copied,
        tombstones_copied: vault.tombstones,
        certificates_present: vault.present,
        certificates_verified: vault.verified,
    })
}

/// The log key's signer, read again for each `Log` opened (a signer is not `Clone`: it zeroizes on drop).
fn signer(data: &Path) -> anyhow::Result<ledger::NoteSigner> {
    logkey::load_signer(data)
}

/// `migrate --bucket`: publishes the migrated log (read from PostgreSQL with the log key) to the bucket, every
/// tile and entry bundle the bucket lacks and then its checkpoint, under the bucket's usual rules
/// (write-once objects, a checkpoint that only moves forward and must be this log's history). Returns the
/// size of the bucket's checkpoint afterwards.
pub async fn publish_migrated(
    data: &Path,
    url: &str,
    location: &crate::bucket::BucketLocation,
) -> anyhow::Result<u64> {
    let s3 = crate::bucket::S3::new(location).context("the bucket's settings")?;
    let (signer, url) = (signer(data)?, url.to_owned());
    let log = tokio::task::spawn_blocking(move || {
        let store = ledger::PgStore::connect(&url, 2).context("connecting to PostgreSQL")?;
        let origin = signer.name().to_owned();
        ledger::Log::open(store, signer, &origin).context("opening the migrated log")
    })
    .await
    .context("opening the migrated log")??;
    let log = std::sync::Arc::new(log);
    let (size, note) = (log.size(), log.checkpoint());
    let publisher = crate::bucket::Publisher::new(s3, log.clone());
    let published = publisher
        .publish(size, &note)
        .await
        .with_context(|| format!("publishing the migrated log to {}", location.public_url()));
    drop(publisher);
    if let Ok(log) = std::sync::Arc::try_unwrap(log) {
        tokio::task::spawn_blocking(move || log.close())
            .await
            .context("closing the migrated log")?
            .context("closing the migrated log")?;
    }
    published
}
