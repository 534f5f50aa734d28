//! The entry journal's frame format: `[u16 BE length][entry][32-byte leaf hash]`, self-validating so that a
//! torn tail after a crash is recognised (its bytes do not hash to its stored leaf hash).

use crate::Error;
use crate::merkle::{Hash, leaf_hash};

/// Bytes a frame adds around its entry: the length prefix and the leaf hash.
pub(super) const FRAME_OVERHEAD: usize = 2 + 32;

/// Append the frame of one entry to `out`.
pub(super) fn encode_frame(out: &mut Vec<u8>, entry: &[u8], leaf: &Hash) -> Result<(), Error> {
    let len = u16::try_from(entry.len())
        .map_err(|_| Error::EntryTooLarge("log entry over 65535 bytes"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(entry);
    out.extend_from_slice(leaf);
    Ok(())
}

/// Split one frame off the front of `bytes`: `(entry, stored leaf hash, rest)`, or `None` if truncated.
pub(super) fn split_frame(bytes: &[u8]) -> Option<(&[u8], Hash, &[u8])> {
    let (len, rest) = bytes.split_first_chunk::<2>()?;
    let (entry, rest) = rest.split_at_checked(usize::from(u16::from_be_bytes(*len)))?;
    let (leaf, rest) = rest.split_first_chunk::<32>()?;
    Some((entry, *leaf, rest))
}

/// Scan frames from the start of `bytes` (the journal after the last trusted entry) up to the first torn or
/// invalid one. Returns, per valid frame, its end offset relative to `bytes` and its leaf hash.
pub(super) fn scan_valid(bytes: &[u8]) -> Vec<(u64, Hash)> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while let Some((entry, leaf, next)) = split_frame(rest) {
        if leaf_hash(entry) != leaf {
            break;
        }
        rest = next;
        let end = bytes.len() - rest.len();
        out.push((u64::try_from(end).unwrap_or(u64::MAX), leaf));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn journal(entries: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in entries {
            encode_frame(&mut out, e, &leaf_hash(e)).unwrap();
        }
        out
    }

    #[test]
    fn a_torn_tail_is_cut_at_the_last_whole_valid_frame() {
        let mut bytes = journal(&[b"one", b"two", b"three"]);
        let whole = scan_valid(&bytes);
        assert_eq!(whole.len(), 3);
        assert_eq!(whole[2].0, u64::try_from(bytes.len()).unwrap());
        // A frame cut short.
        bytes.truncate(bytes.len() - 1);
        assert_eq!(scan_valid(&bytes).len(), 2);
        // A frame whose bytes never reached the disk (zeros).
        let mut zeros = journal(&[b"one"]);
        zeros.extend_from_slice(&[0u8; 64]);
        assert_eq!(scan_valid(&zeros).len(), 1);
        // A flipped byte inside an entry.
        let mut flipped = journal(&[b"one", b"two"]);
        flipped[FRAME_OVERHEAD + 3 + 2] ^= 1;
        assert_eq!(scan_valid(&flipped).len(), 1);
    }
}
