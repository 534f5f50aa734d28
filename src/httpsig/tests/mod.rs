#![allow(clippy::unwrap_used)]

use ed25519_dalek::{SigningKey, VerifyingKey};
use http::{HeaderMap, HeaderName, HeaderValue};

use super::sign::sign_with_nonce;
use super::*;

const NOW: u64 = 1_790_000_000;
const BODY: &[u8] = br#"{"cert_id":"00112233445566778899aabbccddeeff"}"#;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn lookup(party: &PartyId) -> Option<VerifyingKey> {
    match party.as_str() {
        "importer-1" => Some(key(1).verifying_key()),
        "customs-cbp" => Some(key(2).verifying_key()),
        _ => None,
    }
}

fn to_map(pairs: Vec<(HeaderName, String)>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(name, HeaderValue::from_str(&value).unwrap());
    }
    map
}

fn signed(method: &str, target: &str, body: &[u8]) -> HeaderMap {
    to_map(sign_request(method, target, body, "importer-1", &key(1), NOW).unwrap())
}

fn verify(
    method: &str,
    target: &str,
    headers: &HeaderMap,
    body: &[u8],
    now: u64,
) -> Result<PartyId, SigError> {
    verify_request(
        method,
        target,
        headers,
        body,
        now,
        lookup,
        &ReplayGuard::default(),
    )
}

fn with_header(mut headers: HeaderMap, name: &'static str, value: &str) -> HeaderMap {
    headers.insert(name, HeaderValue::from_str(value).unwrap());
    headers
}

mod properties;
mod replay;
mod requests;
