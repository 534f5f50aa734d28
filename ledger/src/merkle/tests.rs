//! Merkle tree tests: a naive recursive RFC 6962 reference, known answers, and property tests.
#![allow(clippy::unwrap_used, clippy::cast_possible_truncation)] // test sizes are small

use std::cell::Cell;

use proptest::prelude::*;

use super::*;

/// MTH(D[n]) straight from RFC 9162 §2.1.1.
fn mth(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = split_point(n as u64) as usize;
            node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]) straight from RFC 9162 §2.1.3.1.
fn path(m: usize, leaves: &[Hash]) -> Vec<Hash> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split_point(n as u64) as usize;
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

/// SUBPROOF(m, D[n], b) straight from RFC 9162 §2.1.4.1.
fn subproof(m: usize, leaves: &[Hash], b: bool) -> Vec<Hash> {
    let n = leaves.len();
    if m == n {
        return if b { Vec::new() } else { vec![mth(leaves)] };
    }
    let k = split_point(n as u64) as usize;
    if m <= k {
        let mut p = subproof(m, &leaves[..k], b);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = subproof(m - k, &leaves[k..], false);
        p.push(mth(&leaves[..k]));
        p
    }
}

fn leaves(n: u64) -> Vec<Hash> {
    (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect()
}

/// Counts node requests, to check proofs stay O(log n).
struct Counting<'a> {
    tree: &'a MemoryTree,
    calls: Cell<u64>,
}

impl NodeSource for Counting<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        self.calls.set(self.calls.get() + 1);
        self.tree.node(level, index)
    }
}

#[test]
fn known_root_of_reference_leaves() {
    // The leaves behind the transparency-dev vectors (shared/vectors/rfc6962/README.md).
    let data: [&[u8]; 8] = [
        b"",
        &[0x00],
        &[0x10],
        &[0x20, 0x21],
        &[0x30, 0x31],
        &[0x40, 0x41, 0x42, 0x43],
        &[0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57],
        &[
            0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
            0x6e, 0x6f,
        ],
    ];
    let tree: MemoryTree = data.iter().map(|d| leaf_hash(d)).collect();
    assert_eq!(
        hex::encode(tree.root()),
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    );
    assert_eq!(MemoryTree::new().root(), empty_root());
    assert_eq!(
        hex::encode(empty_root()),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn proofs_request_logarithmically_many_nodes() {
    let tree: MemoryTree = leaves(1000).into_iter().collect();
    let src = Counting {
        tree: &tree,
        calls: Cell::new(0),
    };
    for (index, size) in [(0, 1000), (999, 1000), (513, 777), (3, 999)] {
        src.calls.set(0);
        inclusion_proof(index, size, &src).unwrap();
        assert!(
            src.calls.get() <= 2 * 10,
            "inclusion {index}/{size}: {} calls",
            src.calls.get()
        );
    }
    for (old, new) in [(1, 1000), (999, 1000), (513, 777), (3, 999), (511, 1000)] {
        src.calls.set(0);
        consistency_proof(old, new, &src).unwrap();
        assert!(
            src.calls.get() <= 2 * 10,
            "consistency {old}/{new}: {} calls",
            src.calls.get()
        );
    }
}

#[test]
fn out_of_range_requests_are_errors() {
    let tree: MemoryTree = leaves(5).into_iter().collect();
    assert!(matches!(
        tree.inclusion_proof(5, 5),
        Err(Error::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        tree.inclusion_proof(0, 6),
        Err(Error::MissingNode { .. })
    ));
    assert!(matches!(tree.root_at(6), Err(Error::MissingNode { .. })));
    assert!(matches!(
        tree.consistency_proof(0, 5),
        Err(Error::InvalidSizes { .. })
    ));
    assert!(matches!(
        tree.consistency_proof(4, 3),
        Err(Error::InvalidSizes { .. })
    ));
    assert!(tree.consistency_proof(5, 5).unwrap().is_empty());
    assert!(matches!(
        tree.node(0, u64::MAX),
        Err(Error::MissingNode { .. })
    ));
    assert!(matches!(tree.node(63, 0), Err(Error::MissingNode { .. })));
    // Verification of absurd sizes terminates with an error rather than overflowing.
    let root = tree.root();
    let proof = vec![root; 70];
    assert!(verify_inclusion(&root, u64::MAX - 1, u64::MAX, &proof, &root).is_err());
    assert!(verify_consistency(u64::MAX - 1, u64::MAX, &proof, &root, &root).is_err());
}

fn flip(bytes: &mut Hash, bit: usize) {
    bytes[bit / 8 % 32] ^= 1 << (bit % 8);
}

#[test]
fn all_small_trees_match_reference() {
    // Exhaustive for every size up to 64: each inclusion proof and each consistency pair.
    let leaves = leaves(64);
    let tree: MemoryTree = leaves.iter().copied().collect();
    for size in 1..=64u64 {
        let n = size as usize;
        let root = tree.root_at(size).unwrap();
        assert_eq!(root, mth(&leaves[..n]));
        for index in 0..size {
            let proof = tree.inclusion_proof(index, size).unwrap();
            assert_eq!(proof, path(index as usize, &leaves[..n]));
            verify_inclusion(&leaves[index as usize], index, size, &proof, &root).unwrap();
        }
        for old in 1..size {
            let proof = tree.consistency_proof(old, size).unwrap();
            assert_eq!(proof, subproof(old as usize, &leaves[..n], true));
            verify_consistency(old, size, &proof, &tree.root_at(old).unwrap(), &root).unwrap();
        }
    }
}

proptest! {
    // Each case proves every index of a tree against the O(n)-per-proof reference: keep the count modest.
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn every_inclusion_proof_verifies_and_matches_reference(size in 1u64..=300) {
        let leaves = leaves(size);
        let tree: MemoryTree = leaves.iter().copied().collect();
        let root = tree.root();
        prop_assert_eq!(root, mth(&leaves));
        for index in 0..size {
            let proof = tree.inclusion_proof(index, size).unwrap();
            prop_assert_eq!(&proof, &path(index as usize, &leaves));
            prop_assert!(verify_inclusion(&leaves[index as usize], index, size, &proof, &root).is_ok());
        }
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn inclusion_in_older_tree_sizes(size in 1u64..=300, a in any::<u64>(), b in any::<u64>()) {
        let leaves = leaves(size);
        let tree: MemoryTree = leaves.iter().copied().collect();
        let at = 1 + a % size;
        let index = b % at;
        let proof = tree.inclusion_proof(index, at).unwrap();
        let root = tree.root_at(at).unwrap();
        prop_assert_eq!(root, mth(&leaves[..at as usize]));
        prop_assert_eq!(&proof, &path(index as usize, &leaves[..at as usize]));
        prop_assert!(verify_inclusion(&leaves[index as usize], index, at, &proof, &root).is_ok());
    }

    #[test]
    fn consistency_between_random_sizes(new in 1u64..=300, a in any::<u64>()) {
        let leaves = leaves(new);
        let tree: MemoryTree = leaves.iter().copied().collect();
        let old = 1 + a % new;
        let proof = tree.consistency_proof(old, new).unwrap();
        let expected = if old == new { Vec::new() } else { subproof(old as usize, &leaves, true) };
        prop_assert_eq!(&proof, &expected);
        let (old_root, new_root) = (tree.root_at(old).unwrap(), tree.root());
        prop_assert!(verify_consistency(old, new, &proof, &old_root, &new_root).is_ok());
    }

    #[test]
    fn tampered_inclusion_is_rejected(size in 2u64..=300, a in any::<u64>(), bit in any::<usize>(), which in any::<usize>()) {
        let leaves = leaves(size);
        let tree: MemoryTree = leaves.iter().copied().collect();
        let index = a % size;
        let leaf = leaves[index as usize];
        let root = tree.root();
        let proof = tree.inclusion_proof(index, size).unwrap();

        let mut bad = proof.clone();
        let i = which % bad.len();
        flip(&mut bad[i], bit);
        prop_assert!(verify_inclusion(&leaf, index, size, &bad, &root).is_err());

        let mut bad_root = root;
        flip(&mut bad_root, bit);
        prop_assert!(verify_inclusion(&leaf, index, size, &proof, &bad_root).is_err());

        let other = (index + 1 + (which as u64) % (size - 1)) % size;
        prop_assert!(verify_inclusion(&leaf, other, size, &proof, &root).is_err());
        prop_assert!(verify_inclusion(&leaf, index, size, &proof[..proof.len() - 1], &root).is_err());
        let mut longer = proof.clone();
        longer.push(root);
        prop_assert!(verify_inclusion(&leaf, index, size, &longer, &root).is_err());
    }

    #[test]
    fn tampered_consistency_is_rejected(new in 2u64..=300, a in any::<u64>(), bit in any::<usize>(), which in any::<usize>()) {
        let leaves = leaves(new);
        let tree: MemoryTree = leaves.iter().copied().collect();
        let old = 1 + a % (new - 1);
        let proof = tree.consistency_proof(old, new).unwrap();
        let (old_root, new_root) = (tree.root_at(old).unwrap(), tree.root());

        let mut bad = proof.clone();
        let i = which % bad.len();
        flip(&mut bad[i], bit);
        prop_assert!(verify_consistency(old, new, &bad, &old_root, &new_root).is_err());

        let mut bad_old = old_root;
        flip(&mut bad_old, bit);
        prop_assert!(verify_consistency(old, new, &proof, &bad_old, &new_root).is_err());
        let mut bad_new = new_root;
        flip(&mut bad_new, bit);
        prop_assert!(verify_consistency(old, new, &proof, &old_root, &bad_new).is_err());

        prop_assert!(verify_consistency(old, new, &proof[..proof.len() - 1], &old_root, &new_root).is_err());
        let mut longer = proof.clone();
        longer.push(new_root);
        prop_assert!(verify_consistency(old, new, &longer, &old_root, &new_root).is_err());
    }
}
