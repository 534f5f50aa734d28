//! Signing and verifying requests: shapes, tampering, staleness, keys, the documented example.

use super::*;

#[test]
fn round_trip() {
    let headers = signed("POST", "/v1/certificates", BODY);
    assert_eq!(
        verify("POST", "/v1/certificates", &headers, BODY, NOW).unwrap(),
        "importer-1"
    );
    let headers = signed("GET", "/v1/certificates/abc/ciphertext?x=1", b"");
    assert_eq!(
        verify(
            "GET",
            "/v1/certificates/abc/ciphertext?x=1",
            &headers,
            b"",
            NOW
        )
        .unwrap(),
        "importer-1"
    );
}

#[test]
fn headers_have_the_documented_shape() {
    let pairs = sign_with_nonce(
        "POST",
        "/v1/x",
        b"",
        "importer-1",
        &key(1),
        NOW,
        "AAAAAAAAAAAAAAAAAAAAAA",
    )
    .unwrap();
    let names: Vec<_> = pairs.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["content-digest", "signature-input", "signature"]);
    assert_eq!(
        pairs[0].1,
        "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
    );
    assert_eq!(
        pairs[1].1,
        r#"sig1=("@method" "@path" "@query" "content-digest");created=1790000000;nonce="AAAAAAAAAAAAAAAAAAAAAA";keyid="importer-1";alg="ed25519""#
    );
    assert!(pairs[2].1.starts_with("sig1=:") && pairs[2].1.ends_with(':'));
}

#[test]
fn accepts_reordered_components_and_whitespace() {
    // Another implementation may list the components in another order and add optional whitespace; the base is
    // built from the list as received, re-serialized canonically (RFC 9421 §2.3).
    let nonce = "AAAAAAAAAAAAAAAAAAAAAA";
    let input = format!(
        r#"sig1=("content-digest" "@query" "@path" "@method");keyid="importer-1";created={NOW};alg="ed25519";nonce="{nonce}""#
    );
    let digest = "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:";
    let base = format!(
        "\"content-digest\": {digest}\n\"@query\": ?\n\"@path\": /v1/x\n\"@method\": GET\n\"@signature-params\": {}",
        input.strip_prefix("sig1=").unwrap()
    );
    use base64::Engine as _;
    use ed25519_dalek::Signer as _;
    let sig =
        base64::engine::general_purpose::STANDARD.encode(key(1).sign(base.as_bytes()).to_bytes());
    let mut headers = HeaderMap::new();
    headers.insert("content-digest", HeaderValue::from_str(digest).unwrap());
    headers.insert(
        "signature-input",
        HeaderValue::from_str(&input.replace("sig1=(", "sig1=( ")).unwrap(),
    );
    headers.insert(
        "signature",
        HeaderValue::from_str(&format!("sig1=:{sig}:")).unwrap(),
    );
    assert_eq!(
        verify("GET", "/v1/x", &headers, b"", NOW).unwrap(),
        "importer-1"
    );
}

#[test]
fn missing_headers() {
    let headers = signed("POST", "/p", BODY);
    for name in ["signature", "signature-input"] {
        let mut h = headers.clone();
        h.remove(name);
        assert_eq!(
            verify("POST", "/p", &h, BODY, NOW),
            Err(SigError::MissingSignature),
            "{name}"
        );
    }
    let mut h = headers.clone();
    h.remove("content-digest");
    assert_eq!(
        verify("POST", "/p", &h, BODY, NOW),
        Err(SigError::DigestMismatch)
    );
}

#[test]
fn tampering_is_detected() {
    let headers = signed("POST", "/v1/certificates?a=1", BODY);
    let ok = |m: &str, t: &str, b: &[u8]| verify(m, t, &headers, b, NOW);
    assert_eq!(
        ok("PUT", "/v1/certificates?a=1", BODY),
        Err(SigError::BadSignature)
    );
    assert_eq!(
        ok("POST", "/v1/certificateZ?a=1", BODY),
        Err(SigError::BadSignature)
    );
    assert_eq!(
        ok("POST", "/v1/certificates?a=2", BODY),
        Err(SigError::BadSignature)
    );
    assert_eq!(
        ok("POST", "/v1/certificates", BODY),
        Err(SigError::BadSignature)
    );
    assert_eq!(
        ok("POST", "/v1/certificates?a=1", b"{}"),
        Err(SigError::DigestMismatch)
    );

    // A new body with a matching digest: the digest is signed, so the signature breaks.
    let h = with_header(
        headers.clone(),
        "content-digest",
        &base::content_digest(b"{}"),
    );
    assert_eq!(
        verify("POST", "/v1/certificates?a=1", &h, b"{}", NOW),
        Err(SigError::BadSignature)
    );

    // A changed `created` (still in the window) breaks the signature.
    let input = headers["signature-input"]
        .to_str()
        .unwrap()
        .replace(&NOW.to_string(), &(NOW + 1).to_string());
    let h = with_header(headers.clone(), "signature-input", &input);
    assert_eq!(
        verify("POST", "/v1/certificates?a=1", &h, BODY, NOW),
        Err(SigError::BadSignature)
    );

    // Another party's keyid over the same signature.
    let input = headers["signature-input"]
        .to_str()
        .unwrap()
        .replace("importer-1", "customs-cbp");
    let h = with_header(headers.clone(), "signature-input", &input);
    assert_eq!(
        verify("POST", "/v1/certificates?a=1", &h, BODY, NOW),
        Err(SigError::BadSignature)
    );

    // A changed signature byte: the signature's first base64 character replaced by another one. (Writing `A`
    // there unless byte 8 was `A` left the signature unchanged whenever it already began with `A`.)
    let sig = headers["signature"].to_str().unwrap();
    let other = if sig.as_bytes()[6] == b'A' { 'B' } else { 'A' };
    let flipped = format!("sig1=:{other}{}", &sig[7..]);
    assert_ne!(flipped, sig);
    let h = with_header(headers.clone(), "signature", &flipped);
    assert!(matches!(
        verify("POST", "/v1/certificates?a=1", &h, BODY, NOW),
        Err(SigError::BadSignature | SigError::MalformedSignature)
    ));
}

#[test]
fn stale_requests() {
    let headers = signed("POST", "/p", BODY);
    assert!(verify("POST", "/p", &headers, BODY, NOW + 300).is_ok());
    assert!(verify("POST", "/p", &headers, BODY, NOW - 300).is_ok());
    assert_eq!(
        verify("POST", "/p", &headers, BODY, NOW + 301),
        Err(SigError::StaleRequest)
    );
    assert_eq!(
        verify("POST", "/p", &headers, BODY, NOW - 301),
        Err(SigError::StaleRequest)
    );
    let guard = ReplayGuard::new(ReplayConfig {
        max_skew_secs: 5,
        ..ReplayConfig::default()
    });
    assert_eq!(
        verify_request("POST", "/p", &headers, BODY, NOW + 6, lookup, &guard),
        Err(SigError::StaleRequest)
    );
}

#[test]
fn requests_signed_before_a_restart_are_refused() {
    let headers = signed("POST", "/p", BODY);
    let before = ReplayGuard::default();
    assert!(verify_request("POST", "/p", &headers, BODY, NOW, lookup, &before).is_ok());
    // The server restarts at NOW + 5 and forgets; the replay falls before its floor.
    let after = ReplayGuard::default().refuse_created_before(NOW + 5);
    assert_eq!(
        verify_request("POST", "/p", &headers, BODY, NOW + 6, lookup, &after),
        Err(SigError::StaleRequest)
    );
    let fresh = to_map(sign_request("POST", "/p", BODY, "importer-1", &key(1), NOW + 6).unwrap());
    assert!(verify_request("POST", "/p", &fresh, BODY, NOW + 6, lookup, &after).is_ok());
}

/// Headers checked before the body arrived are checked again after: a request gone stale while its body
/// came in, or whose party rotated its key meanwhile, is refused.
#[test]
fn headers_checked_early_are_checked_again_with_the_body() {
    let headers = signed("POST", "/p", BODY);
    let guard = ReplayGuard::new(ReplayConfig {
        max_skew_secs: 5,
        ..ReplayConfig::default()
    });
    let checked = check_request_headers(&headers, NOW, lookup, &guard).unwrap();
    assert_eq!(checked.keyid(), "importer-1");
    assert_eq!(
        verify_checked(&checked, "POST", "/p", BODY, NOW + 6, lookup, &guard),
        Err(SigError::StaleRequest)
    );
    let rotated = |_: &PartyId| Some(key(9).verifying_key());
    assert_eq!(
        verify_checked(&checked, "POST", "/p", BODY, NOW, rotated, &guard),
        Err(SigError::BadSignature)
    );
    let gone = |_: &PartyId| None;
    assert_eq!(
        verify_checked(&checked, "POST", "/p", BODY, NOW, gone, &guard),
        Err(SigError::UnknownParty)
    );
    assert_eq!(
        verify_checked(&checked, "POST", "/p", BODY, NOW, lookup, &guard).unwrap(),
        "importer-1"
    );
    assert_eq!(
        verify_checked(&checked, "POST", "/p", BODY, NOW, lookup, &guard),
        Err(SigError::ReplayedRequest)
    );
}

#[test]
fn unknown_party() {
    let headers = to_map(sign_request("POST", "/p", BODY, "mallory", &key(9), NOW).unwrap());
    assert_eq!(
        verify("POST", "/p", &headers, BODY, NOW),
        Err(SigError::UnknownParty)
    );
}

#[test]
fn signed_with_the_wrong_key() {
    let headers = to_map(sign_request("POST", "/p", BODY, "importer-1", &key(2), NOW).unwrap());
    assert_eq!(
        verify("POST", "/p", &headers, BODY, NOW),
        Err(SigError::BadSignature)
    );
}

#[test]
fn profile_violations_are_malformed() {
    let headers = signed("POST", "/p", BODY);
    let input = headers["signature-input"].to_str().unwrap().to_owned();
    let cases = [
        input.replace(r#"alg="ed25519""#, r#"alg="rsa-pss-sha512""#),
        input.replace(r#";alg="ed25519""#, ""),
        input.replace(r#" "content-digest""#, ""),
        input.replace(r#""@query""#, r#""@authority""#),
        input.replace(r#""@path""#, r#""@path" "@path""#),
        input.replace(r#";keyid="importer-1""#, r#";keyid="""#),
        input.replace("created=", "created=-"),
        format!("{input};expires={}", NOW + 10),
        format!("{input}, sig2=(\"@method\")"),
        input.replace("sig1=", "sig2="),
        input.replace("nonce=\"", "nonce=\"!"),
        input
            .replace("created=", "created=\"")
            .replacen(";nonce", "\";nonce", 1),
    ];
    for case in cases {
        let h = with_header(headers.clone(), "signature-input", &case);
        assert_eq!(
            verify("POST", "/p", &h, BODY, NOW),
            Err(SigError::MalformedSignature),
            "{case}"
        );
    }
    let short_nonce =
        to_map(sign_with_nonce("POST", "/p", BODY, "importer-1", &key(1), NOW, "AAAA").unwrap());
    assert_eq!(
        verify("POST", "/p", &short_nonce, BODY, NOW),
        Err(SigError::MalformedSignature)
    );
    let h = with_header(headers.clone(), "signature", "sig1=:AAAA:");
    assert_eq!(
        verify("POST", "/p", &h, BODY, NOW),
        Err(SigError::MalformedSignature)
    );
    let h = with_header(headers.clone(), "signature", "sig1=\"x\"");
    assert_eq!(
        verify("POST", "/p", &h, BODY, NOW),
        Err(SigError::MalformedSignature)
    );
    let h = with_header(headers, "content-digest", "sha-512=:AAAA:");
    assert_eq!(
        verify("POST", "/p", &h, BODY, NOW),
        Err(SigError::DigestMismatch)
    );
}

#[test]
fn signer_refuses_unusable_inputs() {
    assert!(sign_request("POST", "/p", b"", "", &key(1), NOW).is_err());
    assert!(sign_request("POST", "/p", b"", "caf\u{e9}", &key(1), NOW).is_err());
    assert!(sign_request("POST", "/p\n", b"", "importer-1", &key(1), NOW).is_err());
}

#[test]
fn errors_have_stable_codes_and_no_secrets() {
    let all = [
        (SigError::BadSignature, "bad_signature"),
        (SigError::StaleRequest, "stale_request"),
        (SigError::ReplayedRequest, "replayed_request"),
        (SigError::UnknownParty, "unknown_party"),
        (SigError::MissingSignature, "missing_signature"),
        (SigError::MalformedSignature, "malformed_signature"),
        (SigError::DigestMismatch, "digest_mismatch"),
        (SigError::ReplayCacheFull, "replay_cache_full"),
        (SigError::ReplayQuotaExceeded, "replay_quota_exceeded"),
        (SigError::ReplayNotRecorded, "unavailable"),
    ];
    for (err, code) in all {
        assert_eq!(err.code(), code);
        assert!(!err.to_string().is_empty() && err.to_string().len() < 80);
    }
}

/// The worked example of docs/api.md, "Request signatures". It was produced by an independent Python signer
/// written from that document alone (hashlib + cryptography's Ed25519), so it pins the wire format.
#[test]
fn documented_example() {
    let seed: [u8; 32] = std::array::from_fn(|i| u8::try_from(i).unwrap());
    let key = SigningKey::from_bytes(&seed);
    assert_eq!(
        hex::encode(key.verifying_key().as_bytes()),
        "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8"
    );
    let target = "/v1/certificates/00112233445566778899aabbccddeeff/grants?dry_run=1";
    let body = br#"{"to":"cbp"}"#;
    let expected = [
        (
            "content-digest",
            "sha-256=:qzNf/L5VSlDilygoN8xshJyRlXUArKSvw2S3NE6aQeU=:",
        ),
        (
            "signature-input",
            r#"sig1=("@method" "@path" "@query" "content-digest");created=1790000000;nonce="dGVzdC1ub25jZS0xMjM0NQ";keyid="acme-imports";alg="ed25519""#,
        ),
        (
            "signature",
            "sig1=:hKPYQejrW2dK4JPYzFThedQhAlPzMrNWb+jH+Gk3IDuKq4xw9oAMU8ZXjeKoTnet+VbGA1fqyLU8z2MFrN/TBA==:",
        ),
    ];
    let ours = sign_with_nonce(
        "POST",
        target,
        body,
        "acme-imports",
        &key,
        1_790_000_000,
        "dGVzdC1ub25jZS0xMjM0NQ",
    )
    .unwrap();
    let ours: Vec<(&str, &str)> = ours.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    assert_eq!(ours, expected);

    let mut headers = HeaderMap::new();
    for (name, value) in expected {
        headers.insert(name, HeaderValue::from_static(value));
    }
    let vkey = key.verifying_key();
    let lookup = |p: &PartyId| (p == "acme-imports").then_some(vkey);
    let party = verify_request(
        "POST",
        target,
        &headers,
        body,
        1_790_000_000,
        lookup,
        &ReplayGuard::default(),
    );
    assert_eq!(party.unwrap(), "acme-imports");
}
