//! Which C2SP tlog-tiles objects a tree of `new` entries adds to one of `old` entries: every tile and entry
//! bundle that became full, and the partial ones of the new size (tlog-tiles: level L holds the hashes of
//! subtrees of 256^L leaves; a tile is full at 256 hashes, else `.p/W`).

use crate::tilepath::TileRef;

const TILE_WIDTH: u64 = 256;

/// The objects to upload before a checkpoint of `new` entries, given that a checkpoint of `old` entries (and
/// everything it needs) is already published: entry bundles and level-0 tiles first, then upper levels.
pub(crate) fn tiles_between(old: u64, new: u64) -> Vec<TileRef> {
    let mut out = Vec::new();
    if new <= old {
        return out;
    }
    let mut add_level = |level: Option<u8>, shift: u32| {
        let (Some(count_new), Some(count_old)) = (new.checked_shr(shift), old.checked_shr(shift))
        else {
            return false;
        };
        if count_new == 0 {
            return false;
        }
        if count_new != count_old {
            for index in count_old / TILE_WIDTH..count_new / TILE_WIDTH {
                out.push(TileRef {
                    level,
                    index,
                    partial: None,
                });
            }
            let width = count_new % TILE_WIDTH;
            if width != 0 {
                out.push(TileRef {
                    level,
                    index: count_new / TILE_WIDTH,
                    partial: u8::try_from(width).ok(),
                });
            }
        }
        true
    };
    add_level(None, 0);
    for level in 0u8..=7 {
        if !add_level(Some(level), 8 * u32::from(level)) {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn key(t: &TileRef) -> String {
        t.path()
    }

    #[test]
    fn small_logs_list_the_spec_paths() {
        let paths: Vec<String> = tiles_between(0, 300).iter().map(key).collect();
        assert_eq!(
            paths,
            [
                "tile/entries/000",
                "tile/entries/001.p/44",
                "tile/0/000",
                "tile/0/001.p/44",
                "tile/1/000.p/1",
            ]
        );
        let grown: Vec<String> = tiles_between(300, 512).iter().map(key).collect();
        assert_eq!(grown, ["tile/entries/001", "tile/0/001", "tile/1/000.p/2"]);
        assert!(tiles_between(512, 512).is_empty());
    }

    proptest::proptest! {
        /// Publishing in steps a → b → c uploads every full tile a single step 0 → c would, and the partial
        /// tiles of size c; and every object named exists in a tree of the step's new size.
        #[test]
        fn steps_cover_what_one_step_would(a in 0u64..70_000, d1 in 0u64..70_000, d2 in 0u64..70_000) {
            let (b, c) = (a + d1, a + d1 + d2);
            let mut seen: BTreeSet<String> = BTreeSet::new();
            for (old, new) in [(0, a), (a, b), (b, c)] {
                for t in tiles_between(old, new) {
                    let count = match t.level { None => new, Some(l) => new >> (8 * u32::from(l)) };
                    let width = t.partial.map_or(TILE_WIDTH, u64::from);
                    proptest::prop_assert!(t.index * TILE_WIDTH + width <= count, "{} beyond size {new}", t.path());
                    seen.insert(key(&t));
                }
            }
            for t in tiles_between(0, c) {
                proptest::prop_assert!(seen.contains(&key(&t)), "{} missing", t.path());
            }
        }
    }
}
