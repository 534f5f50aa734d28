//! RFC 6962 / RFC 9162 Merkle tree hashing, proof generation and proof verification.
//!
//! Proof generation works over any [`NodeSource`] (a storage backend answering from hash tiles, or the in-memory
//! [`MemoryTree`]) and asks it for O(log n) perfect-subtree hashes per proof.

use sha2::{Digest, Sha256};

use crate::error::Error;

/// A SHA-256 tree hash.
pub type Hash = [u8; 32];

/// The hash of the empty tree, SHA-256("") (RFC 9162 §2.1.1).
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The hash of a leaf, SHA-256(0x00 || data) (RFC 9162 §2.1.1).
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(data);
    h.finalize().into()
}

/// The hash of an interior node, SHA-256(0x01 || left || right) (RFC 9162 §2.1.1).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// Anything that can supply the hashes of perfect subtrees of one append-only tree.
pub trait NodeSource {
    /// The hash of the perfect subtree covering leaves `[index << level, (index + 1) << level)`.
    ///
    /// Level 0 is the leaf hashes. Fails with [`Error::MissingNode`] if that subtree is not complete in the
    /// source (or with a storage error if the backend could not read it).
    fn node(&self, level: u8, index: u64) -> Result<Hash, Error>;
}

/// The largest power of two strictly below `n` (`n >= 2`), the split point `k` of RFC 9162 §2.1.1.
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

/// MTH(D[start:end]) for a range whose `start` is aligned to a power of two at least `end - start`, which is
/// every range an RFC 9162 proof refers to. The range is split into perfect subtrees, largest first; the
/// root folds them right to left, exactly as the RFC's recursive split does.
fn range_hash(src: &(impl NodeSource + ?Sized), start: u64, end: u64) -> Result<Hash, Error> {
    debug_assert!(start < end);
    let mut blocks: Vec<Hash> = Vec::new();
    let mut pos = start;
    while pos < end {
        let remaining = end - pos;
        // The largest power of two that fits the remaining range and to which `pos` is aligned.
        let mut level = 63 - remaining.leading_zeros();
        if pos != 0 {
            level = level.min(pos.trailing_zeros());
        }
        let level_u8 = u8::try_from(level).expect("a u64 has at most 64 levels");
        blocks.push(src.node(level_u8, pos >> level)?);
        pos += 1 << level;
    }
    let mut acc = blocks
        .pop()
        .expect("a non-empty range has at least one block");
    while let Some(left) = blocks.pop() {
        acc = node_hash(&left, &acc);
    }
    Ok(acc)
}

/// The root hash of the first `size` leaves of the tree (RFC 9162 §2.1.1 MTH).
pub fn tree_root(size: u64, src: &(impl NodeSource + ?Sized)) -> Result<Hash, Error> {
    if size == 0 {
        return Ok(empty_root());
    }
    range_hash(src, 0, size)
}

/// The inclusion proof of leaf `index` in the tree of `size` leaves (RFC 9162 §2.1.3.1 PATH), leaf side first.
pub fn inclusion_proof(
    index: u64,
    size: u64,
    src: &(impl NodeSource + ?Sized),
) -> Result<Vec<Hash>, Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    // Walk from the root down to the leaf, collecting siblings; the RFC lists them leaf side first.
    let (mut lo, mut hi) = (0u64, size);
    let mut path = Vec::new();
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if index - lo < k {
            path.push(range_hash(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            path.push(range_hash(src, lo, lo + k)?);
            lo += k;
        }
    }
    path.reverse();
    Ok(path)
}

/// The consistency proof from tree size `old` to tree size `new` (RFC 9162 §2.1.4.1 PROOF), leaf side first.
///
/// Defined for `0 < old <= new`; for `old == new` it is empty. Any tree trivially extends the empty tree, and
/// [`verify_consistency`] rejects `old == 0`, so asking for it is an error ([`Error::InvalidSizes`]).
pub fn consistency_proof(
    old: u64,
    new: u64,
    src: &(impl NodeSource + ?Sized),
) -> Result<Vec<Hash>, Error> {
    if old == 0 || old > new {
        return Err(Error::InvalidSizes { old, new });
    }
    // SUBPROOF(m, D[lo:hi], b), unrolled: `m` is the old size relative to `lo`, `complete` is b.
    let (mut lo, mut hi) = (0u64, new);
    let mut complete = true;
    let mut proof = Vec::new();
    loop {
        let m = old - lo;
        let n = hi - lo;
        if m == n {
            if !complete {
                proof.push(range_hash(src, lo, hi)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            proof.push(range_hash(src, lo + k, hi)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(src, lo, lo + k)?);
            lo += k;
            complete = false;
        }
    }
    proof.reverse();
    Ok(proof)
}

/// Reads a 32-byte hash from untrusted bytes.
fn to_hash(bytes: &[u8]) -> Result<Hash, Error> {
    Hash::try_from(bytes).map_err(|_| Error::HashLength(bytes.len()))
}

/// Verifies that `leaf_hash` is leaf `index` of the tree of `size` leaves with root `root` (RFC 9162 §2.1.3.2).
///
/// Accepts untrusted byte strings of any length (wrong lengths are errors, never panics); `&Hash` arguments
/// coerce to `&[u8]`, and `proof` may be `&[Hash]` or `&[Vec<u8>]`.
pub fn verify_inclusion<P: AsRef<[u8]>>(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[P],
    root: &[u8],
) -> Result<(), Error> {
    // Step 1.
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let leaf = to_hash(leaf_hash)?;
    let root = to_hash(root)?;
    // Step 2-3.
    let (mut f, mut s) = (index, size - 1);
    let mut r = leaf;
    // Step 4.
    for p in proof {
        let p = to_hash(p.as_ref())?;
        if s == 0 {
            return Err(Error::ProofLength);
        }
        if f & 1 == 1 || f == s {
            r = node_hash(&p, &r);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            r = node_hash(&r, &p);
        }
        f >>= 1;
        s >>= 1;
    }
    // Step 5.
    if s != 0 {
        return Err(Error::ProofLength);
    }
    if r != root {
        return Err(Error::RootMismatch);
    }
    Ok(())
}

/// Verifies that the tree of `new` leaves with root `new_root` extends the tree of `old` leaves with root
/// `old_root` (RFC 9162 §2.1.4.2).
///
/// Requires `0 < old <= new`. For `old == new` the proof must be empty and the roots byte-identical (their
/// length is not checked, as in the reference vectors). Untrusted inputs never panic.
pub fn verify_consistency<P: AsRef<[u8]>>(
    old: u64,
    new: u64,
    proof: &[P],
    old_root: &[u8],
    new_root: &[u8],
) -> Result<(), Error> {
    if old == 0 || old > new {
        return Err(Error::InvalidSizes { old, new });
    }
    if old == new {
        if !proof.is_empty() {
            return Err(Error::ProofLength);
        }
        if old_root != new_root {
            return Err(Error::RootMismatch);
        }
        return Ok(());
    }
    // Step 1.
    if proof.is_empty() {
        return Err(Error::ProofLength);
    }
    let old_root = to_hash(old_root)?;
    let new_root = to_hash(new_root)?;
    let proof: Vec<Hash> = proof
        .iter()
        .map(|p| to_hash(p.as_ref()))
        .collect::<Result<_, _>>()?;
    // Step 2: when old is a power of two its root is a node of the new tree and not sent in the proof.
    let mut path = proof.as_slice();
    let first = if old.is_power_of_two() {
        old_root
    } else {
        let (first, rest) = path.split_first().expect("checked non-empty above");
        path = rest;
        *first
    };
    // Step 3-4.
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    // Step 5.
    let (mut fr, mut sr) = (first, first);
    // Step 6.
    for c in path {
        if s == 0 {
            return Err(Error::ProofLength);
        }
        if f & 1 == 1 || f == s {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if f & 1 == 0 {
                while f & 1 == 0 && f != 0 {
                    f >>= 1;
                    s >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        f >>= 1;
        s >>= 1;
    }
    // Step 7.
    if s != 0 {
        return Err(Error::ProofLength);
    }
    if fr != old_root || sr != new_root {
        return Err(Error::RootMismatch);
    }
    Ok(())
}

/// An in-memory Merkle tree keeping every level, so [`NodeSource::node`] is O(1).
///
/// Used by the vault for document commitments and by tests; about two hashes of memory per leaf.
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    /// `levels[l][i]` is the perfect subtree hash `node(l, i)`; `levels[0]` holds the leaf hashes.
    levels: Vec<Vec<Hash>>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a leaf hash (see [`leaf_hash`]) and returns its index.
    pub fn push(&mut self, leaf: Hash) -> u64 {
        let index = self.size();
        let mut hash = leaf;
        let mut level = 0;
        loop {
            if self.levels.len() == level {
                self.levels.push(Vec::new());
            }
            let row = &mut self.levels[level];
            row.push(hash);
            // A right child completes its parent.
            if row.len() % 2 == 1 {
                break;
            }
            hash = node_hash(&row[row.len() - 2], &row[row.len() - 1]);
            level += 1;
        }
        index
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// The root hash of the whole tree.
    pub fn root(&self) -> Hash {
        tree_root(self.size(), self).expect("a memory tree holds every complete subtree")
    }

    /// The root hash of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<Hash, Error> {
        tree_root(size, self)
    }

    /// The inclusion proof of leaf `index` in the tree of its first `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, Error> {
        inclusion_proof(index, size, self)
    }

    /// The consistency proof between the trees of its first `old` and `new` leaves.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, Error> {
        consistency_proof(old, new, self)
    }
}

impl FromIterator<Hash> for MemoryTree {
    fn from_iter<I: IntoIterator<Item = Hash>>(leaves: I) -> Self {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push(leaf);
        }
        tree
    }
}

impl NodeSource for MemoryTree {
    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.levels.get(usize::from(level))?.get(i))
            .copied()
            .ok_or(Error::MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests;
