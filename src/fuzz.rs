//! Fuzzing entry points of the service and client: one function per parser of untrusted bytes, shared by the
//! cargo-fuzz targets in `fuzz/` and the smoke test that replays their corpora in `cargo test`
//! (docs/fuzzing.md). The ledger's and the vault's own parsers have theirs in `ledger::fuzz` and `vault::fuzz`.
//!
//! Each function must never panic on any input; a panic here is a bug in the code it drives. The round-trip
//! checks panic on purpose so that the fuzzer reports a violation.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::{Arc, LazyLock};

use ed25519_dalek::SigningKey;
use http::{HeaderMap, HeaderValue};
use ledger::{CosignatureSigner, sign_note};

use crate::cert::vc::envelope::{envelop, looks_like_jws};
use crate::cert::{Date, validate_document, validate_json};
use crate::client::ops::{Bundle, ReceiptFile, issuer_signature, verify_bundle, verify_receipt};
use crate::httpsig::sfv::{self, MemberValue};
use crate::httpsig::{ReplayConfig, ReplayGuard, sign_request, verify_request};
use crate::tilepath::TileRef;
use crate::witness::{MemoryWitnessStore, Refusal, Witness};

pub use ledger::fuzz::Target;

/// Every target of this crate.
pub const TARGETS: &[Target] = &[
    ("witness", witness),
    ("httpsig", httpsig),
    ("tilepath", tilepath),
    ("cert", cert),
    ("bundle", bundle),
    ("receipt", receipt),
    ("credential", credential),
];

/// Splits `<first line>\n<rest>`; harnesses whose parser needs a key read it from the first line.
fn first_line(data: &[u8]) -> Option<(&str, &[u8])> {
    let at = data.iter().position(|b| *b == b'\n')?;
    let line = std::str::from_utf8(data.get(..at)?).ok()?;
    Some((line, data.get(at + 1..)?))
}

/// tlog-witness add-checkpoint bodies, on a fresh witness that follows the fuzz log (`ledger::fuzz`).
///
/// The input is submitted as it is; then its note part (after the first blank line) is signed with the fuzz
/// log's key and submitted again, so that mutations reach the checks behind the signature. An accepted
/// checkpoint's cosignature must verify, and resubmitting it from size 0 must conflict unless it is empty.
pub fn witness(data: &[u8]) {
    let log = ledger::fuzz::fuzz_log_signer();
    let signer =
        CosignatureSigner::from_key("fuzz.example/w", SigningKey::from_bytes(&[0x44; 32])).unwrap();
    let verifier = signer.verifier();
    let witness = Witness::open(
        signer,
        vec![log.verifier()],
        Arc::new(MemoryWitnessStore::new()),
    )
    .unwrap();
    let _ = witness.add_checkpoint(data);
    let Some(at) = data.windows(2).position(|w| w == b"\n\n") else {
        return;
    };
    let (Some(head), Some(Ok(text))) = (
        data.get(..at + 2),
        data.get(at + 2..).map(std::str::from_utf8),
    ) else {
        return;
    };
    let Ok(note) = sign_note(text, &[log]) else {
        return;
    };
    let body = [head, note.as_bytes()].concat();
    if let Ok(line) = witness.add_checkpoint(&body) {
        let cosig = ledger::Cosignature::parse_line(&line).unwrap();
        verifier.verify(text, &cosig).unwrap();
        let size = witness.latest_size(ledger::fuzz::FUZZ_ORIGIN).unwrap();
        if size > 0 {
            let again = witness.add_checkpoint(&body);
            assert_eq!(again, Err(Refusal::Conflict(size)));
        }
        let same = [format!("old {size}\n\n").as_bytes(), note.as_bytes()].concat();
        assert!(
            witness.add_checkpoint(&same).is_ok(),
            "same checkpoint again"
        );
    }
}

/// The party the request-signature harness knows, the time it verifies at, and that party's key.
pub const FUZZ_PARTY: &str = "fuzz-importer";
pub const NOW: u64 = 1_700_000_000;
pub static PARTY_KEY: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_bytes(&[0x45; 32]));

/// The request-signature headers (RFC 8941 structured fields, RFC 9421 profile) and their verification.
///
/// Lines: `Signature-Input`, `Signature`, `Content-Digest`, then the body. The headers are verified as they are
/// (for party `fuzz-importer` at a fixed time); then the body is signed for the target of the first line and
/// that must verify. Every inner list parsed must serialize back to itself.
pub fn httpsig(data: &[u8]) {
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let mut next = || parts.next().unwrap_or_default();
    let (input, signature, digest, body) = (next(), next(), next(), next());
    for field in [input, signature] {
        let Some(Ok(members)) = std::str::from_utf8(field).ok().map(sfv::parse_dictionary) else {
            continue;
        };
        for (_, value) in members {
            if let MemberValue::InnerList(items, params) = value {
                let text = format!("a={}", sfv::serialize_inner_list(&items, &params));
                let again = sfv::parse_dictionary(&text).unwrap();
                assert_eq!(
                    again,
                    vec![("a".to_owned(), MemberValue::InnerList(items, params))]
                );
            }
        }
    }
    let mut headers = HeaderMap::new();
    for (name, value) in [
        ("signature-input", input),
        ("signature", signature),
        ("content-digest", digest),
    ] {
        if let Ok(v) = HeaderValue::from_bytes(value) {
            headers.append(name, v);
        }
    }
    let lookup = |party: &String| (party == FUZZ_PARTY).then(|| PARTY_KEY.verifying_key());
    let guard = || ReplayGuard::new(ReplayConfig::default());
    let _ = verify_request(
        "POST",
        "/v1/certificates",
        &headers,
        body,
        NOW,
        lookup,
        &guard(),
    );

    let target = std::str::from_utf8(input).unwrap_or("/v1/certificates");
    if let Ok(signed) = sign_request("POST", target, body, FUZZ_PARTY, &PARTY_KEY, NOW) {
        let mut headers = HeaderMap::new();
        for (name, value) in signed {
            headers.append(name, HeaderValue::from_str(&value).unwrap());
        }
        let party = verify_request("POST", target, &headers, body, NOW, lookup, &guard());
        assert_eq!(
            party.ok().as_deref(),
            Some(FUZZ_PARTY),
            "signed request verifies"
        );
    }
}

/// tlog-tiles paths below `tile/`: an accepted path is the canonical spelling of what it names.
pub fn tilepath(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(tile) = TileRef::parse(text) {
        assert_eq!(
            tile.path(),
            format!("tile/{text}"),
            "tile path is not canonical"
        );
        assert_eq!(
            ledger::tile_path(tile.level, tile.index, tile.partial),
            tile.path()
        );
    }
}

/// Certificate validation of any body (the registration and open paths), credentials included: a file that
/// looks like a VC-JOSE token is read as `register` reads it, and the issuer's signature is checked as `open`
/// checks it.
pub fn cert(data: &[u8]) {
    let today = Date::new(2026, 6, 1).unwrap();
    let _ = validate_json(data, today);
    let body = if looks_like_jws(data) {
        std::str::from_utf8(data).ok().and_then(|t| envelop(t).ok())
    } else {
        serde_json::from_slice(data).ok()
    };
    if let Some(body) = body {
        let _ = validate_document(&body, today);
        let _ = issuer_signature(&body, None);
    }
}

/// Disclosure bundles: the first line is the log's vkey (so a corpus bundle from a real log verifies), the rest
/// the bundle JSON.
pub fn bundle(data: &[u8]) {
    let Some((vkey, rest)) = first_line(data) else {
        return;
    };
    if let Ok(bundle) = serde_json::from_slice::<Bundle>(rest) {
        let _ = verify_bundle(&bundle, vkey);
    }
}

/// Receipt files (tlog-proof plus consistency extension): the first line is the log's vkey, the rest the file,
/// which must print back to itself if it parses.
pub fn receipt(data: &[u8]) {
    let Some((vkey, rest)) = first_line(data) else {
        return;
    };
    if let Ok(file) = ReceiptFile::parse(rest) {
        assert_eq!(file.to_text().as_bytes(), rest, "receipt round trip");
        let _ = verify_receipt(rest, vkey, None);
    }
}

/// Exported credentials as `verify` reads them: the first line is the log's vkey, the rest a VC-JOSE token or an
/// SD-JWT presentation (JWS header and did:jwk parsing, disclosures, the log binding, the claim checks).
pub fn credential(data: &[u8]) {
    let Some((vkey, rest)) = first_line(data) else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let _ = crate::jose::did_jwk::decode(text);
    if text.contains('~') {
        let _ = crate::credential::sd_jwt::verify(text, vkey, None);
    } else {
        let _ = crate::jose::jws::verify(text, &crate::jose::jws::Limits::DEFAULT);
        let _ = crate::credential::vc_jose::verify(text, vkey, None);
    }
}
