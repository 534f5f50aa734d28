//! C2SP tlog-tiles geometry: tile heights, widths and paths, the subtree inside a tile, entry bundle encoding.

use crate::Error;
use crate::merkle::{Hash, node_hash};

/// Tile height: each tile spans 8 tree levels (C2SP tlog-tiles "Merkle Tree").
pub const TILE_HEIGHT: u8 = 8;
/// Hashes in a full tile, and entries in a full entry bundle.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
/// The largest entry an entry bundle can hold: lengths are big-endian uint16 (C2SP tlog-tiles "Log entries").
pub const MAX_ENTRY_LEN: usize = u16::MAX as usize;

/// How many hashes tile level `level` holds for a tree of `size` leaves: `floor(size / 256^level)`.
pub fn level_count(size: u64, level: u8) -> u64 {
    let shift = u32::from(level) * u32::from(TILE_HEIGHT);
    size.checked_shr(shift).unwrap_or(0)
}

/// The number of tile levels that hold at least one hash for a tree of `size` leaves.
pub(crate) fn level_span(size: u64) -> u8 {
    let mut levels = 0u8;
    while level_count(size, levels) > 0 {
        levels += 1;
    }
    levels
}

/// The width a `partial_width` argument asks for: `None` is a full tile; `Some(0)` is invalid.
pub(crate) fn requested_width(partial_width: Option<u8>) -> Result<u64, Error> {
    match partial_width {
        None => Ok(TILE_WIDTH),
        Some(0) => Err(Error::InvalidWidth),
        Some(w) => Ok(u64::from(w)),
    }
}

/// The C2SP path of a tile (`tile/<L>/<N>[.p/<W>]`) or, with `level` `None`, an entry bundle
/// (`tile/entries/<N>[.p/<W>]`); `<N>` is split into `x`-prefixed 3-digit groups.
pub fn tile_path(level: Option<u8>, index: u64, partial_width: Option<u8>) -> String {
    let mut groups = Vec::new();
    let mut n = index;
    loop {
        groups.push(n % 1000);
        n /= 1000;
        if n == 0 {
            break;
        }
    }
    let mut path = match level {
        Some(l) => format!("tile/{l}"),
        None => "tile/entries".to_string(),
    };
    for (i, g) in groups.iter().enumerate().rev() {
        let prefix = if i == 0 { "" } else { "x" };
        path.push_str(&format!("/{prefix}{g:03}"));
    }
    if let Some(w) = partial_width {
        path.push_str(&format!(".p/{w}"));
    }
    path
}

/// The root of a perfect subtree given its `2^k` bottom hashes (`k <= 8`).
pub(crate) fn subtree_root(hashes: &[Hash]) -> Hash {
    debug_assert!(hashes.len().is_power_of_two());
    let mut layer: Vec<Hash> = hashes.to_vec();
    while layer.len() > 1 {
        layer = layer
            .chunks_exact(2)
            .map(|p| node_hash(&p[0], &p[1]))
            .collect();
    }
    layer.first().copied().unwrap_or_default()
}

/// Every node of one full tile: its 256 bottom hashes and the 255 tree nodes above them, so a proof can take
/// any node inside the tile without hashing again.
pub(crate) struct TileNodes {
    /// Layers bottom-up: layer `r` holds `256 >> r` nodes.
    layers: Vec<Vec<Hash>>,
}

impl TileNodes {
    /// Hash up a full tile of exactly 256 hashes; `None` if the width is wrong.
    pub(crate) fn build(bottom: Vec<Hash>) -> Option<Self> {
        if u64::try_from(bottom.len()).ok() != Some(TILE_WIDTH) {
            return None;
        }
        let mut layers = vec![bottom];
        while let Some(last) = layers.last().filter(|l| l.len() > 1) {
            let next = last
                .chunks_exact(2)
                .map(|p| node_hash(&p[0], &p[1]))
                .collect();
            layers.push(next);
        }
        Some(TileNodes { layers })
    }

    /// The node `r` levels above the tile's bottom, at position `i` within the tile (`i < 256 >> r`).
    pub(crate) fn node(&self, r: u8, i: u64) -> Option<Hash> {
        let layer = self.layers.get(usize::from(r))?;
        layer.get(usize::try_from(i).ok()?).copied()
    }

    /// The tile's bottom hashes.
    pub(crate) fn bottom(&self) -> &[Hash] {
        self.layers.first().map(Vec::as_slice).unwrap_or_default()
    }

    /// The root of the tile: the hash one tile level up refers to.
    pub(crate) fn root(&self) -> Hash {
        self.layers
            .last()
            .and_then(|l| l.first())
            .copied()
            .unwrap_or_default()
    }
}

/// Serialise hashes as tile bytes (concatenated 32-byte hashes).
pub(crate) fn tile_bytes(hashes: &[Hash]) -> Vec<u8> {
    hashes.concat()
}

/// Encode entries as an entry bundle: each entry as a big-endian uint16 length, then its bytes.
pub fn encode_bundle<E: AsRef<[u8]>>(entries: &[E]) -> Result<Vec<u8>, Error> {
    let total = entries.iter().map(|e| e.as_ref().len() + 2).sum();
    let mut out = Vec::with_capacity(total);
    for e in entries {
        let len = u16::try_from(e.as_ref().len())
            .map_err(|_| Error::EntryTooLarge("log entry over 65535 bytes"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e.as_ref());
    }
    Ok(out)
}

/// Decode an entry bundle (bytes from the network or a file): every byte must belong to an entry.
pub fn decode_bundle(mut bytes: &[u8]) -> Result<Vec<Vec<u8>>, Error> {
    let mut entries = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes
            .split_first_chunk::<2>()
            .ok_or(Error::MalformedEntry("truncated bundle length"))?;
        let len = usize::from(u16::from_be_bytes(*len));
        let (entry, rest) = rest
            .split_at_checked(len)
            .ok_or(Error::MalformedEntry("truncated bundle entry"))?;
        entries.push(entry.to_vec());
        bytes = rest;
    }
    Ok(entries)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::merkle::{MemoryTree, leaf_hash};
    use proptest::prelude::*;

    #[test]
    fn paths_follow_the_spec_examples() {
        assert_eq!(tile_path(Some(0), 1_234_067, None), "tile/0/x001/x234/067");
        assert_eq!(tile_path(Some(1), 5, Some(17)), "tile/1/005.p/17");
        assert_eq!(tile_path(None, 273, Some(112)), "tile/entries/273.p/112");
        assert_eq!(tile_path(Some(2), 1000, None), "tile/2/x001/000");
    }

    #[test]
    fn level_counts_match_the_spec_example() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one partial level 0 tile of
        // width 112, one full level 1 tile, one partial level 1 tile of width 17, and one partial level 2 tile
        // of width 1."
        assert_eq!(level_count(70_000, 0) / TILE_WIDTH, 273);
        assert_eq!(level_count(70_000, 0) % TILE_WIDTH, 112);
        assert_eq!(level_count(70_000, 1), 273);
        assert_eq!(level_count(70_000, 1) % TILE_WIDTH, 17);
        assert_eq!(level_count(70_000, 2), 1);
        assert_eq!(level_span(70_000), 3);
        assert_eq!(level_span(0), 0);
        assert_eq!(level_count(u64::MAX, 9), 0);
    }

    #[test]
    fn tile_root_is_the_merkle_root_of_its_leaves() {
        let leaves: Vec<Hash> = (0u32..256).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let mut tree = MemoryTree::new();
        for l in &leaves {
            tree.push(*l);
        }
        let tile = TileNodes::build(leaves.clone()).unwrap();
        assert_eq!(tile.root(), tree.root());
        assert_eq!(subtree_root(&leaves), tree.root());
        assert_eq!(tile.node(1, 0).unwrap(), node_hash(&leaves[0], &leaves[1]));
        assert!(tile.node(8, 1).is_none());
        assert!(TileNodes::build(leaves[..255].to_vec()).is_none());
    }

    #[test]
    fn malformed_bundles_are_rejected() {
        assert!(decode_bundle(&[0]).is_err());
        assert!(decode_bundle(&[0, 3, 1, 2]).is_err());
        assert!(encode_bundle(&[vec![0u8; MAX_ENTRY_LEN + 1]]).is_err());
    }

    proptest! {
        #[test]
        fn bundles_round_trip(entries in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..40)) {
            let bytes = encode_bundle(&entries).unwrap();
            prop_assert_eq!(decode_bundle(&bytes).unwrap(), entries);
        }
    }
}
