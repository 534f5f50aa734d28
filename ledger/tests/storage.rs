//! The log over its stores: group commit, fault injection, recovery, corruption detection, tile layout.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use ledger::{
    Error, Fault, FsStore, Log, MemoryStore, MemoryTree, NodeSource, NoteSigner, Store,
    decode_bundle, leaf_hash, open_checkpoint, verify_consistency, verify_inclusion,
};

const ORIGIN: &str = "example.com/ledger-test";

fn signer() -> NoteSigner {
    NoteSigner::from_key(ORIGIN, SigningKey::from_bytes(&[7u8; 32])).unwrap()
}

fn entry(i: u64) -> Vec<u8> {
    format!("entry number {i}").into_bytes()
}

/// Size and root a checkpoint note signs, checked with the log's key.
fn signed(note: &[u8]) -> (u64, Vec<u8>) {
    let cp = open_checkpoint(note, ORIGIN, &signer().verifier()).unwrap();
    (cp.size, cp.root_hash.to_vec())
}

#[test]
fn concurrent_appends_are_group_committed_and_provable() {
    let store = MemoryStore::new();
    let log = Arc::new(Log::open(store.clone(), signer(), ORIGIN).unwrap());
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                (0..50)
                    .map(|i| (log.append(entry(t * 1000 + i)).unwrap(), t * 1000 + i))
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let acked: Vec<(u64, u64)> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let mut indices: Vec<u64> = acked.iter().map(|a| a.0).collect();
    indices.sort_unstable();
    assert_eq!(indices, (0..400).collect::<Vec<_>>());
    assert!(store.syncs() <= 400, "at most one sync per append");
    let (size, root) = signed(&log.checkpoint());
    assert_eq!(size, 400);
    for (index, n) in acked {
        assert_eq!(log.entry(index).unwrap(), entry(n));
        let proof = log.inclusion_proof(index, size).unwrap();
        verify_inclusion(&leaf_hash(&entry(n)), index, size, &proof, &root).unwrap();
    }
    let old_root = log.root(123).unwrap();
    verify_consistency(
        123,
        400,
        &log.consistency_proof(123, 400).unwrap(),
        &old_root,
        &root,
    )
    .unwrap();
    log.check_integrity().unwrap();
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
    let n = 70_000u64;
    let mut tree = MemoryTree::new();
    {
        let log = Log::open(FsStore::open(dir.path()).unwrap(), signer(), ORIGIN).unwrap();
        log.append_batch((0..n).map(entry).collect()).unwrap();
        log.close().unwrap();
    }
    for i in 0..n {
        tree.push(leaf_hash(&entry(i)));
    }
    let log = Log::open(FsStore::open(dir.path()).unwrap(), signer(), ORIGIN).unwrap();
    assert_eq!(log.size(), n);
    assert_eq!(signed(&log.checkpoint()).1, tree.root().to_vec());
    // 273 full level-0 tiles, a partial of width 112; level 1 partial of width 17 after one full; level 2 width 1.
    assert_eq!(log.read_tile(0, 272, None).unwrap().len(), 8192);
    assert_eq!(log.read_tile(0, 273, Some(112)).unwrap().len(), 112 * 32);
    assert!(log.read_tile(0, 273, None).is_err());
    assert!(log.read_tile(0, 273, Some(113)).is_err());
    let level1 = log.read_tile(1, 1, Some(17)).unwrap();
    for (i, h) in level1.chunks(32).enumerate() {
        assert_eq!(h, tree.node(8, 256 + i as u64).unwrap());
    }
    assert_eq!(
        log.read_tile(2, 0, Some(1)).unwrap(),
        tree.node(16, 0).unwrap()
    );
    let bundle = decode_bundle(&log.read_entry_bundle(273, Some(112)).unwrap()).unwrap();
    assert_eq!(bundle, (273 * 256..n).map(entry).collect::<Vec<_>>());
    assert_eq!(
        decode_bundle(&log.read_entry_bundle(3, None).unwrap())
            .unwrap()
            .len(),
        256
    );
    assert!(matches!(
        log.read_tile(0, 0, Some(0)),
        Err(Error::InvalidWidth)
    ));
    log.check_integrity().unwrap();
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
    let store = MemoryStore::new();
    let log = Log::open(store.clone(), signer(), ORIGIN).unwrap();
    log.append_batch((0..300).map(entry).collect()).unwrap();
    assert_eq!(
        store.read_tile(0, 1, Some(44)).unwrap(),
        log.read_tile(0, 1, Some(44)).unwrap()
    );
    assert_eq!(
        store.read_entry_bundle(0, None).unwrap(),
        log.read_entry_bundle(0, None).unwrap()
    );
    assert!(log.read_entry_bundle(1, Some(45)).is_err());
    assert!(log.inclusion_proof(0, 301).is_err());
}
