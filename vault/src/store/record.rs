//! The segment record: one certificate's ciphertext and initial envelopes, checksummed.
//!
//! `magic (4) | payload length u32 LE | cert id (16) | CRC-32 u32 LE | payload`, where the payload is
//! `body length u32 LE | body | envelope count u16 LE | (party length u8 | party | envelope length
//! u32 LE | envelope)*` and the CRC (IEEE, as in zlib) covers payload length, id and payload.
//! A purge overwrites the magic with [`SHREDDED`] and the CRC and payload with zeros, keeping the
//! length so a replay can step over it.

use super::StoreError;

/// Marks a live record.
pub(crate) const MAGIC: [u8; 4] = *b"TLV1";
/// Marks a record whose payload was overwritten by a purge.
pub(crate) const SHREDDED: [u8; 4] = *b"TLVX";
/// Bytes before the payload.
pub(crate) const HEADER_LEN: usize = 28;
/// Offset of the payload length in the header.
const LEN_AT: usize = 4;
/// Offset of the CRC in the header.
const CRC_AT: usize = 24;
/// Offset of the CRC in the header, as a file offset.
pub(crate) const CRC_OFFSET: u64 = CRC_AT as u64;

/// A record's header, parsed but not yet checked against its payload.
pub(crate) struct Header {
    pub(crate) magic: [u8; 4],
    pub(crate) payload_len: u32,
    pub(crate) cert_id: [u8; 16],
    crc: u32,
}

/// A checked record's contents.
pub(crate) struct Contents {
    pub(crate) body: Vec<u8>,
    pub(crate) envelopes: Vec<(String, Vec<u8>)>,
}

const BAD: StoreError = StoreError::Corrupt("malformed record");

/// Appends the record for one certificate to `out`; returns its payload length. The payload goes straight
/// into `out` behind a header whose length and CRC are filled in once it is there: encoding it into a
/// buffer of its own first copied every ciphertext twice, a third of a put's instructions (callgrind). On
/// an error `out` is left as it was.
pub(crate) fn encode(
    cert_id: [u8; 16],
    body: &[u8],
    envelopes: &[(&str, &[u8])],
    out: &mut Vec<u8>,
) -> Result<u32, StoreError> {
    let start = out.len();
    let written = encode_at_end(cert_id, body, envelopes, out);
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// [`encode`], leaving whatever it wrote before an error.
fn encode_at_end(
    cert_id: [u8; 16],
    body: &[u8],
    envelopes: &[(&str, &[u8])],
    out: &mut Vec<u8>,
) -> Result<u32, StoreError> {
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&[0; 4]); // payload length, filled in below
    out.extend_from_slice(&cert_id);
    out.extend_from_slice(&[0; 4]); // CRC, filled in below
    out.extend_from_slice(&len_u32(body.len())?.to_le_bytes());
    out.extend_from_slice(body);
    encode_envelopes(envelopes.iter().copied(), out)?;
    let payload = out.get(start + HEADER_LEN..).unwrap_or_default();
    let payload_len = len_u32(payload.len())?;
    let crc = crc(payload_len, &cert_id, payload);
    for (at, field) in [(LEN_AT, payload_len), (CRC_AT, crc)] {
        if let Some(slot) = out.get_mut(start + at..start + at + 4) {
            slot.copy_from_slice(&field.to_le_bytes());
        }
    }
    Ok(payload_len)
}

/// The number of bytes [`encode`] appends for one certificate, so buffers are sized once.
pub(crate) fn encoded_len(body_len: usize, envelopes: &[(&str, &[u8])]) -> usize {
    let envelopes: usize = envelopes
        .iter()
        .map(|(party, envelope)| 1 + party.len() + 4 + envelope.len())
        .sum();
    HEADER_LEN + 4 + body_len + 2 + envelopes
}

/// Parses a header (bytes from disk: every field checked by the caller before use).
pub(crate) fn parse_header(bytes: &[u8; HEADER_LEN]) -> Header {
    let (magic, rest) = bytes.split_first_chunk::<4>().unwrap_or((&[0; 4], &[]));
    let (len, rest) = rest.split_first_chunk::<4>().unwrap_or((&[0; 4], &[]));
    let (id, rest) = rest.split_first_chunk::<16>().unwrap_or((&[0; 16], &[]));
    let crc = rest.first_chunk::<4>().copied().unwrap_or([0; 4]);
    Header {
        magic: *magic,
        payload_len: u32::from_le_bytes(*len),
        cert_id: *id,
        crc: u32::from_le_bytes(crc),
    }
}

/// Checks a live record's payload against its header and splits it into body and envelopes.
pub(crate) fn check(header: &Header, payload: &[u8]) -> Result<Contents, StoreError> {
    if header.magic != MAGIC {
        return Err(StoreError::Corrupt("bad record magic"));
    }
    if crc(header.payload_len, &header.cert_id, payload) != header.crc {
        return Err(StoreError::Corrupt("record checksum mismatch"));
    }
    let mut rest = payload;
    let body_len = take_u32(&mut rest)?;
    let body = take(&mut rest, body_len)?.to_vec();
    let envelopes = decode_envelopes(&mut rest)?;
    if !rest.is_empty() {
        return Err(BAD);
    }
    Ok(Contents { body, envelopes })
}

/// Appends `count u16 LE | (party length u8 | party | envelope length u32 LE | envelope)*`.
pub(crate) fn encode_envelopes<'a>(
    envelopes: impl ExactSizeIterator<Item = (&'a str, &'a [u8])>,
    out: &mut Vec<u8>,
) -> Result<(), StoreError> {
    let count = u16::try_from(envelopes.len()).map_err(|_| StoreError::TooLarge)?;
    out.extend_from_slice(&count.to_le_bytes());
    for (party, envelope) in envelopes {
        let party_len = u8::try_from(party.len()).map_err(|_| StoreError::InvalidParty)?;
        out.push(party_len);
        out.extend_from_slice(party.as_bytes());
        out.extend_from_slice(&len_u32(envelope.len())?.to_le_bytes());
        out.extend_from_slice(envelope);
    }
    Ok(())
}

/// Reads what [`encode_envelopes`] wrote from the front of `rest` (disk bytes: checked).
pub(crate) fn decode_envelopes(rest: &mut &[u8]) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    let count = take(rest, 2)?
        .try_into()
        .map(u16::from_le_bytes)
        .map_err(|_| BAD)?;
    let mut envelopes = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let party_len = take(rest, 1)?.first().copied().ok_or(BAD)?;
        let party = take(rest, usize::from(party_len))?;
        let party = String::from_utf8(party.to_vec()).map_err(|_| BAD)?;
        let envelope_len = take_u32(rest)?;
        envelopes.push((party, take(rest, envelope_len)?.to_vec()));
    }
    Ok(envelopes)
}

fn crc(payload_len: u32, cert_id: &[u8; 16], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&payload_len.to_le_bytes());
    hasher.update(cert_id);
    hasher.update(payload);
    hasher.finalize()
}

fn len_u32(len: usize) -> Result<u32, StoreError> {
    u32::try_from(len).map_err(|_| StoreError::TooLarge)
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], StoreError> {
    if rest.len() < n {
        return Err(BAD);
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn take_u32(rest: &mut &[u8]) -> Result<usize, StoreError> {
    let n = take(rest, 4)?
        .try_into()
        .map(u32::from_le_bytes)
        .map_err(|_| BAD)?;
    usize::try_from(n).map_err(|_| BAD)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(record: &[u8]) -> (Header, &[u8]) {
        let (header, payload) = record.split_first_chunk::<HEADER_LEN>().unwrap();
        (parse_header(header), payload)
    }

    proptest! {
        #[test]
        fn records_round_trip(id: [u8; 16], body: Vec<u8>, envs: Vec<(String, Vec<u8>)>) {
            let envs: Vec<(&str, &[u8])> = envs.iter()
                .filter(|(p, _)| p.len() <= 255)
                .map(|(p, e)| (p.as_str(), e.as_slice()))
                .collect();
            let mut out = Vec::new();
            let len = encode(id, &body, &envs, &mut out).unwrap();
            prop_assert_eq!(out.len(), encoded_len(body.len(), &envs));
            let (header, payload) = split(&out);
            prop_assert_eq!(header.payload_len, len);
            prop_assert_eq!(header.cert_id, id);
            let contents = check(&header, payload).unwrap();
            prop_assert_eq!(contents.body, body);
            let got: Vec<(&str, &[u8])> =
                contents.envelopes.iter().map(|(p, e)| (p.as_str(), e.as_slice())).collect();
            prop_assert_eq!(got, envs);
        }

        #[test]
        fn a_refused_record_leaves_the_buffer_as_it_was(body: Vec<u8>, party_len in 256usize..300) {
            let mut out = Vec::new();
            encode([1; 16], &body, &[("customs", b"envelope")], &mut out).unwrap();
            let before = out.clone();
            let party = "p".repeat(party_len);
            let refused = encode([2; 16], &body, &[(party.as_str(), b"envelope")], &mut out);
            prop_assert!(matches!(refused, Err(StoreError::InvalidParty)));
            prop_assert_eq!(out, before);
        }

        #[test]
        fn any_flipped_bit_is_detected(body: Vec<u8>, at: usize, bit in 0u8..8) {
            let mut out = Vec::new();
            encode([7; 16], &body, &[("customs", b"envelope")], &mut out).unwrap();
            let at = at % out.len();
            out[at] ^= 1 << bit;
            let (header, payload) = split(&out);
            let intact = header.payload_len as usize == payload.len() && header.cert_id == [7; 16];
            prop_assert!(!intact || check(&header, payload).is_err());
        }
    }
}
