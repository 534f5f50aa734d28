//! The audit's replay of access receipts: a group's receipt (kind 0x09) passes only when the log key signed
//! it and every release it lists is of a registered certificate.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use ed25519_dalek::SigningKey;
use ledger::{CertId, Entry, PartyId, Release, SignedEntry};

use super::Replay;

fn replay(log: &SigningKey, registered: &[CertId]) -> Replay {
    Replay {
        log_key: log.verifying_key(),
        operator: None,
        parties: HashMap::new(),
        registrants: registered
            .iter()
            .map(|id| (*id, PartyId::new("acme").unwrap()))
            .collect(),
        retired: HashMap::new(),
    }
}

fn group(key: &SigningKey, certs: &[CertId]) -> SignedEntry {
    let releases = certs
        .iter()
        .map(|cert_id| Release {
            cert_id: *cert_id,
            grant: [7; 32],
        })
        .collect();
    SignedEntry::sign(
        Entry::AccessReceipts {
            releases,
            time_ms: 1,
        },
        PartyId::new("log").unwrap(),
        key,
    )
    .unwrap()
}

#[test]
fn a_group_receipt_is_checked_release_by_release() {
    let log = SigningKey::from_bytes(&[1; 32]);
    let (a, b) = (CertId([0xa; 16]), CertId([0xb; 16]));
    let mut replay = replay(&log, &[a]);
    assert_eq!(replay.check(5, &group(&log, &[a, a])), Ok(()));
    let refused = replay.check(5, &group(&log, &[a, b])).unwrap_err();
    assert!(
        refused.contains("unregistered certificate") && refused.contains(&b.to_string()),
        "{refused}"
    );
    let forged = SigningKey::from_bytes(&[2; 32]);
    assert_eq!(
        replay.check(5, &group(&forged, &[a])),
        Err("access receipt not signed by the log key".to_owned())
    );
}
