//! The mapping's soundness: what a verifier recomputes from disclosed native fields is always exactly what
//! the whole certificate maps to, whatever subset is disclosed.

use serde_json::Value;

use super::mapping::{self, CredentialType, Issuance, Leaf};
use super::source::{Body, Disclosed};

const EXAMPLES: [&str; 6] = [
    include_str!("../../docs/examples/usmca.json"),
    include_str!("../../docs/examples/usmca-blanket-various.json"),
    include_str!("../../docs/examples/usmca-confidential-producer.json"),
    include_str!("../../docs/examples/usmca-producer.json"),
    include_str!("../../docs/examples/cafta-dr.json"),
    include_str!("../../docs/examples/nafta-434.json"),
];

const ISSUANCE: Issuance<'static> = Issuance {
    issuer: "did:jwk:eyJjcnYiOiJFZDI1NTE5Iiwia3R5IjoiT0tQIiwieCI6IkFBQUEifQ",
    cert_id: "00112233445566778899aabbccddeeff",
};

fn cert_id() -> vault::CertId {
    ISSUANCE.cert_id.parse().expect("cert id")
}

fn full(body: &Value) -> (CredentialType, Vec<Leaf>) {
    let kind = super::native_type(body).expect("a native regime");
    (kind, mapping::leaves(kind, &Body(body), &ISSUANCE))
}

fn from_disclosure(kind: CredentialType, disclosure: &vault::Disclosure) -> Vec<Leaf> {
    let complete = u64::try_from(disclosure.fields.len()).ok() == Some(disclosure.tree_size);
    let source = Disclosed {
        disclosure,
        complete,
    };
    mapping::leaves(kind, &source, &ISSUANCE)
}

#[test]
fn a_complete_disclosure_recomputes_the_whole_credential() {
    for text in EXAMPLES {
        let body: Value = serde_json::from_str(text).expect("example JSON");
        let (kind, leaves) = full(&body);
        let commitment = vault::commit(&body, &vault::MasterSalt::generate()).expect("commit");
        let disclosure = commitment
            .disclose(&cert_id(), &[""])
            .expect("disclose all");
        assert_eq!(
            from_disclosure(kind, &disclosure),
            leaves,
            "{}",
            body["regime"]
        );
        assert_eq!(mapping::assemble(&leaves)["type"][1], kind.name());
    }
}

#[test]
fn any_partial_disclosure_recomputes_only_claims_equal_to_the_whole_credentials() {
    let mut seed = 0x2545_f491_4f6c_dd1d_u64;
    for text in EXAMPLES {
        let body: Value = serde_json::from_str(text).expect("example JSON");
        let (kind, leaves) = full(&body);
        let commitment = vault::commit(&body, &vault::MasterSalt::generate()).expect("commit");
        let pointers: Vec<String> = commitment.pointers().map(str::to_owned).collect();
        let mut subsets: Vec<Vec<&str>> = pointers
            .iter()
            .map(|p| vec!["/regime", p.as_str()])
            .collect();
        for _ in 0..200 {
            let subset = pointers
                .iter()
                .filter(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed.is_multiple_of(3)
                })
                .map(String::as_str)
                .collect();
            subsets.push(subset);
        }
        for subset in subsets {
            let disclosure = commitment.disclose(&cert_id(), &subset).expect("disclose");
            for leaf in from_disclosure(kind, &disclosure) {
                assert!(
                    leaves.contains(&leaf),
                    "{}: disclosing {subset:?} yields {leaf:?}, which the whole certificate does not",
                    body["regime"]
                );
                for source in &leaf.sources {
                    assert!(
                        disclosure.get(source).is_some(),
                        "{} is computed from undisclosed {source}",
                        leaf.pointer
                    );
                }
            }
        }
    }
}

#[test]
fn each_claim_is_recomputed_from_exactly_the_native_fields_it_names() {
    for text in EXAMPLES {
        let body: Value = serde_json::from_str(text).expect("example JSON");
        let (kind, leaves) = full(&body);
        let commitment = vault::commit(&body, &vault::MasterSalt::generate()).expect("commit");
        for leaf in leaves.iter().filter(|l| !l.sources.is_empty()) {
            let mut wanted: Vec<&str> = leaf.sources.iter().map(String::as_str).collect();
            wanted.push("/regime");
            let disclosure = commitment.disclose(&cert_id(), &wanted).expect("disclose");
            let recomputed = from_disclosure(kind, &disclosure);
            // Claims that depend on a field being absent cannot be backed by a selective disclosure; all others
            // must come back from their own sources alone.
            let needs_absence = leaf.sources.iter().any(|s| body.pointer(s).is_none());
            assert!(
                needs_absence || recomputed.contains(leaf) || !absence_free(&body, &leaf.pointer),
                "{}: {} not recomputed from {:?}",
                body["regime"],
                leaf.pointer,
                leaf.sources
            );
        }
    }
}

/// Claims whose value was decided by a field's absence (the fallbacks of docs/interop.md).
fn absence_free(body: &Value, pointer: &str) -> bool {
    let validity_by_signature =
        body.get("blanket_period").is_none() && pointer.starts_with("/valid");
    !validity_by_signature
}

#[test]
fn the_credential_is_valid_in_shape_for_its_schema() {
    for text in EXAMPLES {
        let body: Value = serde_json::from_str(text).expect("example JSON");
        let (kind, leaves) = full(&body);
        let vc = mapping::assemble(&leaves);
        assert_eq!(vc["@context"], serde_json::json!(mapping::CONTEXTS));
        assert_eq!(vc["issuer"]["id"], ISSUANCE.issuer);
        assert!(
            vc["validFrom"].as_str().is_some_and(|d| d.ends_with('Z')),
            "{vc}"
        );
        let subject = &vc["credentialSubject"];
        match kind {
            CredentialType::Usmca => {
                assert!(vc["validUntil"].is_string());
                for required in ["exporterDetails", "producerDetails", "goods"] {
                    assert!(subject.get(required).is_some(), "{required} in {subject}");
                }
                for employee in ["firstName", "lastName", "jobTitle", "email"] {
                    assert!(vc["issuer"]["employee"][employee].is_string(), "{employee}");
                }
            }
            CredentialType::Generic => {
                for required in ["items", "manufacturingCountry", "dateOfExport"] {
                    assert!(subject.get(required).is_some(), "{required} in {subject}");
                }
            }
        }
    }
}

#[test]
fn a_pointer_naming_no_claim_is_refused_with_the_pointer_named() {
    let body: Value = serde_json::from_str(EXAMPLES[0]).expect("example JSON");
    let err = super::sd_jwt::native_fields(
        &body,
        ISSUANCE.issuer,
        ISSUANCE.cert_id,
        &["/goods/0/hs_code".into()],
    )
    .expect_err("a native pointer is not a credential pointer");
    assert!(
        err.to_string().contains("/goods/0/hs_code names no claim"),
        "{err}"
    );
    let fields = super::sd_jwt::native_fields(
        &body,
        ISSUANCE.issuer,
        ISSUANCE.cert_id,
        &["/credentialSubject/goods/1/commodityCode".into()],
    )
    .expect("a claim");
    assert_eq!(fields, ["/goods/1/hs_code", "/regime"]);
}
