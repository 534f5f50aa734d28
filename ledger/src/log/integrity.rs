//! The full integrity check: every stored entry, every tile hash and the checkpoint root, recomputed.

use super::Snapshot;
use super::source::EdgeSource;
use crate::Error;
use crate::merkle::{leaf_hash, tree_root};
use crate::store::Store;
use crate::tiles::{TILE_WIDTH, level_count, level_span, subtree_root};

/// Check the stored state behind `snap` from the bottom up; the first mismatch is reported as
/// [`Error::Corrupted`] naming where it is.
pub(crate) fn check(store: &dyn Store, snap: &Snapshot) -> Result<(), Error> {
    store.check_internal()?;
    // Entries against level 0, one bundle at a time.
    let mut start = 0;
    while start < snap.size {
        let width = TILE_WIDTH.min(snap.size - start);
        let entries = store.read_entries(start, width)?;
        let leaves = store.read_hashes(0, start, width)?;
        for ((entry, leaf), i) in entries.iter().zip(&leaves).zip(start..) {
            if leaf_hash(entry) != *leaf {
                return Err(Error::Corrupted(format!(
                    "entry {i} does not match its stored leaf hash"
                )));
            }
        }
        start += width;
    }
    // Every full tile against its parent hash; every partial tile against the signed right edge.
    for level in 0..level_span(snap.size) {
        let count = level_count(snap.size, level);
        for index in 0..count / TILE_WIDTH {
            let tile = store.read_hashes(level, index * TILE_WIDTH, TILE_WIDTH)?;
            let parent = store.read_hashes(level + 1, index, 1)?;
            if parent.first() != Some(&subtree_root(&tile)) {
                return Err(Error::Corrupted(format!(
                    "tile {level}/{index} does not hash to its stored parent"
                )));
            }
        }
        let base = count / TILE_WIDTH * TILE_WIDTH;
        let partial = store.read_hashes(level, base, count - base)?;
        if snap.edge.get(usize::from(level)) != Some(&partial) {
            return Err(Error::Corrupted(format!(
                "partial tile {level}/{} differs from the signed tree",
                base / TILE_WIDTH
            )));
        }
    }
    // The right edge against the checkpoint's root (via the snapshot's own, signed, root).
    let root = tree_root(snap.size, &EdgeSource(snap))?;
    if root != snap.root {
        return Err(Error::Corrupted(
            "tree root differs from the signed checkpoint".into(),
        ));
    }
    Ok(())
}
