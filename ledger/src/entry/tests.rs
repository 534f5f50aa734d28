//! Entry encoding tests: the documented worked example, every rejection rule, round trips, no panics.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;

fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

fn party(s: &str) -> PartyId {
    PartyId::new(s).unwrap()
}

/// The worked example of docs/formats.md ("Entry encoding"): keep both in sync.
fn example() -> SignedEntry {
    let entry = Entry::Registration {
        cert_id: CertId([0x11; 16]),
        commitment: [0x22; 32],
        registrant: party("acme"),
        grants: vec![[0x33; 32]],
        sealed: None,
        time_ms: 1_790_000_000_000,
    };
    SignedEntry::sign(entry, party("acme"), &key(0x42)).unwrap()
}

const EXAMPLE_HEX: &str = concat!(
    "0102",                             // version 1, kind 2 (registration)
    "11111111111111111111111111111111", // cert id
    "2222222222222222222222222222222222222222222222222222222222222222", // document commitment
    "0004",                             // registrant length
    "61636d65",                         // "acme"
    "0001",                             // grant count
    "3333333333333333333333333333333333333333333333333333333333333333", // grant commitment
    "000001a0c4506c00",                 // time_ms 1790000000000
    "0004",                             // signer length
    "61636d65",                         // "acme"
    "4452331243e10a77d6757e1ac7fcab24924d7b3e86d71398dfd508f670f87d04", // signature (R)
    "d6730842954635d734c005c00cd1508d9d7a2a7f42e4e7adcf0ef9e60c369202", // signature (S)
);
const EXAMPLE_LEAF_HASH: &str = "02f9ed128197e93a8d555a29cd2550628302e7f1ea491d941b31c34c7a97f282";

#[test]
fn worked_example_matches_the_docs() {
    let e = example();
    let bytes = e.encode();
    println!(
        "example entry ({} bytes): {}",
        bytes.len(),
        hex::encode(&bytes)
    );
    println!("leaf hash: {}", hex::encode(e.leaf_hash()));
    println!(
        "signer public key: {}",
        hex::encode(key(0x42).verifying_key().as_bytes())
    );
    assert_eq!(hex::encode(&bytes), EXAMPLE_HEX);
    assert_eq!(hex::encode(e.leaf_hash()), EXAMPLE_LEAF_HASH);
    assert_eq!(SignedEntry::decode(&bytes).unwrap(), e);
    e.verify(&key(0x42).verifying_key()).unwrap();
}

#[test]
fn signatures_bind_entry_and_signer() {
    let e = example();
    assert!(matches!(
        e.verify(&key(1).verifying_key()),
        Err(Error::BadEntrySignature)
    ));
    let mut bytes = e.encode();
    // Flip a bit in the commitment (after version, kind and cert id).
    bytes[2 + 16] ^= 1;
    let tampered = SignedEntry::decode(&bytes).unwrap();
    assert!(tampered.verify(&key(0x42).verifying_key()).is_err());
    // The domain prefix is part of the signed message: a bare signature over the body does not verify.
    let body = signed_body(e.entry(), e.signer()).unwrap();
    let bare = key(0x42).sign(&body).to_bytes();
    let mut forged = body;
    forged.extend_from_slice(&bare);
    let forged = SignedEntry::decode(&forged).unwrap();
    assert!(forged.verify(&key(0x42).verifying_key()).is_err());
}

/// Kind 0x08 is the original registration layout with the sealed digest between the grants and the time,
/// and the entry's signature covers the digest.
#[test]
fn a_sealed_registration_is_signed_with_its_digest() {
    let Entry::Registration {
        cert_id,
        commitment,
        registrant,
        grants,
        time_ms,
        ..
    } = example().entry().clone()
    else {
        unreachable!("the example is a registration")
    };
    let entry = Entry::Registration {
        cert_id,
        commitment,
        registrant,
        grants,
        sealed: Some([0x44; 32]),
        time_ms,
    };
    let signed = SignedEntry::sign(entry, party("acme"), &key(0x42)).unwrap();
    let bytes = signed.encode();
    let original = example().encode();
    // Version, kind 0x08, then the original fields up to the grants (2 + 16 + 32 + 6 + 2 + 32 bytes).
    let before_time = 2 + 16 + 32 + 6 + 2 + 32;
    assert_eq!(bytes[1], 0x08);
    assert_eq!(bytes[2..before_time], original[2..before_time]);
    assert_eq!(bytes[before_time..before_time + 32], [0x44; 32]);
    assert_eq!(
        bytes[before_time + 32..before_time + 40],
        original[before_time..before_time + 8]
    );
    assert_eq!(SignedEntry::decode(&bytes).unwrap(), signed);
    signed.verify(&key(0x42).verifying_key()).unwrap();
    let mut tampered = bytes;
    tampered[before_time] ^= 1;
    let tampered = SignedEntry::decode(&tampered).unwrap();
    assert!(matches!(
        tampered.verify(&key(0x42).verifying_key()),
        Err(Error::BadEntrySignature)
    ));
}

#[test]
fn decoding_rejects_what_it_must() {
    let good = example().encode();
    let mut trailing = good.clone();
    trailing.push(0);
    assert!(matches!(
        SignedEntry::decode(&trailing),
        Err(Error::MalformedEntry("trailing bytes"))
    ));
    assert!(matches!(
        SignedEntry::decode(&good[..good.len() - 1]),
        Err(Error::MalformedEntry("truncated"))
    ));
    assert!(matches!(
        SignedEntry::decode(&[]),
        Err(Error::MalformedEntry("truncated"))
    ));

    let mut version = good.clone();
    version[0] = 2;
    assert!(matches!(
        SignedEntry::decode(&version),
        Err(Error::UnknownEntryVersion(2))
    ));
    let mut kind = good.clone();
    kind[1] = 0x0a;
    assert!(matches!(
        SignedEntry::decode(&kind),
        Err(Error::UnknownEntryKind(10))
    ));
    // Kind 0x08 is the registration with a sealed digest: the original layout read as one does not decode.
    let mut short = good.clone();
    short[1] = 0x08;
    assert!(SignedEntry::decode(&short).is_err());

    // Registrant length prefix sits after version, kind, cert id and commitment.
    let at = 2 + 16 + 32;
    let mut long_party = good.clone();
    long_party[at..at + 2].copy_from_slice(&65u16.to_be_bytes());
    assert!(matches!(
        SignedEntry::decode(&long_party),
        Err(Error::EntryTooLarge(_))
    ));
    let mut bad_party = good.clone();
    bad_party[at + 2] = b'A';
    assert!(matches!(
        SignedEntry::decode(&bad_party),
        Err(Error::InvalidPartyId)
    ));
    let mut empty_party = good[..at].to_vec();
    empty_party.extend_from_slice(&[0, 0]);
    empty_party.extend_from_slice(&good[at + 2 + 4..]);
    assert!(matches!(
        SignedEntry::decode(&empty_party),
        Err(Error::InvalidPartyId)
    ));

    // Grant count follows the 4-byte registrant.
    let count_at = at + 2 + 4;
    let mut many = good.clone();
    many[count_at..count_at + 2].copy_from_slice(&65u16.to_be_bytes());
    assert!(matches!(
        SignedEntry::decode(&many),
        Err(Error::EntryTooLarge(_))
    ));

    assert!(matches!(
        SignedEntry::decode(&vec![1u8; MAX_ENTRY_SIZE + 1]),
        Err(Error::EntryTooLarge(_))
    ));

    let enrollment = Entry::Enrollment {
        party: party("cbp"),
        role: Role::Customs,
        signing_key: [1; 32],
        encryption_key: [2; 32],
        replaces: None,
        time_ms: 5,
    };
    let mut bytes = SignedEntry::sign(enrollment, party("operator"), &key(9))
        .unwrap()
        .encode();
    let role_at = 2 + 2 + 3;
    bytes[role_at] = 0;
    assert!(matches!(
        SignedEntry::decode(&bytes),
        Err(Error::UnknownRole)
    ));
    bytes[role_at] = Role::Customs.code();
    bytes[role_at + 1 + 64] = 2;
    assert!(matches!(
        SignedEntry::decode(&bytes),
        Err(Error::MalformedEntry(_))
    ));
}

/// A rotation of `party` from `old` to `new`, consented by `consenting`.
fn rotation(party_id: &str, old: &SigningKey, new: &SigningKey, consenting: &SigningKey) -> Entry {
    let party = party(party_id);
    let signing_key = new.verifying_key().to_bytes();
    let encryption_key = [7; 32];
    let replaces = old.verifying_key().to_bytes();
    let message = rotation_consent_message(
        &party,
        Role::Broker,
        &signing_key,
        &encryption_key,
        &replaces,
    );
    Entry::Rotation {
        party,
        role: Role::Broker,
        signing_key,
        encryption_key,
        replaces,
        consent: consenting.sign(&message).to_bytes(),
        time_ms: 9,
    }
}

#[test]
fn rotation_consent_verifies_only_with_the_replaced_key() {
    let (old, new) = (key(1), key(2));
    let good = rotation("swift-brokers", &old, &new, &old);
    assert!(good.verify_rotation_consent().is_ok());
    let signed = SignedEntry::sign(good.clone(), party("operator"), &key(9)).unwrap();
    let decoded = SignedEntry::decode(&signed.encode()).unwrap();
    assert!(decoded.entry().verify_rotation_consent().is_ok());
    assert_eq!(decoded.entry().kind_code(), 0x07);
    assert_eq!(decoded.entry().cert_id(), None);
    assert_eq!(decoded.entry().time_ms(), 9);

    // Signed by the new key (or anyone else) instead of the old one: refused.
    let by_new = rotation("swift-brokers", &old, &new, &new);
    assert!(matches!(
        by_new.verify_rotation_consent(),
        Err(Error::BadEntrySignature)
    ));
    // A consent moved to another party's rotation does not verify.
    let Entry::Rotation { consent, .. } = good else {
        unreachable!()
    };
    let Entry::Rotation {
        party,
        role,
        signing_key,
        encryption_key,
        replaces,
        time_ms,
        ..
    } = rotation("other-broker", &old, &new, &old)
    else {
        unreachable!()
    };
    let moved = Entry::Rotation {
        party,
        role,
        signing_key,
        encryption_key,
        replaces,
        consent,
        time_ms,
    };
    assert!(moved.verify_rotation_consent().is_err());
    // Other kinds carry no consent.
    assert!(example().entry().verify_rotation_consent().is_err());
}

#[test]
fn signing_enforces_limits() {
    let entry = |n| Entry::Registration {
        cert_id: CertId([0; 16]),
        commitment: [0; 32],
        registrant: party("acme"),
        grants: vec![[0; 32]; n],
        sealed: None,
        time_ms: 0,
    };
    assert!(SignedEntry::sign(entry(MAX_GRANTS), party("acme"), &key(1)).is_ok());
    assert!(matches!(
        SignedEntry::sign(entry(MAX_GRANTS + 1), party("acme"), &key(1)),
        Err(Error::EntryTooLarge(_))
    ));
}

fn receipts(n: usize) -> Entry {
    Entry::AccessReceipts {
        releases: (0..n)
            .map(|i| Release {
                cert_id: CertId([u8::try_from(i % 256).unwrap(); 16]),
                grant: [0x33; 32],
            })
            .collect(),
        time_ms: 7,
    }
}

#[test]
fn access_receipts_list_one_to_1024_releases() {
    // Layout (docs/formats.md, kind 0x09): version, kind, u16 count, count x (cert id, grant), time.
    let signed = SignedEntry::sign(receipts(2), party("log"), &key(1)).unwrap();
    let bytes = signed.encode();
    assert_eq!(&bytes[..4], &[0x01, 0x09, 0x00, 0x02]);
    assert_eq!(&bytes[4..20], &[0; 16]);
    assert_eq!(&bytes[20..52], &[0x33; 32]);
    assert_eq!(&bytes[52..68], &[1; 16]);
    assert_eq!(&bytes[100..108], &7u64.to_be_bytes());
    assert_eq!(bytes.len(), 108 + 2 + 3 + 64);
    assert_eq!(signed.entry().releases().len(), 2);
    assert_eq!(signed.entry().cert_id(), None);
    assert_eq!(signed.entry().time_ms(), 7);

    // The most releases still fit one entry; one more, or none, is refused when signing.
    let full = SignedEntry::sign(receipts(MAX_RELEASES), party("log"), &key(1)).unwrap();
    assert!(full.encode().len() <= MAX_ENTRY_SIZE);
    assert_eq!(
        SignedEntry::decode(&full.encode())
            .unwrap()
            .entry()
            .releases()
            .len(),
        MAX_RELEASES
    );
    for n in [0, MAX_RELEASES + 1] {
        assert!(matches!(
            SignedEntry::sign(receipts(n), party("log"), &key(1)),
            Err(Error::EntryTooLarge(_))
        ));
    }
    // A count of 0 or over the limit does not decode either.
    for count in [0u16, 1025] {
        let mut edited = bytes.clone();
        edited[2..4].copy_from_slice(&count.to_be_bytes());
        assert!(SignedEntry::decode(&edited).is_err(), "count {count}");
    }
    // An access receipt of kind 0x06 lists its one release the same way.
    let single = Entry::AccessReceipt {
        cert_id: CertId([9; 16]),
        grant: [8; 32],
        time_ms: 1,
    };
    assert_eq!(
        single.releases(),
        vec![Release {
            cert_id: CertId([9; 16]),
            grant: [8; 32]
        }]
    );
    assert!(example().entry().releases().is_empty());
}

fn arb_party() -> impl Strategy<Value = PartyId> {
    "[a-z0-9][a-z0-9._-]{0,63}".prop_map(|s| PartyId::new(&s).unwrap())
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    let cert = any::<[u8; 16]>().prop_map(CertId);
    prop_oneof![
        (
            arb_party(),
            0..Role::ALL.len(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<Option<[u8; 32]>>(),
            any::<u64>()
        )
            .prop_map(
                |(party, r, signing_key, encryption_key, replaces, time_ms)| Entry::Enrollment {
                    party,
                    role: Role::ALL[r],
                    signing_key,
                    encryption_key,
                    replaces,
                    time_ms
                }
            ),
        (
            cert.clone(),
            any::<[u8; 32]>(),
            arb_party(),
            proptest::collection::vec(any::<[u8; 32]>(), 0..=MAX_GRANTS),
            any::<Option<[u8; 32]>>(),
            any::<u64>()
        )
            .prop_map(
                |(cert_id, commitment, registrant, grants, sealed, time_ms)| {
                    Entry::Registration {
                        cert_id,
                        commitment,
                        registrant,
                        grants,
                        sealed,
                        time_ms,
                    }
                }
            ),
        (cert.clone(), any::<[u8; 32]>(), any::<u64>()).prop_map(|(cert_id, grant, time_ms)| {
            Entry::Grant {
                cert_id,
                grant,
                time_ms,
            }
        }),
        (cert.clone(), any::<[u8; 32]>(), any::<u64>()).prop_map(|(cert_id, grant, time_ms)| {
            Entry::Revocation {
                cert_id,
                grant,
                time_ms,
            }
        }),
        (cert.clone(), any::<u64>())
            .prop_map(|(cert_id, time_ms)| Entry::Purge { cert_id, time_ms }),
        (
            proptest::collection::vec((cert.clone(), any::<[u8; 32]>()), 1..=8),
            any::<u64>()
        )
            .prop_map(|(releases, time_ms)| Entry::AccessReceipts {
                releases: releases
                    .into_iter()
                    .map(|(cert_id, grant)| Release { cert_id, grant })
                    .collect(),
                time_ms,
            }),
        (cert, any::<[u8; 32]>(), any::<u64>()).prop_map(|(cert_id, grant, time_ms)| {
            Entry::AccessReceipt {
                cert_id,
                grant,
                time_ms,
            }
        }),
        (
            arb_party(),
            0..Role::ALL.len(),
            any::<([u8; 32], [u8; 32], [u8; 32])>(),
            proptest::collection::vec(any::<u8>(), 64),
            any::<u64>()
        )
            .prop_map(
                |(party, r, (signing_key, encryption_key, replaces), consent, time_ms)| {
                    Entry::Rotation {
                        party,
                        role: Role::ALL[r],
                        signing_key,
                        encryption_key,
                        replaces,
                        consent: consent.try_into().unwrap(),
                        time_ms,
                    }
                }
            ),
    ]
}

proptest! {
    #[test]
    fn encode_decode_round_trips(entry in arb_entry(), signer in arb_party(), seed in any::<u8>()) {
        let signed = SignedEntry::sign(entry, signer, &key(seed)).unwrap();
        let bytes = signed.encode();
        prop_assert!(bytes.len() <= MAX_ENTRY_SIZE);
        let decoded = SignedEntry::decode(&bytes).unwrap();
        prop_assert_eq!(&decoded, &signed);
        prop_assert_eq!(decoded.encode(), bytes.clone());
        prop_assert_eq!(decoded.leaf_hash(), leaf_hash(&bytes));
        prop_assert!(decoded.verify(&key(seed).verifying_key()).is_ok());
        // No strict prefix of an encoding decodes: the format is self-delimiting.
        let cut = bytes.len() / 2;
        prop_assert!(SignedEntry::decode(&bytes[..cut]).is_err());
    }

    #[test]
    fn decode_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = SignedEntry::decode(&bytes);
    }

    #[test]
    fn decode_never_panics_on_mutated_entries(entry in arb_entry(), edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4)) {
        let mut bytes = SignedEntry::sign(entry, party("p"), &key(3)).unwrap().encode();
        for (pos, byte) in edits {
            let i = pos % bytes.len();
            bytes[i] = byte;
        }
        if let Ok(decoded) = SignedEntry::decode(&bytes) {
            // Anything that decodes re-encodes to exactly the same bytes: one encoding per value.
            prop_assert_eq!(decoded.encode(), bytes);
        }
    }
}
