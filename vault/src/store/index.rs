//! Keys and values of the sled index: where each ciphertext lives, the envelopes, purge intents.
//!
//! All live in sled's default tree so one `apply_batch` is atomic across them:
//! `i | cert id` → index entry, `e | cert id | party` → envelope, `p | cert id` → purge intent,
//! `c` → checkpoint (segment id u32 LE | offset u64 LE: every record before it is in the index).

use super::StoreError;

const INDEX: u8 = b'i';
const ENVELOPE: u8 = b'e';
const PURGE_INTENT: u8 = b'p';
const CHECKPOINT: [u8; 1] = *b"c";

const TAG_PURGED: u8 = 0;
const TAG_SEGMENT: u8 = 1;
const TAG_INLINE: u8 = 2;

/// Where a ciphertext record lives: segment id, record offset, body length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) segment: u32,
    pub(crate) offset: u64,
    pub(crate) len: u32,
}

/// What the index says about a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum IndexEntry {
    /// A tombstone: purged, the id is never reused.
    Purged,
    /// The ciphertext is a record in a segment file.
    Segment(Location),
    /// The ciphertext is the value itself (the all-in-sled baseline).
    Inline(Vec<u8>),
}

impl IndexEntry {
    pub(crate) fn encode(&self) -> Vec<u8> {
        match self {
            Self::Purged => vec![TAG_PURGED],
            Self::Segment(loc) => {
                let mut out = Vec::with_capacity(17);
                out.push(TAG_SEGMENT);
                out.extend_from_slice(&loc.segment.to_le_bytes());
                out.extend_from_slice(&loc.offset.to_le_bytes());
                out.extend_from_slice(&loc.len.to_le_bytes());
                out
            }
            Self::Inline(body) => {
                let mut out = Vec::with_capacity(body.len().saturating_add(1));
                out.push(TAG_INLINE);
                out.extend_from_slice(body);
                out
            }
        }
    }

    /// Decodes a value read from sled (disk bytes: checked, never trusted).
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        const BAD: StoreError = StoreError::Corrupt("bad index entry");
        match bytes.split_first() {
            Some((&TAG_PURGED, [])) => Ok(Self::Purged),
            Some((&TAG_SEGMENT, rest)) => {
                let (segment, rest) = rest.split_first_chunk::<4>().ok_or(BAD)?;
                let (offset, rest) = rest.split_first_chunk::<8>().ok_or(BAD)?;
                let len: [u8; 4] = rest.try_into().map_err(|_| BAD)?;
                Ok(Self::Segment(Location {
                    segment: u32::from_le_bytes(*segment),
                    offset: u64::from_le_bytes(*offset),
                    len: u32::from_le_bytes(len),
                }))
            }
            Some((&TAG_INLINE, body)) => Ok(Self::Inline(body.to_vec())),
            _ => Err(BAD),
        }
    }
}

/// `i | cert id`.
pub(crate) fn index_key(cert_id: [u8; 16]) -> [u8; 17] {
    prefixed(INDEX, cert_id)
}

/// `p | cert id`.
pub(crate) fn intent_key(cert_id: [u8; 16]) -> [u8; 17] {
    prefixed(PURGE_INTENT, cert_id)
}

/// `e | cert id`: the prefix of every envelope of one certificate.
pub(crate) fn envelope_prefix(cert_id: [u8; 16]) -> [u8; 17] {
    prefixed(ENVELOPE, cert_id)
}

/// `e | cert id | party`.
pub(crate) fn envelope_key(cert_id: [u8; 16], party: &str) -> Vec<u8> {
    let mut key = envelope_prefix(cert_id).to_vec();
    key.extend_from_slice(party.as_bytes());
    key
}

/// The party of an envelope key.
pub(crate) fn party_of(key: &[u8]) -> Result<String, StoreError> {
    let party = key
        .get(17..)
        .ok_or(StoreError::Corrupt("bad envelope key"))?;
    String::from_utf8(party.to_vec()).map_err(|_| StoreError::Corrupt("bad envelope key"))
}

/// Every pending purge intent's certificate id.
pub(crate) fn intent_prefix() -> [u8; 1] {
    [PURGE_INTENT]
}

/// The certificate id of a purge intent key.
pub(crate) fn cert_of_intent(key: &[u8]) -> Result<[u8; 16], StoreError> {
    key.get(1..)
        .and_then(|id| id.try_into().ok())
        .ok_or(StoreError::Corrupt("bad purge intent key"))
}

/// The checkpoint key.
pub(crate) fn checkpoint_key() -> [u8; 1] {
    CHECKPOINT
}

/// Encodes a checkpoint: the segment position up to which every record is in the index.
pub(crate) fn encode_checkpoint(segment: u32, offset: u64) -> [u8; 12] {
    let mut out = [0u8; 12];
    out[..4].copy_from_slice(&segment.to_le_bytes());
    out[4..].copy_from_slice(&offset.to_le_bytes());
    out
}

/// Decodes a checkpoint read from sled.
pub(crate) fn decode_checkpoint(bytes: &[u8]) -> Result<(u32, u64), StoreError> {
    const BAD: StoreError = StoreError::Corrupt("bad checkpoint");
    let (segment, offset) = bytes.split_first_chunk::<4>().ok_or(BAD)?;
    let offset: [u8; 8] = offset.try_into().map_err(|_| BAD)?;
    Ok((u32::from_le_bytes(*segment), u64::from_le_bytes(offset)))
}

fn prefixed(tag: u8, cert_id: [u8; 16]) -> [u8; 17] {
    let mut key = [0u8; 17];
    key[0] = tag;
    key[1..].copy_from_slice(&cert_id);
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn entries_round_trip(segment: u32, offset: u64, len: u32, body: Vec<u8>) {
            for entry in [
                IndexEntry::Purged,
                IndexEntry::Segment(Location { segment, offset, len }),
                IndexEntry::Inline(body.clone()),
            ] {
                prop_assert_eq!(IndexEntry::decode(&entry.encode()).ok(), Some(entry));
            }
        }

        #[test]
        fn decoding_garbage_never_panics(bytes: Vec<u8>) {
            let _ = IndexEntry::decode(&bytes);
        }
    }
}
