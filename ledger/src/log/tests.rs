//! Property tests: appends in random groups give the same tree as the reference `MemoryTree`, and every
//! proof the log serves verifies.
#![allow(clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use proptest::prelude::*;

use super::Log;
use crate::merkle::{MemoryTree, leaf_hash, verify_consistency, verify_inclusion};
use crate::note::NoteSigner;
use crate::store::MemoryStore;

fn signer() -> NoteSigner {
    NoteSigner::from_key("example.com/prop", SigningKey::from_bytes(&[1u8; 32])).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn append_prove_verify(groups in proptest::collection::vec(1usize..700, 1..4), picks in proptest::collection::vec(any::<u64>(), 8)) {
        let store = MemoryStore::new();
        let log = Log::open(store.clone(), signer(), "example.com/prop").unwrap();
        let mut tree = MemoryTree::new();
        let mut sizes = Vec::new();
        for g in groups {
            let base = tree.size();
            let entries: Vec<Vec<u8>> = (base..base + g as u64).map(|i| i.to_le_bytes().to_vec()).collect();
            for e in &entries {
                tree.push(leaf_hash(e));
            }
            let range = log.append_batch(entries).unwrap();
            prop_assert_eq!(range.end, tree.size());
            sizes.push(tree.size());
        }
        let size = log.size();
        let root = tree.root();
        prop_assert_eq!(log.root(size).unwrap(), root);
        for p in &picks {
            let index = p % size;
            let proof = log.inclusion_proof(index, size).unwrap();
            verify_inclusion(&leaf_hash(&index.to_le_bytes()), index, size, &proof, &root).unwrap();
            let old = 1 + p % size;
            let proof = log.consistency_proof(old, size).unwrap();
            verify_consistency(old, size, &proof, &tree.root_at(old).unwrap(), &root).unwrap();
        }
        drop(log);
        // Reopening rebuilds the same tree.
        let log = Log::open(store, signer(), "example.com/prop").unwrap();
        prop_assert_eq!(log.root(size).unwrap(), root);
        log.check_integrity().unwrap();
    }
}

/// Entries queued first get the lower indices, whoever waits first; a caller may release its own ordering
/// (the service's certificate lock) once its entry is queued.
#[test]
fn queued_entries_keep_their_order_whoever_waits_first() {
    let log = Log::open(MemoryStore::new(), signer(), "example.com/prop").unwrap();
    let base = log.size();
    let first = log.enqueue(vec![b"first".to_vec()]).unwrap();
    let second = log
        .enqueue(vec![b"second".to_vec(), b"third".to_vec()])
        .unwrap();
    let empty = log.enqueue(Vec::new()).unwrap();
    assert_eq!(second.wait().unwrap(), base + 1..base + 3);
    assert_eq!(first.wait().unwrap(), base..base + 1);
    assert!(empty.wait().unwrap().is_empty());
    assert_eq!(log.entry(base).unwrap(), b"first");
    assert_eq!(log.entry(base + 2).unwrap(), b"third");
}
