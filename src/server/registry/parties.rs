//! The enrolled parties, folded from enrollment and rotation entries in index order. Their number grows with
//! enrollments, never with certificates, so the registry keeps them in memory and rebuilds them at start from
//! the store's party facts.

use std::collections::HashMap;

use ledger::{Entry, PartyId, SignedEntry};

use super::Party;

/// Takes the enrollment or rotation at `index` into account (any other entry: nothing).
pub(super) fn apply(parties: &mut HashMap<PartyId, Party>, index: u64, entry: &SignedEntry) {
    match entry.entry() {
        Entry::Enrollment {
            party,
            role,
            signing_key,
            ..
        } => {
            let Ok(signing_key) = ed25519_dalek::VerifyingKey::from_bytes(signing_key) else {
                return; // the service never appends an enrollment with an invalid key
            };
            if let Some(known) = parties.get_mut(party) {
                // Only a rotation replaces a party's keys; a second enrollment is a conflict, kept in
                // view so that clients refuse the party rather than pick one of its keys.
                tracing::warn!(%party, index, "a second enrollment of an enrolled party; ignoring it");
                known.conflicting_enrollments.push(index);
                return;
            }
            parties.insert(
                party.clone(),
                Party {
                    role: *role,
                    signing_key,
                    enrollment_index: index,
                    previous_enrollments: Vec::new(),
                    retired_keys: Vec::new(),
                    conflicting_enrollments: Vec::new(),
                },
            );
        }
        Entry::Rotation {
            party,
            signing_key,
            replaces,
            ..
        } => {
            let Ok(signing_key) = ed25519_dalek::VerifyingKey::from_bytes(signing_key) else {
                return; // the service never appends a rotation with an invalid key
            };
            if let Some(known) = parties.get_mut(party) {
                known.previous_enrollments.push(known.enrollment_index);
                known.retired_keys.push(*replaces);
                known.signing_key = signing_key;
                known.enrollment_index = index;
            }
        }
        _ => {}
    }
}
