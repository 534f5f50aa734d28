//! Commit → disclose → verify round trips, tampering and canonical-form properties.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use sha2::Digest;

use super::*;

fn salt(n: u8) -> MasterSalt {
    MasterSalt::from_bytes([n; 32])
}

/// Random JSON bodies: nested objects and arrays of every leaf type, including empty containers.
fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "[a-zA-Z0-9 ~/é\"\\\\]{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z~/]{0,5}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// JSON text with object members in reverse order and generous whitespace.
fn scrambled_text(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.reverse();
            let inner: Vec<String> = members
                .into_iter()
                .map(|(k, v)| format!("\n  {} :\t{}", Value::String(k.clone()), scrambled_text(v)))
                .collect();
            format!("{{ {} }}", inner.join(" ,"))
        }
        Value::Array(items) => {
            let inner: Vec<String> = items.iter().map(scrambled_text).collect();
            format!("[ {} ]", inner.join(" , "))
        }
        other => other.to_string(),
    }
}

#[test]
fn root_matches_the_documented_leaf_layout() {
    let body = json!({"a": 1});
    let master = salt(7);
    let mut field_salt = [0u8; 32];
    Hkdf::<Sha256>::new(None, &[7; 32])
        .expand(b"tradeledger/field-salt/v1/a", &mut field_salt)
        .unwrap();
    let mut data = b"tradeledger/field/v1\x00\x02/a".to_vec();
    data.extend(field_salt);
    data.extend(b"\x021");
    let mut leaf = vec![0u8];
    leaf.extend(&data);
    let want: Hash = Sha256::digest(&leaf).into();
    assert_eq!(commit(&body, &master).unwrap().root(), want);
}

#[test]
fn disclosure_reveals_only_the_chosen_fields() {
    let body = json!({
        "producer": {"name": "SECRET-PRODUCER", "tax_id": "SECRET-TAX"},
        "hs_code": "850440",
        "origin_criterion": "B",
        "lines": [],
    });
    let committed = commit(&body, &MasterSalt::generate()).unwrap();
    let cert = CertId::random();
    let disclosure = committed.disclose(&cert, &["/hs_code", "/lines"]).unwrap();
    let text = disclosure.to_json();
    assert!(!text.contains("SECRET"), "{text}");
    let parsed = Disclosure::from_json(&text).unwrap();
    assert_eq!(parsed, disclosure);
    parsed.verify(&committed.root()).unwrap();
    assert_eq!(parsed.get("/hs_code"), Some(&json!("850440")));
    assert_eq!(parsed.get("/lines"), Some(&json!([])));
    assert_eq!(parsed.cert_id, cert);

    // A pointer to an object discloses everything beneath it; an unknown pointer is an error.
    let producer = committed.disclose(&cert, &["/producer"]).unwrap();
    assert_eq!(producer.fields.len(), 2);
    producer.verify(&committed.root()).unwrap();
    assert!(committed.disclose(&cert, &["/prod"]).is_err());
    assert!(committed.disclose(&cert, &["/nope"]).is_err());
}

#[test]
fn verify_rejects_malformed_disclosures() {
    let body = json!({"a": 1, "b": 2, "c": 3});
    let committed = commit(&body, &salt(1)).unwrap();
    let root = committed.root();
    let good = committed
        .disclose(&CertId::random(), &["/a", "/c"])
        .unwrap();
    good.verify(&root).unwrap();

    let mut empty = good.clone();
    empty.fields.clear();
    let mut reversed = good.clone();
    reversed.fields.reverse();
    let mut duplicated = good.clone();
    duplicated.fields.push(good.fields[1].clone());
    let mut versioned = good.clone();
    versioned.version = 2;
    let mut bad_pointer = good.clone();
    bad_pointer.fields[0].pointer = "a".into();
    let mut container = good.clone();
    container.fields[0].value = json!([1]);
    let mut resized = good.clone();
    resized.tree_size = 4;
    for bad in [
        empty,
        reversed,
        duplicated,
        versioned,
        bad_pointer,
        container,
        resized,
    ] {
        assert!(matches!(
            bad.verify(&root),
            Err(Error::DisclosureInvalid(_))
        ));
    }
    assert!(
        good.verify(&commit(&body, &salt(2)).unwrap().root())
            .is_err()
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn commit_disclose_verify(body in arb_json(), picks in proptest::collection::vec(any::<bool>(), 64), seed in any::<u8>()) {
        let committed = commit(&body, &salt(seed)).unwrap();
        let pointers: Vec<String> = committed.pointers().map(str::to_owned).collect();
        prop_assert_eq!(committed.leaf_count(), pointers.len() as u64);
        let mut chosen: Vec<&str> = pointers
            .iter()
            .zip(picks.iter().cycle())
            .filter(|(_, pick)| **pick)
            .map(|(p, _)| p.as_str())
            .collect();
        if chosen.is_empty() {
            chosen.push(&pointers[0]);
        }
        let disclosure = committed.disclose(&CertId::random(), &chosen).unwrap();
        prop_assert_eq!(disclosure.fields.len(), chosen.len());
        let parsed = Disclosure::from_json(&disclosure.to_json()).unwrap();
        prop_assert_eq!(&parsed, &disclosure);
        prop_assert!(parsed.verify(&committed.root()).is_ok());
    }

    #[test]
    fn tampering_is_rejected(body in arb_json(), which in any::<prop::sample::Index>(), how in 0u8..6) {
        let committed = commit(&body, &salt(9)).unwrap();
        let pointers: Vec<&str> = committed.pointers().collect();
        let mut disclosure = committed.disclose(&CertId::random(), &pointers).unwrap();
        let i = which.index(disclosure.fields.len());
        let field = &mut disclosure.fields[i];
        match how {
            0 => field.value = if field.value == json!("x") { json!("y") } else { json!("x") },
            1 => field.pointer.push('x'),
            2 => field.salt[0] ^= 1,
            3 => field.leaf_index ^= 1,
            4 => match field.proof.first_mut() {
                Some(hash) => hash[31] ^= 0x80,
                None => field.proof.push([0; 32]),
            },
            _ => disclosure.tree_size += 1,
        }
        prop_assert!(disclosure.verify(&committed.root()).is_err());
    }

    #[test]
    fn key_order_and_whitespace_do_not_change_the_root(body in arb_json()) {
        let reparsed: Value = serde_json::from_str(&scrambled_text(&body)).unwrap();
        prop_assert_eq!(&reparsed, &body);
        let canonical: Value = serde_json::from_slice(&canonical::canonical_json(&body)).unwrap();
        let root = commit(&body, &salt(3)).unwrap().root();
        prop_assert_eq!(commit(&reparsed, &salt(3)).unwrap().root(), root);
        prop_assert_eq!(commit(&canonical, &salt(3)).unwrap().root(), root);
        prop_assert_ne!(commit(&body, &salt(4)).unwrap().root(), root);
    }
}
