//! The example credentials in docs/examples/credentials: each valid one passes tradeledger's validation and
//! python-jsonschema's validation against the Traceability Vocabulary's own schema; each invalid one yields
//! exactly the violations listed next to it, every one with its pointer, and is refused by the vocabulary's
//! schema too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tradeledger::cert::vc::envelope::{ENVELOPE_MEMBER, envelop};
use tradeledger::cert::{
    CredentialType, Date, Document, Violation, render, validate_credential, validate_document,
};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples/credentials")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

fn pairs(violations: &[Violation]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = violations
        .iter()
        .map(|v| (v.pointer.clone(), v.rule.to_owned()))
        .collect();
    v.sort();
    v
}

fn today() -> Date {
    Date::new(2026, 11, 21).unwrap()
}

#[test]
fn every_example_credential_validates() {
    let mut types = Vec::new();
    for path in json_files(&examples_dir()) {
        let body = load(&path);
        let credential = validate_credential(&body)
            .unwrap_or_else(|v| panic!("{}:\n{}", path.display(), render(&v)));
        assert!(credential.token.is_none());
        // `register` and `open` dispatch on the body's shape: a credential is never read as a native body.
        assert!(matches!(
            validate_document(&body, today()),
            Ok(Document::Credential(_))
        ));
        types.push(credential.credential_type);
    }
    types.sort_by_key(|t| t.as_str());
    assert_eq!(
        types,
        [
            CredentialType::CertificationOfOrigin,
            CredentialType::UsmcaCertificationOfOrigin
        ]
    );
}

/// `invalid/NAME.json` comes with `invalid/NAME.violations`: one `pointer rule` per line, the exact multiset of
/// violations expected.
#[test]
fn every_invalid_example_credential_yields_exactly_its_violations() {
    let files = json_files(&examples_dir().join("invalid"));
    assert!(files.len() >= 3);
    for path in &files {
        let expected_text = fs::read_to_string(path.with_extension("violations")).unwrap();
        let mut expected: Vec<(String, String)> = expected_text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (pointer, rule) = l.trim().rsplit_once(' ').unwrap();
                (pointer.to_owned(), rule.to_owned())
            })
            .collect();
        expected.sort();
        let violations =
            validate_document(&load(path), today()).expect_err(&path.display().to_string());
        assert_eq!(
            pairs(&violations),
            expected,
            "{}:\n{}",
            path.display(),
            render(&violations)
        );
    }
}

/// The interpreter of the virtual environment tests/interop/pyenv.sh keeps (PyPI jsonschema, pinned).
fn python() -> PathBuf {
    let out = Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/pyenv.sh"))
        .output()
        .expect("running tests/interop/pyenv.sh");
    assert!(
        out.status.success(),
        "tests/interop/pyenv.sh could not set up Python with the pinned requirements:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// python-jsonschema's verdict on each file: the (path, validator) of every error.
fn jsonschema_errors(files: &[PathBuf]) -> Vec<(PathBuf, Vec<(String, String)>)> {
    let out = Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/validate_credentials.py"))
        .args(files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "validate_credentials.py failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), files.len(), "one verdict per file");
    files
        .iter()
        .zip(lines)
        .map(|(f, line)| {
            let errors = line["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["path"].as_str().unwrap().to_owned(),
                        e["validator"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            (f.clone(), errors)
        })
        .collect()
}

#[test]
fn examples_are_valid_under_the_vocabularys_schema_in_python_jsonschema() {
    let valid = json_files(&examples_dir());
    for (file, errors) in jsonschema_errors(&valid) {
        assert_eq!(
            errors,
            [],
            "{} is invalid under the vocabulary",
            file.display()
        );
    }
    // The invalid examples break the vocabulary's schema as well as tradeledger's rules; the ones only
    // tradeledger's trade rules catch (HS length, blanket period, territory) are not schema errors.
    let invalid: Vec<PathBuf> = json_files(&examples_dir().join("invalid"))
        .into_iter()
        .filter(|f| !f.ends_with("unknown-credential-type.json"))
        .collect();
    for (file, errors) in jsonschema_errors(&invalid) {
        assert!(
            !errors.is_empty(),
            "{} passes the vocabulary's schema",
            file.display()
        );
        // Every place jsonschema faults is one tradeledger faults too (at the field, or for a missing or
        // unknown field, at a field of that object).
        let ours = validate_document(&load(&file), today()).unwrap_err();
        for (path, validator) in errors {
            let path = if path == "/" { String::new() } else { path };
            assert!(
                ours.iter().any(|v| v.pointer == path
                    || (matches!(validator.as_str(), "required" | "additionalProperties")
                        && v.pointer.rsplit_once('/').map(|(parent, _)| parent) == Some(&path))
                    || (validator == "enum" && path.starts_with(&v.pointer))),
                "{}: jsonschema faults {path} ({validator}), tradeledger does not:\n{}",
                file.display(),
                render(&ours)
            );
        }
    }
}

#[test]
fn country_names_are_accepted_where_the_vocabulary_allows_them() {
    let mut body = load(&examples_dir().join("usmca-certification-of-origin.json"));
    let address = "/credentialSubject/exporterDetails/location/address/addressCountry";
    for ok in ["Canada", "MX", "united states", "México"] {
        *body.pointer_mut(address).unwrap() = json!(ok);
        assert!(validate_credential(&body).is_ok(), "{ok}");
    }
    *body.pointer_mut(address).unwrap() = json!("Guatemala");
    assert_eq!(
        pairs(&validate_credential(&body).unwrap_err()),
        [(address.to_owned(), "address.usmca-country".to_owned())]
    );
}

#[test]
fn blanket_period_is_at_most_twelve_months_and_runs_forward() {
    let mut body = load(&examples_dir().join("usmca-certification-of-origin.json"));
    body["validUntil"] = json!("2027-01-01T00:00:00Z");
    assert!(validate_credential(&body).is_ok(), "exactly 12 months");
    body["validUntil"] = json!("2027-01-02T00:00:00Z");
    assert_eq!(
        pairs(&validate_credential(&body).unwrap_err()),
        [("/validUntil".to_owned(), "blanket.max-12-months".to_owned())]
    );
    body["validUntil"] = json!("2025-12-31T00:00:00Z");
    assert_eq!(
        pairs(&validate_credential(&body).unwrap_err()),
        [("/validUntil".to_owned(), "blanket.order".to_owned())]
    );
    // With an invoice number the credential covers a single shipment: its validity is no blanket period (a
    // native single shipment has none), so only its order counts; tradeledger's export writes four years.
    body["credentialSubject"]["invoiceNumber"] = json!("LGW-2026-0042");
    body["validUntil"] = json!("2030-01-01T23:59:59Z");
    assert!(validate_credential(&body).is_ok());
    body["validUntil"] = json!("2025-12-31T00:00:00Z");
    assert_eq!(
        pairs(&validate_credential(&body).unwrap_err()),
        [("/validUntil".to_owned(), "blanket.order".to_owned())]
    );
    body.as_object_mut().unwrap().remove("validUntil");
    assert_eq!(
        pairs(&validate_credential(&body).unwrap_err()),
        [("/validUntil".to_owned(), "field.required".to_owned())]
    );
    // The generic credential may leave its end open.
    let mut origin = load(&examples_dir().join("certification-of-origin.json"));
    origin.as_object_mut().unwrap().remove("validUntil");
    assert!(validate_credential(&origin).is_ok());
}

/// A compact JWS with the given header and payload and a made-up signature (validation does not verify it).
fn token(header: &Value, payload: &Value) -> String {
    use base64::Engine as _;
    let b64 = |v: &Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    };
    format!("{}.{}.{}", b64(header), b64(payload), "c2ln")
}

#[test]
fn a_jws_secured_credential_keeps_its_token_and_pointers_address_the_credential() {
    let credential = load(&examples_dir().join("usmca-certification-of-origin.json"));
    let jws = token(&json!({"alg": "EdDSA", "typ": "vc+jwt"}), &credential);
    let body = envelop(&format!("{jws}\n")).unwrap();
    assert_eq!(
        body.pointer("/credentialSubject/goods/0/commodityCode"),
        Some(&json!("8483.40"))
    );
    let validated = validate_credential(&body).unwrap();
    assert_eq!(validated.token.as_deref(), Some(jws.as_str()));
    assert_eq!(
        validated.issuer.as_deref(),
        Some("did:web:lakeshore-gear.example.com")
    );

    // The token's payload must be the credential the body holds: a body edited after the fact is refused.
    let mut edited = body.clone();
    edited["credentialSubject"]["goods"][0]["originCriterion"] = json!("A");
    assert_eq!(
        pairs(&validate_credential(&edited).unwrap_err()),
        [(
            format!("/{ENVELOPE_MEMBER}/id"),
            "envelope.payload".to_owned()
        )]
    );
    // Violations inside a secured credential point into the credential as usual.
    let mut bad = credential.clone();
    bad["credentialSubject"]["goods"][1]["commodityCode"] = json!("84");
    let body = envelop(&token(&json!({"alg": "EdDSA"}), &bad)).unwrap();
    assert_eq!(
        pairs(&validate_credential(&body).unwrap_err()),
        [(
            "/credentialSubject/goods/1/commodityCode".to_owned(),
            "hs.length".to_owned()
        )]
    );
}

#[test]
fn unreadable_tokens_are_refused_without_panicking() {
    for bad in [
        "",
        "eyJ",
        "eyJhbGciOiJFZERTQSJ9.e30",
        "eyJhbGciOiJFZERTQSJ9.!!!.c2ln",
        "eyJhbGciOiJFZERTQSJ9.WzFd.c2ln",
        "bm90IGpzb24.e30.c2ln",
        "a.b.c.d",
    ] {
        let violations = envelop(bad).unwrap_err();
        assert_eq!(
            pairs(&violations),
            [(String::new(), "jws.format".to_owned())],
            "{bad}"
        );
    }
}

/// Every leaf pointer of `value`.
fn leaves(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                leaves(v, format!("{pointer}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                leaves(v, format!("{pointer}/{i}"), out);
            }
        }
        _ => out.push(pointer),
    }
}

use proptest::prelude::*;

proptest! {
    /// Any leaf of an example credential replaced by a hostile value: never a panic, an error exactly when
    /// something is reported, and no violation quotes the value.
    #[test]
    fn example_credentials_with_one_leaf_replaced_never_panic_nor_echo(
        which in 0usize..2,
        leaf in any::<prop::sample::Index>(),
        replacement in prop_oneof![
            Just(json!(null)),
            Just(json!(12)),
            Just(json!(["SECRET-MARKER"])),
            Just(json!({"SECRET-MARKER": 1})),
            "SECRET-MARKER[ -~]{0,12}".prop_map(Value::from),
        ],
    ) {
        let body = load(&json_files(&examples_dir())[which]);
        let mut pointers = Vec::new();
        leaves(&body, String::new(), &mut pointers);
        let mut mutated = body.clone();
        let pointer: &String = leaf.get(&pointers);
        *mutated.pointer_mut(pointer).unwrap() = replacement;
        if let Err(violations) = validate_credential(&mutated) {
            prop_assert!(!violations.is_empty());
            for v in &violations {
                prop_assert!(!v.message.contains("SECRET-MARKER"), "{v}");
            }
        }
    }
}
