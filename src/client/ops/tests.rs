//! The offline half of the client, without a server: a log built in memory, a disclosure bundle over it,
//! verified with only the log key; every tampering is rejected.
#![allow(clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use ledger::{Checkpoint, MemoryTree, NoteSigner, SignedEntry, leaf_hash, sign_checkpoint};
use serde_json::json;
use vault::{CertId, PartyId, PartyKeys, Role};

use super::bundle::{BUNDLE_FORMAT, Bundle, BundledEntry};
use super::verify_bundle;
use crate::api::B64;
use crate::client::entries;

const ORIGIN: &str = "demo.example/log";

struct Fixture {
    vkey: String,
    bundle: Bundle,
}

fn fixture() -> Fixture {
    let body =
        json!({"regime": "USMCA", "exporter": {"name": "Bajío"}, "goods": [{"hs": "8708.99"}]});
    fixture_for(&body, &["/exporter/name"])
}

/// A three-entry log registering `body`, and a bundle disclosing `pointers` of it.
fn fixture_for(body: &serde_json::Value, pointers: &[&str]) -> Fixture {
    let log_key = SigningKey::generate(&mut rand::rng());
    let signer = NoteSigner::from_key(ORIGIN, log_key.clone()).unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let importer = PartyKeys::generate(PartyId::new("acme").unwrap(), Role::Importer);

    let entry0 = SignedEntry::sign(
        entries::enrollment(&operator.public()).unwrap(),
        ledger::PartyId::new(crate::api::LOG_PARTY).unwrap(),
        &log_key,
    )
    .unwrap();
    let enrollment =
        entries::sign(entries::enrollment(&importer.public()).unwrap(), &operator).unwrap();
    let cert_id = CertId::random();
    let sealed = vault::seal_certificate(&cert_id, body, &importer.public(), &[]).unwrap();
    let grants = sealed
        .envelopes
        .iter()
        .map(|e| e.grant_commitment)
        .collect();
    let registration = entries::sign(
        entries::registration(
            &cert_id,
            sealed.commitment,
            importer.id(),
            grants,
            // No upload here: the bundle's checks do not look at the digest.
            crate::api::sealed_digest(&sealed.ciphertext, &[]),
        )
        .unwrap(),
        &importer,
    )
    .unwrap();

    let encoded: Vec<Vec<u8>> = [entry0, enrollment, registration]
        .iter()
        .map(SignedEntry::encode)
        .collect();
    let mut tree = MemoryTree::new();
    for bytes in &encoded {
        tree.push(leaf_hash(bytes));
    }
    let size = tree.size();
    let checkpoint = Checkpoint {
        origin: ORIGIN.to_owned(),
        size,
        root_hash: tree.root(),
        extensions: Vec::new(),
    };
    let bundled = |index: u64| BundledEntry {
        index,
        entry: B64(encoded[usize::try_from(index).unwrap()].clone()),
        proof: tree
            .inclusion_proof(index, size)
            .unwrap()
            .into_iter()
            .map(|h| B64(h.to_vec()))
            .collect(),
    };
    let disclosure = vault::commit(body, &sealed.master_salt)
        .unwrap()
        .disclose(&cert_id, pointers)
        .unwrap();
    Fixture {
        vkey: signer.verifier().to_vkey(),
        bundle: Bundle {
            format: BUNDLE_FORMAT.to_owned(),
            checkpoint: sign_checkpoint(&checkpoint, &signer).unwrap(),
            operator: bundled(0),
            registrant: bundled(1),
            registration: bundled(2),
            disclosure,
        },
    }
}

#[test]
fn a_bundle_verifies_offline_with_only_the_log_key() {
    let f = fixture();
    let verified = verify_bundle(&f.bundle, &f.vkey).unwrap();
    assert_eq!(verified.registrant, "acme");
    assert_eq!(verified.registration_index, 2);
    assert_eq!(
        verified.fields,
        [("/exporter/name".to_owned(), json!("Bajío"))]
    );
    // Through JSON, as the CLI writes and reads it.
    let again: Bundle = serde_json::from_str(&serde_json::to_string(&f.bundle).unwrap()).unwrap();
    verify_bundle(&again, &f.vkey).unwrap();
}

#[test]
fn every_tampering_is_rejected() {
    let f = fixture();
    let other_key = NoteSigner::generate(ORIGIN).unwrap().verifier().to_vkey();
    assert!(
        verify_bundle(&f.bundle, &other_key).is_err(),
        "another log key"
    );

    let mut b = f.bundle.clone();
    b.disclosure.fields[0].value = json!("Someone else");
    assert!(
        verify_bundle(&b, &f.vkey).is_err(),
        "changed disclosed value"
    );

    let mut b = f.bundle.clone();
    b.registration.proof[0].0[0] ^= 1;
    assert!(
        verify_bundle(&b, &f.vkey).is_err(),
        "tampered inclusion proof"
    );

    let mut b = f.bundle.clone();
    b.registration.entry.0[5] ^= 1;
    assert!(
        verify_bundle(&b, &f.vkey).is_err(),
        "tampered registration entry"
    );

    let mut b = f.bundle.clone();
    b.checkpoint = b.checkpoint.replacen('3', "4", 1);
    assert!(verify_bundle(&b, &f.vkey).is_err(), "altered checkpoint");

    let mut b = f.bundle.clone();
    std::mem::swap(&mut b.operator, &mut b.registrant);
    assert!(
        verify_bundle(&b, &f.vkey).is_err(),
        "registrant's enrollment passed off as entry 0"
    );
}

/// The disclosure's `tree_size` is not committed (a Merkle root does not commit to its leaf count): another
/// size either fails, with a reason naming the field, its leaf index and the size, or, where every path keeps
/// its shape, proves exactly the same fields. docs/formats.md "Disclosure JSON" states the range for leaf 0.
#[test]
fn a_changed_disclosure_tree_size_fails_by_name_or_proves_the_same_fields() {
    let body =
        serde_json::Value::Object((0..176).map(|i| (format!("f{i:03}"), json!(i))).collect());
    for pointers in [&["/f000"][..], &["/f000", "/f100"], &["/f175"]] {
        let f = fixture_for(&body, pointers);
        assert_eq!(f.bundle.disclosure.tree_size, 176);
        let honest = verify_bundle(&f.bundle, &f.vkey).unwrap();
        let mut verifying = Vec::new();
        for size in (0..=300).chain([1000, u64::MAX]) {
            let mut b = f.bundle.clone();
            b.disclosure.tree_size = size;
            match verify_bundle(&b, &f.vkey) {
                Ok(v) => {
                    assert_eq!(v.fields, honest.fields, "tree_size {size}");
                    verifying.push(size);
                }
                Err(e) => {
                    let message = format!("{e:#}");
                    let names_a_field = pointers
                        .iter()
                        .any(|p| message.contains(&format!("field {p:?}: ")));
                    assert!(
                        names_a_field && message.contains(&format!("tree_size {size} ")),
                        "{pointers:?}, tree_size {size}: {message}"
                    );
                }
            }
        }
        assert!(verifying.contains(&176), "{pointers:?}");
        if pointers == ["/f000"] {
            // 8 proof hashes, all right siblings: exactly the sizes whose tree is 8 levels deep.
            assert_eq!(verifying, (129..=256).collect::<Vec<u64>>());
        } else {
            assert!(
                verifying.iter().all(|s| (129..=256).contains(s)),
                "{verifying:?}"
            );
        }
    }
}
