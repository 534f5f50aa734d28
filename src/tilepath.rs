//! C2SP tlog-tiles resource paths: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`.

use std::fmt::Write as _;

/// A tile or entry-bundle resource named by a tlog-tiles path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileRef {
    /// Tile level, or `None` for an entry bundle.
    pub level: Option<u8>,
    /// Index of the tile within its level.
    pub index: u64,
    /// Width of a partial tile (1..=255), `None` for a full one.
    pub partial: Option<u8>,
}

impl TileRef {
    /// The path below the log prefix, e.g. `tile/0/x001/x234/067.p/8`.
    pub fn path(&self) -> String {
        let mut out = String::from("tile/");
        match self.level {
            Some(level) => write!(out, "{level}/").expect("writing to a String cannot fail"),
            None => out.push_str("entries/"),
        }
        out.push_str(&encode_index(self.index));
        if let Some(width) = self.partial {
            write!(out, ".p/{width}").expect("writing to a String cannot fail");
        }
        out
    }

    /// Parses the part of a path after `tile/`, rejecting every non-canonical spelling
    /// (leading zeroes, a level above 63, a width of 0 or above 255, missing `x` prefixes).
    pub fn parse(rest: &str) -> Option<TileRef> {
        let (head, tail) = rest.split_once('/')?;
        let level = if head == "entries" {
            None
        } else {
            let level = parse_decimal(head)?;
            Some(u8::try_from(level).ok().filter(|l| *l <= 63)?)
        };
        let (index_part, partial) = match tail.split_once(".p/") {
            Some((index, width)) => {
                let width = u8::try_from(parse_decimal(width)?)
                    .ok()
                    .filter(|w| *w >= 1)?;
                (index, Some(width))
            }
            None => (tail, None),
        };
        Some(TileRef {
            level,
            index: decode_index(index_part)?,
            partial,
        })
    }
}

/// `1234067` → `x001/x234/067` (tlog-tiles: zero-padded 3-digit elements, all but the last prefixed by `x`).
fn encode_index(mut index: u64) -> String {
    let mut groups = vec![index % 1000];
    index /= 1000;
    while index > 0 {
        groups.push(index % 1000);
        index /= 1000;
    }
    let last = groups.len() - 1;
    groups
        .iter()
        .rev()
        .enumerate()
        .map(|(i, g)| {
            if i == last {
                format!("{g:03}")
            } else {
                format!("x{g:03}")
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn decode_index(path: &str) -> Option<u64> {
    let elements: Vec<&str> = path.split('/').collect();
    let (last, init) = elements.split_last()?;
    let mut index: u64 = 0;
    for (i, element) in init.iter().enumerate() {
        let digits = element.strip_prefix('x')?;
        let group = three_digits(digits)?;
        if i == 0 && group == 0 {
            return None; // a leading x000 group is a non-canonical spelling
        }
        index = index.checked_mul(1000)?.checked_add(group)?;
    }
    index.checked_mul(1000)?.checked_add(three_digits(last)?)
}

fn three_digits(s: &str) -> Option<u64> {
    (s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
}

/// A decimal without sign or leading zeroes.
fn parse_decimal(s: &str) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= 20
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    canonical.then(|| s.parse().ok())?
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn spec_example_round_trips() {
        let tile = TileRef {
            level: Some(0),
            index: 1_234_067,
            partial: None,
        };
        assert_eq!(tile.path(), "tile/0/x001/x234/067");
        assert_eq!(TileRef::parse("0/x001/x234/067"), Some(tile));
        let bundle = TileRef {
            level: None,
            index: 5,
            partial: Some(112),
        };
        assert_eq!(bundle.path(), "tile/entries/005.p/112");
        assert_eq!(TileRef::parse("entries/005.p/112"), Some(bundle));
    }

    #[test]
    fn non_canonical_paths_are_rejected() {
        for bad in [
            "00/000",
            "64/000",
            "0/1",
            "0/0001",
            "0/001/002",
            "0/x000/001",
            "0/000.p/0",
            "0/000.p/256",
            "0/000.p/08",
            "0/x1/000",
            "entries/",
            "0/",
            "0/-01",
            "x/000",
            "0/x018446744/x073/709/551/616",
        ] {
            assert_eq!(TileRef::parse(bad), None, "{bad}");
        }
    }

    proptest::proptest! {
        #[test]
        fn every_index_round_trips(index in proptest::prelude::any::<u64>(), level in 0u8..=63, w in proptest::option::of(1u8..=255)) {
            let tile = TileRef { level: Some(level), index, partial: w };
            let path = tile.path();
            proptest::prop_assert_eq!(TileRef::parse(path.strip_prefix("tile/").unwrap()), Some(tile));
        }

        #[test]
        fn arbitrary_strings_never_panic(s in ".{0,40}") {
            let _ = TileRef::parse(&s);
        }
    }
}
