//! Behaviour every log store must show, written once over any [`Store`] and run by each store's tests
//! (storage.rs for memory and files, pg_log.rs for PostgreSQL) through `#[path]`.
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use ledger::{
    Error, Log, MemoryTree, NodeSource, NoteSigner, Store, decode_bundle, leaf_hash,
    open_checkpoint, verify_consistency, verify_inclusion,
};

pub(crate) const ORIGIN: &str = "example.com/ledger-test";

pub(crate) fn signer() -> NoteSigner {
    NoteSigner::from_key(ORIGIN, SigningKey::from_bytes(&[7u8; 32])).unwrap()
}

pub(crate) fn entry(i: u64) -> Vec<u8> {
    format!("entry number {i}").into_bytes()
}

/// Size and root a checkpoint note signs, checked with the log's key.
pub(crate) fn signed(note: &[u8]) -> (u64, Vec<u8>) {
    let cp = open_checkpoint(note, ORIGIN, &signer().verifier()).unwrap();
    (cp.size, cp.root_hash.to_vec())
}

/// Eight threads append 50 entries each: every index once, every entry provable in the final checkpoint,
/// an older tree consistent with it, and the whole store verifies.
pub(crate) fn concurrent_appends_are_provable(log: &Arc<Log>) {
    let base = log.size();
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let log = Arc::clone(log);
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
    assert_eq!(indices, (base..base + 400).collect::<Vec<_>>());
    let (size, root) = signed(&log.checkpoint());
    assert_eq!(size, base + 400);
    assert_eq!(log.refresh().unwrap(), size, "nobody else appended");
    // A range read in one call gives what single reads give, and nothing beyond the log.
    let ranged = log.entries(base..size).unwrap();
    for (index, bytes) in (base..size).zip(&ranged) {
        assert_eq!(bytes, &log.entry(index).unwrap());
    }
    assert!(matches!(
        log.entries(base..size + 1),
        Err(Error::BeyondLog { .. })
    ));
    for (index, n) in acked {
        assert_eq!(log.entry(index).unwrap(), entry(n));
        let proof = log.inclusion_proof(index, size).unwrap();
        verify_inclusion(&leaf_hash(&entry(n)), index, size, &proof, &root).unwrap();
    }
    let old_root = log.root(base + 123).unwrap();
    verify_consistency(
        base + 123,
        size,
        &log.consistency_proof(base + 123, size).unwrap(),
        &old_root,
        &root,
    )
    .unwrap();
    log.check_integrity().unwrap();
}

/// 70,000 entries, reopened: the tiles and bundles C2SP tlog-tiles' own example describes.
pub(crate) fn tiles_and_bundles_follow_c2sp_tlog_tiles<S: Store + 'static>(open: impl Fn() -> S) {
    let n = 70_000u64;
    let mut tree = MemoryTree::new();
    {
        let log = Log::open(open(), signer(), ORIGIN).unwrap();
        log.append_batch((0..n).map(entry).collect()).unwrap();
        log.close().unwrap();
    }
    for i in 0..n {
        tree.push(leaf_hash(&entry(i)));
    }
    let log = Log::open(open(), signer(), ORIGIN).unwrap();
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

/// The store's raw tiles and bundles are the log's verified ones; nothing beyond the log is served.
pub(crate) fn the_store_serves_raw_tiles_too<S: Store + Clone + 'static>(store: S) {
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

/// A log opened over a store holding another log (another key, or another origin) is refused, and the
/// store is left as it was.
pub(crate) fn another_key_or_origin_is_refused<S: Store + 'static>(open: impl Fn() -> S) {
    let log = Log::open(open(), signer(), ORIGIN).unwrap();
    log.append_batch((0..10).map(entry).collect()).unwrap();
    let checkpoint = log.checkpoint();
    log.close().unwrap();
    let other_key = NoteSigner::from_key(ORIGIN, SigningKey::from_bytes(&[8u8; 32])).unwrap();
    assert!(Log::open(open(), other_key, ORIGIN).is_err());
    let other_origin = "example.com/another-log";
    let same_key = NoteSigner::from_key(other_origin, SigningKey::from_bytes(&[7u8; 32])).unwrap();
    assert!(Log::open(open(), same_key, other_origin).is_err());
    let log = Log::open(open(), signer(), ORIGIN).unwrap();
    assert_eq!(log.checkpoint(), checkpoint);
    log.append(entry(10)).unwrap();
}

/// A log that "died" (forgotten: no close, no final checkpoint write) is reopened at every entry it
/// acknowledged, and the checkpoint the new one signs over that size is byte-identical to the dead one's.
pub(crate) fn a_log_that_died_is_recovered<S: Store + 'static>(open: impl Fn() -> S) {
    let log = Log::open(open(), signer(), ORIGIN).unwrap();
    for i in 0..5 {
        log.append_batch((i * 100..i * 100 + 100).map(entry).collect())
            .unwrap();
    }
    let (size, checkpoint) = (log.size(), log.checkpoint());
    // Its threads stay parked forever; the store sees no more writes than a killed process would make.
    std::mem::forget(log);
    let log = Log::open(open(), signer(), ORIGIN).unwrap();
    assert_eq!(log.size(), size);
    assert_eq!(log.checkpoint(), checkpoint, "deterministic signing");
    for i in (0..size).step_by(37) {
        assert_eq!(log.entry(i).unwrap(), entry(i));
    }
    log.check_integrity().unwrap();
}
