//! Keys and values of the sled index. All live in sled's default tree, written key by key in the
//! order `writes` explains:
//!
//! - `i | cert id` → [`Entry`]: where the ciphertext lives and every envelope, in one value, so a
//!   put is one sled insert and a grant or revocation rewrites one value;
//! - `b | cert id` → the ciphertext itself (the all-in-sled baseline only);
//! - `p | cert id` → purge intent (empty);
//! - `c` → checkpoint: segment id u32 LE | offset u64 LE, every record before it is in the index.

use std::collections::BTreeMap;

use ledger::CertId;

use super::StoreError;
use super::record::{decode_envelopes, encode_envelopes};

const INDEX: u8 = b'i';
const INLINE_BODY: u8 = b'b';
const PURGE_INTENT: u8 = b'p';
const CHECKPOINT: [u8; 1] = *b"c";

const TAG_PURGED: u8 = 0;
const TAG_SEGMENT: u8 = 1;
const TAG_INLINE: u8 = 2;

const BAD: StoreError = StoreError::Corrupt("bad index entry");

/// Where a record lives: segment id, record offset, payload length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Location {
    pub(crate) segment: u32,
    pub(crate) offset: u64,
    pub(crate) len: u32,
}

/// Where a certificate's ciphertext is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    /// A tombstone: purged, the id is never reused.
    Purged,
    /// A record in a segment file.
    Segment(Location),
    /// Under `b | cert id` (the all-in-sled baseline).
    Inline,
}

/// What the index holds for one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) place: Place,
    /// Envelopes by recipient party id (empty once purged).
    pub(crate) envelopes: BTreeMap<String, Vec<u8>>,
}

impl Entry {
    /// `tag u8 | (segment u32 | offset u64 | length u32, if in a segment) | envelopes`.
    pub(crate) fn encode(&self) -> Result<Vec<u8>, StoreError> {
        let envelopes = self
            .envelopes
            .iter()
            .map(|(p, e)| (p.as_str(), e.as_slice()));
        encode_entry(self.place, envelopes)
    }

    /// Decodes a value read from sled (disk bytes: checked, never trusted).
    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        let (place, mut rest) = decode_place(bytes)?;
        let envelopes = decode_envelopes(&mut rest)?.into_iter().collect();
        if !rest.is_empty() {
            return Err(BAD);
        }
        Ok(Self { place, envelopes })
    }
}

/// The entry of a new certificate, encoded from the put's borrowed envelopes as [`Entry::encode`] encodes
/// them (in party order; the parties are distinct, `validate_batch` refused any other put), without copying
/// each into an [`Entry`] first.
pub(crate) fn encode_new(place: Place, envelopes: &[(&str, &[u8])]) -> Result<Vec<u8>, StoreError> {
    let mut sorted = envelopes.to_vec();
    sorted.sort_unstable_by_key(|(party, _)| *party);
    encode_entry(place, sorted.into_iter())
}

fn encode_entry<'a>(
    place: Place,
    envelopes: impl ExactSizeIterator<Item = (&'a str, &'a [u8])> + Clone,
) -> Result<Vec<u8>, StoreError> {
    let envelopes_len: usize = envelopes
        .clone()
        .map(|(party, envelope)| 1 + party.len() + 4 + envelope.len())
        .sum();
    let mut out = Vec::with_capacity(1 + 16 + 2 + envelopes_len);
    match place {
        Place::Purged => out.push(TAG_PURGED),
        Place::Segment(loc) => {
            out.push(TAG_SEGMENT);
            out.extend_from_slice(&loc.segment.to_le_bytes());
            out.extend_from_slice(&loc.offset.to_le_bytes());
            out.extend_from_slice(&loc.len.to_le_bytes());
        }
        Place::Inline => out.push(TAG_INLINE),
    }
    encode_envelopes(envelopes, &mut out)?;
    Ok(out)
}

/// The place an encoded entry records, and the bytes after it (its envelopes), which are not decoded: a
/// put's duplicate check and a ciphertext read need only the place, and decoding every envelope into owned
/// strings and vectors to drop them again was most of what reading an entry cost.
pub(crate) fn decode_place(bytes: &[u8]) -> Result<(Place, &[u8]), StoreError> {
    let (tag, rest) = bytes.split_first().ok_or(BAD)?;
    match *tag {
        TAG_PURGED => Ok((Place::Purged, rest)),
        TAG_INLINE => Ok((Place::Inline, rest)),
        TAG_SEGMENT => {
            let (segment, tail) = rest.split_first_chunk::<4>().ok_or(BAD)?;
            let (offset, tail) = tail.split_first_chunk::<8>().ok_or(BAD)?;
            let (len, tail) = tail.split_first_chunk::<4>().ok_or(BAD)?;
            let location = Location {
                segment: u32::from_le_bytes(*segment),
                offset: u64::from_le_bytes(*offset),
                len: u32::from_le_bytes(*len),
            };
            Ok((Place::Segment(location), tail))
        }
        _ => Err(BAD),
    }
}

/// `i | cert id`.
pub(crate) fn index_key(cert_id: CertId) -> [u8; 17] {
    prefixed(INDEX, cert_id)
}

/// The first key after every `i | cert id`.
pub(crate) fn index_key_end() -> [u8; 1] {
    [INDEX + 1]
}

/// The certificate id of an index key.
pub(crate) fn cert_of_index_key(key: &[u8]) -> Result<CertId, StoreError> {
    match key.split_first() {
        Some((&INDEX, id)) => id.try_into().map(CertId).map_err(|_| BAD_KEY),
        _ => Err(BAD_KEY),
    }
}

const BAD_KEY: StoreError = StoreError::Corrupt("bad index key");

/// `b | cert id`.
pub(crate) fn inline_body_key(cert_id: CertId) -> [u8; 17] {
    prefixed(INLINE_BODY, cert_id)
}

/// `p | cert id`.
pub(crate) fn intent_key(cert_id: CertId) -> [u8; 17] {
    prefixed(PURGE_INTENT, cert_id)
}

/// The prefix of every purge intent.
pub(crate) fn intent_prefix() -> [u8; 1] {
    [PURGE_INTENT]
}

/// The certificate id of a purge intent key.
pub(crate) fn cert_of_intent(key: &[u8]) -> Result<CertId, StoreError> {
    key.get(1..)
        .and_then(|id| id.try_into().ok())
        .map(CertId)
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
    const BAD_CHECKPOINT: StoreError = StoreError::Corrupt("bad checkpoint");
    let (segment, offset) = bytes.split_first_chunk::<4>().ok_or(BAD_CHECKPOINT)?;
    let offset: [u8; 8] = offset.try_into().map_err(|_| BAD_CHECKPOINT)?;
    Ok((u32::from_le_bytes(*segment), u64::from_le_bytes(offset)))
}

fn prefixed(tag: u8, cert_id: CertId) -> [u8; 17] {
    let mut key = [tag; 17];
    key[1..].copy_from_slice(cert_id.as_bytes());
    key
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn entries_round_trip(
            segment: u32,
            offset: u64,
            len: u32,
            envelopes in proptest::collection::btree_map("[a-z]{1,20}", any::<Vec<u8>>(), 0..5),
        ) {
            for place in [Place::Purged, Place::Segment(Location { segment, offset, len }), Place::Inline] {
                let entry = Entry { place, envelopes: envelopes.clone() };
                prop_assert_eq!(Entry::decode(&entry.encode().unwrap()).unwrap(), entry);
            }
        }

        #[test]
        fn new_entries_encode_as_entries_do(
            place_len: u32,
            envelopes in proptest::collection::btree_map("[a-z]{1,20}", any::<Vec<u8>>(), 0..5),
        ) {
            let place = Place::Segment(Location { segment: 1, offset: 2, len: place_len });
            let entry = Entry { place, envelopes: envelopes.clone() };
            // Borrowed, in reverse order: encoded in party order all the same.
            let borrowed: Vec<(&str, &[u8])> =
                envelopes.iter().rev().map(|(p, e)| (p.as_str(), e.as_slice())).collect();
            let encoded = encode_new(place, &borrowed).unwrap();
            prop_assert_eq!(&encoded, &entry.encode().unwrap());
            prop_assert_eq!(decode_place(&encoded).unwrap().0, place);
        }

        #[test]
        fn decoding_garbage_never_panics(bytes: Vec<u8>) {
            let _ = Entry::decode(&bytes);
            let _ = decode_place(&bytes);
        }
    }
}
