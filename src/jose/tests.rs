//! The JOSE module against published vectors and hostile tokens.

use ed25519_dalek::SigningKey;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use super::jws::{self, Limits};
use super::{JoseError, b64, did_jwk};

const VECTORS: &str = include_str!("vectors.json");

fn vectors() -> Value {
    serde_json::from_str(VECTORS).expect("vectors.json is JSON")
}

fn rfc8037_key() -> SigningKey {
    let v = vectors();
    let d = b64::decode(v["rfc8037"]["d"].as_str().expect("d"), "d").expect("d decodes");
    SigningKey::from_bytes(&d.try_into().expect("32 bytes"))
}

fn header(typ: &str, key: &SigningKey) -> Map<String, Value> {
    let mut h = Map::new();
    h.insert("typ".into(), json!(typ));
    h.insert(
        "kid".into(),
        json!(did_jwk::verification_method(&key.verifying_key())),
    );
    h
}

#[test]
fn rfc8037_a4_signature_matches_byte_for_byte_and_a5_verifies() {
    let v = &vectors()["rfc8037"];
    let key = rfc8037_key();
    assert_eq!(
        b64::encode(key.verifying_key().as_bytes()),
        v["x"].as_str().expect("x")
    );
    let header: Map<String, Value> =
        serde_json::from_str(v["header"].as_str().expect("header")).expect("header JSON");
    let payload = v["payload"].as_str().expect("payload").as_bytes();
    let token = jws::sign(header, payload, &key);
    assert_eq!(token, v["jws"].as_str().expect("jws"));
    let verified =
        jws::verify_with_key(&token, &key.verifying_key(), &Limits::DEFAULT).expect("A.5 verifies");
    assert_eq!(verified.payload, payload);
    assert_eq!(verified.kid, None);
    // Without a kid there is no key to take: `verify` refuses rather than guessing.
    let err = jws::verify(&token, &Limits::DEFAULT).expect_err("no kid");
    assert!(err.to_string().contains("kid"), "{err}");
}

#[test]
fn did_jwk_is_the_rfc7638_canonical_jwk_of_the_rfc8037_key() {
    let v = &vectors()["rfc8037"];
    let key = rfc8037_key().verifying_key();
    let did = did_jwk::encode(&key);
    let jwk = b64::decode(did.strip_prefix("did:jwk:").expect("prefix"), "did").expect("b64");
    // The SHA-256 of the JWK as written is RFC 8037 A.3's thumbprint: the canonical RFC 7638 form.
    assert_eq!(
        b64::encode(Sha256::digest(&jwk)),
        v["thumbprint"].as_str().expect("thumbprint")
    );
    assert_eq!(did_jwk::decode(&did).expect("decodes"), key);
    assert_eq!(
        did_jwk::decode(&format!("{did}#0")).expect("method decodes"),
        key
    );
    assert_eq!(did_jwk::verification_method(&key), format!("{did}#0"));
}

#[test]
fn did_jwk_refuses_the_spec_examples_of_other_key_types_and_hostile_ones() {
    for case in vectors()["fail_did_jwk"].as_array().expect("cases") {
        let err = did_jwk::decode(case["did"].as_str().expect("did")).expect_err("must refuse");
        let expected = case["error"].as_str().expect("error");
        assert!(
            err.to_string().contains(expected),
            "{}: {err}",
            case["name"]
        );
    }
    let key = rfc8037_key();
    let x = b64::encode(key.verifying_key().as_bytes());
    let did = |jwk: &str| format!("did:jwk:{}", b64::encode(jwk));
    let refused = [
        (
            did(&format!(
                r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","d":"AAAA"}}"#
            )),
            "private key",
        ),
        (
            did(&format!(
                r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","kty":"OKP"}}"#
            )),
            "twice",
        ),
        (
            did(r#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#),
            "32 bytes",
        ),
        (
            did(r#"{"kty":"OKP","crv":"Ed25519"}"#),
            "x (the public key) is missing",
        ),
        (
            did(&format!(
                r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","use":"enc"}}"#
            )),
            "use",
        ),
        (
            did(&format!(
                r#"{{"kty":"OKP","crv":"Ed25519","x":"{x}","y":"AA"}}"#
            )),
            "unexpected member",
        ),
        (did("[1,2]"), "JWK"),
        (format!("{}#1", did_jwk::encode(&key.verifying_key())), "#0"),
        (
            format!("{}=", did_jwk::encode(&key.verifying_key())),
            "base64url",
        ),
        ("did:key:z6Mk".into(), "did:jwk:"),
        (format!("did:jwk:{}", "A".repeat(2000)), "longer than"),
    ];
    for (input, expected) in refused {
        let err = did_jwk::decode(&input).expect_err("must refuse");
        assert!(
            err.to_string().contains(expected),
            "{input}: {err} (wanted {expected})"
        );
    }
}

#[test]
fn base64url_is_strict() {
    assert_eq!(b64::decode("AQ", "t").expect("canonical"), [1]);
    for bad in ["AQ==", "AR", "A+", "A/", "A", "AQ\n"] {
        assert!(b64::decode(bad, "t").is_err(), "{bad:?} must be refused");
    }
}

#[test]
fn sign_then_verify_takes_the_key_from_kid_and_checks_typ() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let token = jws::sign(header("vc+jwt", &key), br#"{"a":1}"#, &key);
    let verified = jws::verify(&token, &Limits::with_typ("vc+jwt")).expect("verifies");
    assert_eq!(verified.key, key.verifying_key());
    assert_eq!(verified.payload, br#"{"a":1}"#);
    assert_eq!(verified.header["alg"], "EdDSA");
    jws::verify(&token, &Limits::with_typ("application/VC+JWT"))
        .expect("typ compares as a media type");
    let err = jws::verify(&token, &Limits::with_typ("dc+sd-jwt")).expect_err("wrong typ");
    assert!(err.to_string().contains("typ"), "{err}");
}

#[test]
fn every_single_byte_change_is_refused() {
    let key = SigningKey::from_bytes(&[9; 32]);
    let token = jws::sign(header("vc+jwt", &key), b"{\"claim\":\"value\"}", &key);
    let bytes = token.as_bytes();
    for i in 0..bytes.len() {
        for replacement in [b'A', b'.', b'_'] {
            if bytes[i] == replacement {
                continue;
            }
            let mut changed = bytes.to_vec();
            changed[i] = replacement;
            let changed = String::from_utf8(changed).expect("ASCII");
            assert!(
                jws::verify(&changed, &Limits::DEFAULT).is_err(),
                "byte {i} -> {replacement}"
            );
        }
    }
}

#[test]
fn hostile_headers_are_refused_with_the_parameter_named() {
    let key = SigningKey::from_bytes(&[3; 32]);
    let kid = did_jwk::verification_method(&key.verifying_key());
    let forge = |header: &str| {
        let input = format!("{}.{}", b64::encode(header), b64::encode("{}"));
        let signature = ed25519_dalek::Signer::sign(&key, input.as_bytes());
        format!("{input}.{}", b64::encode(signature.to_bytes()))
    };
    let cases = [
        (format!(r#"{{"alg":"none","kid":"{kid}"}}"#), "alg"),
        (format!(r#"{{"alg":"ES256","kid":"{kid}"}}"#), "alg"),
        (format!(r#"{{"kid":"{kid}"}}"#), "alg"),
        (
            format!(r#"{{"alg":"EdDSA","alg":"EdDSA","kid":"{kid}"}}"#),
            "twice",
        ),
        (
            format!(r#"{{"alg":"EdDSA","kid":"{kid}","crit":["x"],"x":1}}"#),
            "crit",
        ),
        (
            format!(r#"{{"alg":"EdDSA","kid":"{kid}","b64":false}}"#),
            "b64",
        ),
        (r#"{"alg":"EdDSA","kid":7}"#.to_string(), "kid"),
        (
            r#"{"alg":"EdDSA","kid":"did:web:example.com#0"}"#.to_string(),
            "did:jwk",
        ),
        ("[]".to_string(), "protected header"),
        (
            format!(r#"{{"alg":"EdDSA","kid":"{kid}"}} x"#),
            "protected header",
        ),
    ];
    for (header, expected) in cases {
        let err = jws::verify(&forge(&header), &Limits::DEFAULT).expect_err(&header);
        assert!(
            err.to_string().contains(expected),
            "{header}: {err} (wanted {expected})"
        );
    }
    // A kid naming another key than the one that signed: the signature does not verify.
    let other = did_jwk::verification_method(&SigningKey::from_bytes(&[4; 32]).verifying_key());
    let err = jws::verify(
        &forge(&format!(r#"{{"alg":"EdDSA","kid":"{other}"}}"#)),
        &Limits::DEFAULT,
    )
    .expect_err("wrong key");
    assert_eq!(err, JoseError::Signature);
}

#[test]
fn shape_and_size_limits_are_enforced() {
    let key = SigningKey::from_bytes(&[5; 32]);
    let token = jws::sign(header("vc+jwt", &key), &[b'x'; 4096], &key);
    for bad in ["", "a.b", "a.b.c.d", "...."] {
        assert!(
            matches!(
                jws::verify(bad, &Limits::DEFAULT),
                Err(JoseError::Parts(_) | JoseError::Base64 { .. } | JoseError::Header(_))
            ),
            "{bad:?}"
        );
    }
    let small = Limits {
        max_token: 1000,
        ..Limits::DEFAULT
    };
    assert!(matches!(
        jws::verify(&token, &small),
        Err(JoseError::TooLarge { .. })
    ));
    let tiny_header = Limits {
        max_header: 16,
        ..Limits::DEFAULT
    };
    assert!(matches!(
        jws::verify(&token, &tiny_header),
        Err(JoseError::TooLarge { .. })
    ));
}
