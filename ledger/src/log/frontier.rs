//! The perfect subtrees of each partial tile on the right edge, kept up to date as hashes arrive, so that the
//! sequencer hashes every tree node once instead of re-hashing the whole partial tile at every commit.
//!
//! RFC 9162 §2.1.1 splits a tree of `n` leaves into perfect subtrees by the binary digits of `n`. Inside the
//! partial tile of a tile level these are the subtrees over its first `w` hashes by the digits of `w`, and
//! they change only at the small end as hashes arrive, like a binary counter. Before, the sequencer's root
//! recomputed them from the edge hashes every commit (up to 255 node hashes at level 0): callgrind counted
//! 17 % of the server's instructions per open and 9 % per registration there (docs/performance.md).

use crate::Error;
use crate::merkle::{Hash, NodeSource, node_hash};
use crate::tiles::{TILE_HEIGHT, TILE_WIDTH, level_count, subtree_root};

/// One perfect subtree inside a partial tile.
#[derive(Clone, Copy)]
struct Block {
    /// Position of its first hash in the tile.
    at: u64,
    /// Levels above the tile's bottom (`2^height` hashes).
    height: u8,
    /// Its root.
    root: Hash,
}

/// Per tile level, the perfect subtrees of its partial tile, largest (leftmost) first.
#[derive(Clone, Default)]
pub(crate) struct Frontier(Vec<Vec<Block>>);

impl Frontier {
    /// The frontier of a right edge (its hashes per tile level, as [`super::Snapshot`] keeps them).
    pub(crate) fn of_edge(edge: &[Vec<Hash>]) -> Frontier {
        let mut frontier = Frontier::default();
        for (level, hashes) in (0u8..).zip(edge) {
            for hash in hashes {
                frontier.push(level, *hash);
            }
        }
        frontier
    }

    /// Appends `hash` to the partial tile of `level`. Returns the tile's root once the hash completes it
    /// (256 hashes), and empties that level's frontier, as the edge empties its partial tile.
    pub(crate) fn push(&mut self, level: u8, hash: Hash) -> Option<Hash> {
        let slot = usize::from(level);
        if self.0.len() <= slot {
            self.0.resize_with(slot + 1, Vec::new);
        }
        let blocks = &mut self.0[slot];
        let at = blocks.last().map_or(0, |b| b.at + (1u64 << b.height));
        blocks.push(Block {
            at,
            height: 0,
            root: hash,
        });
        while let [.., left, right] = blocks.as_slice()
            && left.height == right.height
        {
            let merged = Block {
                at: left.at,
                height: left.height + 1,
                root: node_hash(&left.root, &right.root),
            };
            blocks.truncate(blocks.len() - 2);
            blocks.push(merged);
        }
        match blocks.as_slice() {
            [whole] if whole.height == TILE_HEIGHT => {
                let root = whole.root;
                blocks.clear();
                Some(root)
            }
            _ => None,
        }
    }

    fn block(&self, level: u8, at: u64, height: u8) -> Option<Hash> {
        self.0
            .get(usize::from(level))?
            .iter()
            .find(|b| b.at == at && b.height == height)
            .map(|b| b.root)
    }
}

/// Nodes of the tree of `size` leaves whose right edge is `edge`, from the frontier where it has them (every
/// node the root needs) and hashed up from the edge otherwise.
pub(crate) struct FrontierSource<'a> {
    pub(crate) size: u64,
    pub(crate) edge: &'a [Vec<Hash>],
    pub(crate) frontier: &'a Frontier,
}

impl NodeSource for FrontierSource<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let missing = Error::MissingNode { level, index };
        let (tile_level, height) = (level / TILE_HEIGHT, level % TILE_HEIGHT);
        let first = index.checked_mul(1 << height).ok_or(missing)?;
        let count = level_count(self.size, tile_level);
        let at = first
            .checked_sub(count / TILE_WIDTH * TILE_WIDTH)
            .ok_or(Error::MissingNode { level, index })?;
        if let Some(root) = self.frontier.block(tile_level, at, height) {
            return Ok(root);
        }
        let hashes = self
            .edge
            .get(usize::from(tile_level))
            .and_then(|e| {
                e.get(usize::try_from(at).ok()?..usize::try_from(at + (1 << height)).ok()?)
            })
            .ok_or(Error::MissingNode { level, index })?;
        Ok(subtree_root(hashes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, tree_root};
    use crate::tiles::subtree_root;

    /// The sequencer's way (edge + frontier, tile roots pushed up) against the plain definition over all
    /// leaves, for every size up to three level-1 hashes plus a partial tile and across a level-2 boundary.
    #[test]
    fn root_from_the_frontier_is_the_tree_root() {
        let leaves: Vec<Hash> = (0u32..66_000)
            .map(|i| leaf_hash(&i.to_be_bytes()))
            .collect();
        let mut edge: Vec<Vec<Hash>> = Vec::new();
        let mut frontier = Frontier::default();
        for (n, leaf) in (1u64..).zip(&leaves) {
            let (mut level, mut hash) = (0u8, *leaf);
            loop {
                let slot = usize::from(level);
                if edge.len() <= slot {
                    edge.resize_with(slot + 1, Vec::new);
                }
                edge[slot].push(hash);
                match frontier.push(level, hash) {
                    Some(root) => {
                        assert_eq!(root, subtree_root(&edge[slot]));
                        edge[slot].clear();
                        (level, hash) = (level + 1, root);
                    }
                    None => break,
                }
            }
            let checked = n < 1100 || n % 997 == 0 || (65_530..=65_540).contains(&n);
            if checked {
                let source = FrontierSource {
                    size: n,
                    edge: &edge,
                    frontier: &frontier,
                };
                let expected =
                    tree_root(n, &Leaves(&leaves[..usize::try_from(n).unwrap_or(0)])).ok();
                assert_eq!(tree_root(n, &source).ok(), expected, "size {n}");
                let rebuilt = Frontier::of_edge(&edge);
                let source = FrontierSource {
                    frontier: &rebuilt,
                    ..source
                };
                assert_eq!(tree_root(n, &source).ok(), expected, "rebuilt, size {n}");
            }
        }
    }

    /// Every node straight from the leaves.
    struct Leaves<'a>(&'a [Hash]);

    impl NodeSource for Leaves<'_> {
        fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
            let span = 1usize << level;
            let start = usize::try_from(index)
                .unwrap_or(usize::MAX)
                .saturating_mul(span);
            self.0
                .get(start..start + span)
                .map(subtree_root_any)
                .ok_or(Error::MissingNode { level, index })
        }
    }

    fn subtree_root_any(hashes: &[Hash]) -> Hash {
        match hashes {
            [one] => *one,
            _ => {
                let (l, r) = hashes.split_at(hashes.len() / 2);
                node_hash(&subtree_root_any(l), &subtree_root_any(r))
            }
        }
    }
}
