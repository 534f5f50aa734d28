//! `tradeledger repair`: rebuild what the journal determines (the log's `ends` and tile level files) after
//! they were lost or damaged, then prove the result: the signed checkpoint's root, every entry and tile hash.

use std::path::Path;

use anyhow::Context as _;
use serde::Serialize;

use super::datadir::DataDirLock;
use super::logkey;

/// What a repair found, rebuilt and checked.
#[derive(Debug, Clone, Serialize)]
pub struct RepairReport {
    /// Intact entries in the journal.
    pub entries: u64,
    /// The size of the stored signed checkpoint, whose root the rebuilt tree matched.
    pub checkpoint_size: u64,
    /// Derived files rewritten because they differed from what the journal determines.
    pub rebuilt: Vec<String>,
    /// Derived files that were already right.
    pub unchanged: Vec<String>,
    /// The log's size after reopening (entries past the checkpoint are kept and checkpointed).
    pub log_size: u64,
}

/// Repairs the data directory `data`: takes its lock (refused while a service runs on it), rebuilds the log's
/// derived files from the journal once the journal is shown to reach the signed checkpoint and hash to its
/// root, then opens the log (which verifies the checkpoint again), checks every entry and tile hash, and
/// opens the vault (which replays its segment records into the index).
pub fn repair(data: &Path) -> anyhow::Result<RepairReport> {
    anyhow::ensure!(
        data.join("log").join("journal").is_file(),
        "{} holds no log journal: nothing to repair",
        data.display()
    );
    let _lock = DataDirLock::acquire(data)?;
    let signer = logkey::load_signer(data)?;
    let origin = signer.name().to_owned();
    let store_dir = data.join("log");
    let rebuilt = ledger::FsStore::rebuild(&store_dir, &signer, &origin)
        .context("rebuilding from the log journal")?;
    let store = ledger::FsStore::open(&store_dir).context("opening the log store")?;
    let log = ledger::Log::open(store, signer, &origin).context("opening the repaired log")?;
    log.check_integrity().context("checking the repaired log")?;
    let log_size = log.size();
    log.close().context("closing the log")?;
    let vault = vault::FsVaultStore::open(&data.join("vault")).context("opening the vault")?;
    drop(vault);
    Ok(RepairReport {
        entries: rebuilt.entries,
        checkpoint_size: rebuilt.checkpoint_size,
        rebuilt: rebuilt.rewritten,
        unchanged: rebuilt.unchanged,
        log_size,
    })
}
