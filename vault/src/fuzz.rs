//! Fuzzing entry points: one function per parser of untrusted bytes, shared by the cargo-fuzz targets in
//! `fuzz/` and the smoke test that replays their corpora in `cargo test` (docs/fuzzing.md).
//!
//! Each function must never panic on any input; a panic here is a bug in the code it drives. The round-trip
//! checks (commit → disclose → verify, seal → open) panic on purpose so that the fuzzer reports a violation.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::LazyLock;

use serde_json::Value;

use crate::{
    CertId, DataKey, Disclosure, MasterSalt, PartyId, PartyKeys, PartyPublic, Role, canonical_json,
    commit, open_body, seal_body, unwrap,
};

pub use ledger::fuzz::Target;

/// Every target of this crate.
pub const TARGETS: &[Target] = &[("disclosure", disclosure), ("sealed", sealed)];

const CERT: CertId = CertId([7; 16]);

/// Disclosure JSON checked against a commitment, and commit → disclose → verify over any JSON body.
///
/// If the input is a disclosure, it is verified against a commitment rebuilt from its own fields where that is
/// possible (a single field at leaf 0 of a one-leaf tree) and against a fixed root. If the input is any JSON
/// value, it is committed under a fixed salt and every leaf is disclosed one at a time, plus all at once; each
/// disclosure must survive its JSON text and verify against the commitment.
pub fn disclosure(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(d) = Disclosure::from_json(text) {
        let _ = d.verify(&[0; 32]);
        assert_eq!(Disclosure::from_json(&d.to_json()).unwrap(), d);
    }
    let Ok(body) = serde_json::from_str::<Value>(text) else {
        return;
    };
    let canonical = canonical_json(&body);
    let reparsed: Value = serde_json::from_slice(&canonical).unwrap();
    assert_eq!(
        canonical_json(&reparsed),
        canonical,
        "canonical JSON is stable"
    );
    let salt = MasterSalt::from_bytes([9; 32]);
    let Ok(commitment) = commit(&body, &salt) else {
        return;
    };
    let root = commitment.root();
    let pointers: Vec<String> = commitment.pointers().map(str::to_owned).collect();
    for pointer in pointers.iter().take(8) {
        let d = commitment.disclose(&CERT, &[pointer.as_str()]).unwrap();
        d.verify(&root).unwrap();
        Disclosure::from_json(&d.to_json())
            .unwrap()
            .verify(&root)
            .unwrap();
    }
    let all: Vec<&str> = pointers.iter().map(String::as_str).collect();
    if let Ok(d) = commitment.disclose(&CERT, &all) {
        d.verify(&root).unwrap();
    }
}

static KEYS: LazyLock<PartyKeys> = LazyLock::new(|| {
    PartyKeys::from_secret_bytes(
        PartyId::new("fuzz-customs").unwrap(),
        Role::Customs,
        &[1; 32],
        [2; 32],
    )
});

/// Bytes the server returns to a client: envelopes, body ciphertexts and public-key files; and seal → open of
/// any body.
pub fn sealed(data: &[u8]) {
    let root = [3; 32];
    let key = DataKey::from_bytes([4; 32]);
    let _ = unwrap(&CERT, &KEYS, data);
    let _ = open_body(&CERT, &root, &key, data);
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(public) = PartyPublic::from_json(text)
    {
        let again = PartyPublic::from_json(&public.to_json()).unwrap();
        assert_eq!(again.to_json(), public.to_json());
    }
    let salt = MasterSalt::from_bytes([5; 32]);
    let sealed = seal_body(&CERT, data, &salt, &root, &key).unwrap();
    let opened = open_body(&CERT, &root, &key, &sealed).unwrap();
    assert_eq!(opened.body.as_slice(), data);
    assert_eq!(opened.master_salt.expose_secret(), salt.expose_secret());
}
