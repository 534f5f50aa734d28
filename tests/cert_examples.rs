//! The example certificates in docs/examples: every valid one validates and round-trips through the typed
//! structs; every invalid one yields exactly the violations listed next to it; no violation echoes a value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use proptest::prelude::*;
use serde_json::{Value, json};
use tradeledger::cert::{
    Certificate, Date, Regime, Violation, regime_of, render, validate, validate_json,
};

fn today() -> Date {
    Date::new(2026, 11, 21).unwrap()
}

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/examples")
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

#[test]
fn every_example_validates_and_round_trips() {
    let files = json_files(&examples_dir());
    let mut regimes = BTreeSet::new();
    let mut usmca = 0;
    for path in &files {
        let body = load(path);
        let cert = validate(&body, today())
            .unwrap_or_else(|v| panic!("{}:\n{}", path.display(), render(&v)));
        assert_eq!(regime_of(&body), Some(cert.regime()));
        regimes.insert(cert.regime().as_str());
        usmca += usize::from(cert.regime() == Regime::Usmca);
        // The typed struct holds everything the body said, and nothing else.
        assert_eq!(
            serde_json::to_value(&cert).unwrap(),
            body,
            "{}",
            path.display()
        );
        let back: Certificate = serde_json::from_value(body).unwrap();
        assert!(back == cert, "{}", path.display());
    }
    assert_eq!(
        regimes.into_iter().collect::<Vec<_>>(),
        ["CAFTA-DR", "NAFTA-434", "USMCA"]
    );
    assert!(usmca >= 3, "at least three USMCA variants");
}

/// `invalid/NAME.json` comes with `invalid/NAME.violations`: one `pointer rule` per line (`(body)` for the empty
/// pointer), the exact multiset of violations expected.
#[test]
fn every_invalid_example_yields_exactly_its_violations() {
    let files = json_files(&examples_dir().join("invalid"));
    assert!(files.len() >= 5);
    for path in &files {
        let expected_text = fs::read_to_string(path.with_extension("violations")).unwrap();
        let mut expected: Vec<(String, String)> = expected_text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (pointer, rule) = l.trim().rsplit_once(' ').unwrap();
                let pointer = if pointer == "(body)" { "" } else { pointer };
                (pointer.to_owned(), rule.to_owned())
            })
            .collect();
        expected.sort();
        let bytes = fs::read(path).unwrap();
        let violations = validate_json(&bytes, today()).expect_err(&path.display().to_string());
        assert_eq!(
            pairs(&violations),
            expected,
            "{}:\n{}",
            path.display(),
            render(&violations)
        );
    }
}

#[test]
fn all_violations_are_reported_at_once() {
    let mut body = load(&examples_dir().join("usmca.json"));
    body["goods"][0]["hs_code"] = json!("8708.3A");
    body["goods"][1]["origin_criterion"] = json!("E");
    body["certifier"]["email"] = json!("not an email");
    body["signature"]["date"] = json!("2026-11-22");
    body["importer"]["address"]["country"] = json!("DE");
    let violations = validate(&body, today()).unwrap_err();
    assert_eq!(
        pairs(&violations),
        [
            ("/certifier/email", "email.format"),
            ("/goods/0/hs_code", "hs.digits"),
            ("/goods/1/origin_criterion", "origin.criterion"),
            ("/importer/address/country", "address.usmca-country"),
            ("/signature/date", "signature.future"),
        ]
        .map(|(p, r)| (p.to_owned(), r.to_owned()))
    );
    // The same body is fine the day the signature date comes, apart from the other four.
    assert_eq!(
        validate(&body, Date::new(2026, 11, 22).unwrap())
            .unwrap_err()
            .len(),
        4
    );
}

fn rules_for(body: &Value) -> Vec<(String, String)> {
    validate(body, today()).map_or_else(|v| pairs(&v), |_| Vec::new())
}

fn expect(list: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = list
        .iter()
        .map(|(p, r)| ((*p).to_owned(), (*r).to_owned()))
        .collect();
    v.sort();
    v
}

#[test]
fn regime_specific_values() {
    // Joint production exists only on Form 434; criteria E and F only in NAFTA.
    let mut nafta = load(&examples_dir().join("nafta-434.json"));
    nafta["goods"][0]["country_of_origin"] = json!("JNT");
    nafta["goods"][1]["preference_criterion"] = json!("F");
    nafta["importer"] = json!("UNKNOWN");
    assert_eq!(rules_for(&nafta), expect(&[]));
    nafta["importer"] = json!("SAME");
    nafta["producer"] = json!("VARIOUS");
    assert_eq!(rules_for(&nafta), expect(&[("/importer", "party.literal")]));

    let mut usmca = load(&examples_dir().join("usmca.json"));
    usmca["goods"][0]["country_of_origin"] = json!("JNT");
    usmca["goods"][1]["origin_criterion"] = json!("F");
    assert_eq!(
        rules_for(&usmca),
        expect(&[
            ("/goods/0/country_of_origin", "origin.country"),
            ("/goods/1/origin_criterion", "origin.criterion")
        ])
    );

    // A USMCA producer may be a list; an empty list says nothing.
    let mut usmca = load(&examples_dir().join("usmca.json"));
    let producer = usmca["producer"].clone();
    usmca["producer"] = json!([producer.clone(), producer]);
    assert_eq!(rules_for(&usmca), expect(&[]));
    usmca["producer"] = json!([]);
    assert_eq!(rules_for(&usmca), expect(&[("/producer", "list.empty")]));
    usmca["producer"] = json!("AVAILABLE TO CUSTOMS UPON REQUEST");
    assert_eq!(rules_for(&usmca), expect(&[("/producer", "party.literal")]));

    // A producer certifying need not know the exporter; an exporter certifying need not repeat itself.
    let mut usmca = load(&examples_dir().join("usmca.json"));
    usmca.as_object_mut().unwrap().remove("exporter");
    assert_eq!(rules_for(&usmca), expect(&[]));
    usmca["certifier"]["role"] = json!("IMPORTER");
    assert_eq!(
        rules_for(&usmca),
        expect(&[("/exporter", "party.required-for-role")])
    );

    // CAFTA-DR: e-mail "if any"; the rule of origin is required; the producer must be in a Party.
    let mut cafta = load(&examples_dir().join("cafta-dr.json"));
    cafta["importer"].as_object_mut().unwrap().remove("email");
    cafta["goods"][1]
        .as_object_mut()
        .unwrap()
        .remove("rule_of_origin");
    cafta["exporter"]["address"]["country"] = json!("PA");
    assert_eq!(
        rules_for(&cafta),
        expect(&[("/goods/1/rule_of_origin", "field.required")])
    );

    // null stands for an absent field.
    let mut cafta = load(&examples_dir().join("cafta-dr.json"));
    cafta["blanket_period"] = Value::Null;
    assert_eq!(rules_for(&cafta), expect(&[]));
    cafta["goods"] = Value::Null;
    assert_eq!(rules_for(&cafta), expect(&[("/goods", "field.required")]));
}

const MARKER: &str = "QX7SECRETQX7";

/// Every string or number leaf of `value`, as a JSON pointer.
fn leaves(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| leaves(v, format!("{pointer}/{k}"), out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| leaves(v, format!("{pointer}/{i}"), out)),
        _ => out.push(pointer),
    }
}

/// Violations name the field and the rule, never the value found there: bodies are trade secrets and violations
/// are logged and returned over HTTP. Each leaf of each example in turn gets values that break its rule in
/// different ways, all carrying a marker, and the marker must appear in no violation.
#[test]
fn violations_never_echo_values() {
    let bad_values = [
        MARKER.to_owned(),
        format!("{MARKER}\u{7}"),
        format!("{MARKER}@"),
        format!("1234.56.{MARKER}"),
        format!("2026-01-{MARKER}"),
        MARKER.repeat(200),
    ];
    for path in json_files(&examples_dir()) {
        let body = load(&path);
        let mut pointers = Vec::new();
        leaves(&body, String::new(), &mut pointers);
        for pointer in &pointers {
            for bad in &bad_values {
                let mut mutated = body.clone();
                *mutated.pointer_mut(pointer).unwrap() = json!(bad);
                if let Err(violations) = validate(&mutated, today()) {
                    for v in &violations {
                        assert!(
                            !v.message.contains(MARKER) && !v.pointer.contains(MARKER),
                            "{pointer}: {v}"
                        );
                        assert!(!v.to_string().contains(MARKER));
                    }
                }
            }
        }
    }
}

#[test]
fn regime_is_read_before_anything_else() {
    assert_eq!(regime_of(&json!({"regime": "USMCA"})), Some(Regime::Usmca));
    assert_eq!(
        regime_of(&json!({"regime": "CAFTA-DR"})),
        Some(Regime::CaftaDr)
    );
    assert_eq!(
        regime_of(&json!({"regime": "NAFTA-434"})),
        Some(Regime::Nafta434)
    );
    assert_eq!(regime_of(&json!({"regime": "usmca"})), None);
    assert_eq!(regime_of(&json!(["USMCA"])), None);
    let v = validate(&json!({"schema": "x", "whatever": 1}), today()).unwrap_err();
    assert_eq!(
        pairs(&v),
        [("/regime".to_owned(), "field.required".to_owned())]
    );
    let v = validate(&json!("USMCA"), today()).unwrap_err();
    assert_eq!(pairs(&v), [(String::new(), "type".to_owned())]);
    assert_eq!(
        render(&v),
        "(body): expected an object, found a string [type]\n"
    );
}

#[test]
fn raw_bytes_that_are_not_json() {
    let v = validate_json(
        b"{\"regime\": \"USMCA\",\n \"schema\": QX7SECRETQX7}",
        today(),
    )
    .unwrap_err();
    assert_eq!(pairs(&v), [(String::new(), "json.syntax".to_owned())]);
    assert!(
        v[0].message.contains("line 2") && !v[0].message.contains(MARKER),
        "{}",
        v[0]
    );
}

#[test]
fn certificate_debug_is_redacted() {
    let cert = validate(&load(&examples_dir().join("usmca.json")), today()).unwrap();
    assert_eq!(format!("{cert:?}"), "Certificate(USMCA, 2 goods, ..)");
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "\\PC{0,16}".prop_map(Value::String),
        prop::sample::select(vec![
            "USMCA",
            "CAFTA-DR",
            "NAFTA-434",
            "2026-02-29",
            "8708.30",
            "VARIOUS",
            "SAME",
            "A"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "regime",
                    "schema",
                    "goods",
                    "producer",
                    "importer",
                    "exporter",
                    "certifier",
                    "signature",
                    "address",
                    "name",
                    "hs_code",
                    "date",
                    "from",
                    "to",
                    "blanket_period",
                    "x",
                ]),
                inner,
                0..8
            )
            .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())),
        ]
    })
}

/// `null` is read as "absent", so a validated body serializes without its nulls.
fn without_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(without_nulls).collect()),
        other => other,
    }
}

proptest! {
    #[test]
    fn random_json_never_panics(body in arbitrary_json()) {
        let _ = validate(&body, today());
    }

    #[test]
    fn examples_with_one_field_replaced_never_panic(
        which in 0usize..5,
        leaf in any::<prop::sample::Index>(),
        replacement in arbitrary_json(),
    ) {
        let files = json_files(&examples_dir());
        let body = load(&files[which % files.len()]);
        let mut pointers = Vec::new();
        leaves(&body, String::new(), &mut pointers);
        let mut mutated = body.clone();
        let pointer: &String = leaf.get(&pointers);
        *mutated.pointer_mut(pointer).unwrap() = replacement;
        match validate(&mutated, today()) {
            Ok(cert) => prop_assert_eq!(serde_json::to_value(&cert).unwrap(), without_nulls(mutated)),
            Err(violations) => prop_assert!(!violations.is_empty()),
        }
    }
}
