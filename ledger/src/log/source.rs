//! Tree nodes for proofs, served from tiles: full tiles from the store through a verifying cache, the right
//! edge from memory.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use super::Snapshot;
use crate::Error;
use crate::merkle::{Hash, NodeSource};
use crate::store::Store;
use crate::tiles::{TILE_HEIGHT, TILE_WIDTH, TileNodes, level_count, subtree_root};

/// Full tiles kept in memory (each with its inner nodes, 16 KiB): enough for the upper levels of any log
/// and the recently used level-0 tiles.
const CACHE_TILES: usize = 2048;

/// Verified full tiles, keyed by (level, index). Full tiles never change, so entries never go stale.
#[derive(Default)]
pub(crate) struct TileCache {
    inner: Mutex<CacheInner>,
}

#[derive(Default)]
struct CacheInner {
    tiles: HashMap<(u8, u64), Arc<TileNodes>>,
    order: VecDeque<(u8, u64)>,
}

impl TileCache {
    fn get(&self, key: (u8, u64)) -> Option<Arc<TileNodes>> {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tiles
            .get(&key)
            .cloned()
    }

    fn insert(&self, key: (u8, u64), tile: Arc<TileNodes>) {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if inner.tiles.insert(key, tile).is_none() {
            inner.order.push_back(key);
        }
        while inner.order.len() > CACHE_TILES {
            if let Some(old) = inner.order.pop_front() {
                inner.tiles.remove(&old);
            }
        }
    }
}

/// Nodes of one snapshot's tree, read through the cache; every full tile is checked against its parent hash
/// (and so, transitively, against the right edge the checkpoint was signed over) before use.
pub(crate) struct TileSource<'a> {
    store: &'a dyn Store,
    cache: &'a TileCache,
    snap: &'a Snapshot,
}

impl<'a> TileSource<'a> {
    pub(crate) fn new(store: &'a dyn Store, cache: &'a TileCache, snap: &'a Snapshot) -> Self {
        TileSource { store, cache, snap }
    }

    /// Full tile `level/index`, verified.
    fn full_tile(&self, level: u8, index: u64) -> Result<Arc<TileNodes>, Error> {
        if let Some(tile) = self.cache.get((level, index)) {
            return Ok(tile);
        }
        let hashes = self
            .store
            .read_hashes(level, index * TILE_WIDTH, TILE_WIDTH)?;
        let tile = TileNodes::build(hashes)
            .ok_or(Error::Corrupted(format!("tile {level}/{index} is short")))?;
        let parent = self.hash(level + 1, index)?;
        if tile.root() != parent {
            return Err(Error::Corrupted(format!(
                "tile {level}/{index} does not hash to its parent"
            )));
        }
        let tile = Arc::new(tile);
        self.cache.insert((level, index), Arc::clone(&tile));
        Ok(tile)
    }

    /// Hash `index` of tile level `level`.
    pub(crate) fn hash(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let missing = Error::MissingNode {
            level: level.saturating_mul(TILE_HEIGHT),
            index,
        };
        let count = level_count(self.snap.size, level);
        if index >= count {
            return Err(missing);
        }
        let base = count / TILE_WIDTH * TILE_WIDTH;
        if index >= base {
            return edge_slice(self.snap, level, index - base, 1)?
                .first()
                .copied()
                .ok_or(missing);
        }
        self.full_tile(level, index / TILE_WIDTH)?
            .node(0, index % TILE_WIDTH)
            .ok_or(missing)
    }

    /// The first `width` hashes of tile `level/index`, which the caller has checked exist.
    pub(crate) fn tile_hashes(
        &self,
        level: u8,
        index: u64,
        width: u64,
    ) -> Result<Vec<Hash>, Error> {
        let count = level_count(self.snap.size, level);
        let len = usize::try_from(width).map_err(|_| Error::InvalidWidth)?;
        if index < count / TILE_WIDTH {
            let tile = self.full_tile(level, index)?;
            return tile
                .bottom()
                .get(..len)
                .map(<[Hash]>::to_vec)
                .ok_or(Error::InvalidWidth);
        }
        edge_slice(self.snap, level, 0, width).map(<[Hash]>::to_vec)
    }
}

/// `len` hashes of the right edge of `level`, from position `at` within its partial tile.
fn edge_slice(snap: &Snapshot, level: u8, at: u64, len: u64) -> Result<&[Hash], Error> {
    let edge = snap
        .edge
        .get(usize::from(level))
        .map(Vec::as_slice)
        .unwrap_or_default();
    let range = usize::try_from(at).ok().zip(usize::try_from(at + len).ok());
    range
        .and_then(|(a, b)| edge.get(a..b))
        .ok_or(Error::MissingNode {
            level: level.saturating_mul(TILE_HEIGHT),
            index: at,
        })
}

/// Split a tree node into (tile level, levels above that tile level's bottom, index of its first hash there).
fn locate(level: u8, index: u64) -> Option<(u8, u8, u64)> {
    let (tile_level, r) = (level / TILE_HEIGHT, level % TILE_HEIGHT);
    Some((tile_level, r, index.checked_mul(1 << r)?))
}

impl NodeSource for TileSource<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let missing = Error::MissingNode { level, index };
        let (tl, r, first) = locate(level, index).ok_or(Error::MissingNode { level, index })?;
        let span = 1u64 << r;
        let count = level_count(self.snap.size, tl);
        if first.checked_add(span).is_none_or(|end| end > count) {
            return Err(missing);
        }
        let base = count / TILE_WIDTH * TILE_WIDTH;
        if first >= base {
            return Ok(subtree_root(edge_slice(self.snap, tl, first - base, span)?));
        }
        let tile = self.full_tile(tl, first / TILE_WIDTH)?;
        tile.node(r, (first % TILE_WIDTH) >> r).ok_or(missing)
    }
}

/// Nodes from the right edge alone: enough for the root of the snapshot's own size, which is how the
/// sequencer signs without reading the store.
pub(crate) struct EdgeSource<'a>(pub(crate) &'a Snapshot);

impl NodeSource for EdgeSource<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash, Error> {
        let (tl, r, first) = locate(level, index).ok_or(Error::MissingNode { level, index })?;
        let count = level_count(self.0.size, tl);
        let base = count / TILE_WIDTH * TILE_WIDTH;
        let at = first
            .checked_sub(base)
            .ok_or(Error::MissingNode { level, index })?;
        Ok(subtree_root(edge_slice(self.0, tl, at, 1 << r)?))
    }
}
