//! The log over its stores: group commit, fault injection, recovery, corruption detection, tile layout.
//! The cases every store must pass are in support/store_contract.rs (PostgreSQL runs them in pg_log.rs).
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "support/store_contract.rs"]
mod contract;

use std::sync::Arc;

use contract::{ORIGIN, entry, signed, signer};
use ledger::{Error, Fault, FsStore, Log, MemoryStore, verify_consistency};

#[test]
fn concurrent_appends_are_group_committed_and_provable() {
    let store = MemoryStore::new();
    let log = Arc::new(Log::open(store.clone(), signer(), ORIGIN).unwrap());
    contract::concurrent_appends_are_provable(&log);
    assert!(store.syncs() <= 400, "at most one sync per append");
    let dir = tempfile::tempdir().unwrap();
    let log = Log::open(FsStore::open(dir.path()).unwrap(), signer(), ORIGIN).unwrap();
    contract::concurrent_appends_are_provable(&Arc::new(log));
}

#[test]
fn another_key_or_origin_is_refused() {
    let store = MemoryStore::new();
    contract::another_key_or_origin_is_refused(|| store.clone());
    let dir = tempfile::tempdir().unwrap();
    contract::another_key_or_origin_is_refused(|| FsStore::open(dir.path()).unwrap());
}

#[test]
fn a_log_that_died_is_recovered() {
    let store = MemoryStore::new();
    contract::a_log_that_died_is_recovered(|| store.clone());
    let dir = tempfile::tempdir().unwrap();
    contract::a_log_that_died_is_recovered(|| FsStore::open(dir.path()).unwrap());
}

#[test]
fn a_failed_sync_acknowledges_nothing_and_the_log_recovers() {
    let store = MemoryStore::new();
    let log = Log::open(store.clone(), signer(), ORIGIN).unwrap();
    log.append_batch((0..10).map(entry).collect()).unwrap();
    let before = log.checkpoint();
    store.inject(Fault::SyncFails, 0);
    assert!(log.append(entry(10)).is_err());
    assert_eq!(
        log.checkpoint(),
        before,
        "no checkpoint over the failed group"
    );
    assert_eq!(log.size(), 10);
    assert!(matches!(log.append(entry(11)), Err(Error::LogFailed)));
    drop(log);
    store.crash(false);
    let log = Log::open(store.clone(), signer(), ORIGIN).unwrap();
    assert_eq!(log.size(), 10);
    log.check_integrity().unwrap();
    assert_eq!(log.append(entry(12)).unwrap(), 10);
    let (old_size, old_root) = signed(&before);
    let (size, root) = signed(&log.checkpoint());
    verify_consistency(
        old_size,
        size,
        &log.consistency_proof(old_size, size).unwrap(),
        &old_root,
        &root,
    )
    .unwrap();
}

#[test]
fn a_sync_that_fails_after_persisting_keeps_the_entries_on_reopen() {
    let store = MemoryStore::new();
    let log = Log::open(store.clone(), signer(), ORIGIN).unwrap();
    log.append(entry(0)).unwrap();
    store.inject(Fault::SyncFailsAfterPersisting, 0);
    assert!(log.append(entry(1)).is_err());
    assert_eq!(log.size(), 1);
    drop(log);
    store.crash(false);
    let log = Log::open(store.clone(), signer(), ORIGIN).unwrap();
    assert_eq!(log.size(), 2, "durable but unacknowledged entries are kept");
    assert_eq!(log.entry(1).unwrap(), entry(1));
    log.check_integrity().unwrap();
}

#[test]
fn torn_writes_are_discarded_on_recovery() {
    for fault in [Fault::AppendTorn, Fault::AppendFails] {
        let store = MemoryStore::new();
        let log = Log::open(store.clone(), signer(), ORIGIN).unwrap();
        log.append_batch((0..300).map(entry).collect()).unwrap();
        store.inject(fault, 0);
        assert!(log.append_batch((300..340).map(entry).collect()).is_err());
        drop(log);
        store.crash(true);
        let log = Log::open(store.clone(), signer(), ORIGIN).unwrap();
        assert_eq!(log.size(), 300);
        log.check_integrity().unwrap();
        assert_eq!(log.append(entry(999)).unwrap(), 300);
        log.check_integrity().unwrap();
    }
}

#[test]
fn hashes_lost_in_a_crash_are_rederived_from_durable_entries() {
    let store = MemoryStore::new();
    let log = Log::open(store.clone(), signer(), ORIGIN).unwrap();
    // The stored checkpoint stays at size 0: every hash file write after it is lost in the crash.
    store.inject(Fault::CheckpointFails, 0);
    let n = 256 * 256 + 300;
    log.append_batch((0..n).map(entry).collect()).unwrap();
    let root = log.root(n).unwrap();
    drop(log);
    store.crash(false);
    let log = Log::open(store.clone(), signer(), ORIGIN).unwrap();
    assert_eq!(log.size(), n);
    assert_eq!(log.root(n).unwrap(), root);
    log.check_integrity().unwrap();
}

#[test]
fn corruption_is_reported_not_served() {
    let store = MemoryStore::new();
    let log = Log::open(store.clone(), signer(), ORIGIN).unwrap();
    log.append_batch((0..600).map(entry).collect()).unwrap();
    log.check_integrity().unwrap();
    store.corrupt_entry(5);
    assert!(matches!(log.check_integrity(), Err(Error::Corrupted(_))));
    assert!(matches!(log.entry(5), Err(Error::Corrupted(_))));
    assert!(matches!(log.entries(0..10), Err(Error::Corrupted(_))));
    assert!(matches!(
        log.read_entry_bundle(0, None),
        Err(Error::Corrupted(_))
    ));
    store.corrupt_entry(5);
    log.check_integrity().unwrap();
    store.corrupt_hash(1, 1);
    assert!(matches!(log.check_integrity(), Err(Error::Corrupted(_))));
    store.corrupt_hash(1, 1);
    store.corrupt_hash(0, 520);
    assert!(matches!(log.check_integrity(), Err(Error::Corrupted(_))));
}

#[test]
fn tiles_and_bundles_follow_c2sp_tlog_tiles() {
    let dir = tempfile::tempdir().unwrap();
    contract::tiles_and_bundles_follow_c2sp_tlog_tiles(|| FsStore::open(dir.path()).unwrap());
}

#[test]
fn flipped_bytes_on_disk_are_detected() {
    use std::os::unix::fs::FileExt;
    let flip = |path: std::path::PathBuf, offset: u64| {
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .unwrap();
        let mut b = [0u8];
        file.read_exact_at(&mut b, offset).unwrap();
        file.write_all_at(&[b[0] ^ 0x40], offset).unwrap();
    };
    for (file, offset) in [
        ("level-0", 32 * 300 + 7),
        ("journal", 5),
        ("journal", 2 + 14 + 3), // inside the journal's copy of leaf hash 0
        ("level-1", 3),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let log = Log::open(FsStore::open(dir.path()).unwrap(), signer(), ORIGIN).unwrap();
        log.append_batch((0..1000).map(entry).collect()).unwrap();
        log.close().unwrap();
        flip(dir.path().join(file), offset);
        match Log::open(FsStore::open(dir.path()).unwrap(), signer(), ORIGIN) {
            Ok(log) => assert!(
                matches!(log.check_integrity(), Err(Error::Corrupted(_))),
                "{file}"
            ),
            Err(e) => assert!(matches!(e, Error::Corrupted(_)), "{file}: {e}"),
        }
    }
}

#[test]
fn the_store_serves_raw_tiles_too() {
    contract::the_store_serves_raw_tiles_too(MemoryStore::new());
}
