//! The service's index of the log: enrolled parties and registered certificates.
//!
//! Everything here is derived from log entries, so it is rebuilt by replaying the log at start and kept up to
//! date as entries are appended, by this frontend or (over PostgreSQL) by another one: entries are applied
//! strictly in index order, each exactly once, and the registry remembers how far it got ([`Registry::applied`];
//! `super::follow` catches it up). Which party holds which grant lives in the vault beside each envelope.

use std::collections::HashMap;

use ledger::{CertId, Entry, PartyId, Role, SignedEntry};

/// What the service knows of an enrolled party.
#[derive(Debug, Clone)]
pub struct Party {
    /// The party's role.
    pub role: Role,
    /// Its Ed25519 request- and entry-signing key.
    pub signing_key: ed25519_dalek::VerifyingKey,
    /// Index of its current enrollment entry (a first enrollment or its latest rotation).
    pub enrollment_index: u64,
    /// Indexes of its earlier enrollment entries, oldest first: the chain a client checks after a rotation.
    pub previous_enrollments: Vec<u64>,
    /// Signing keys it rotated away from: never accepted again, so a rotation consent cannot be replayed.
    pub retired_keys: Vec<[u8; 32]>,
    /// Indexes of further first enrollments of the same id found on the log (left by a server that let two
    /// enrollments race). Never applied: the first enrollment's keys stay; clients refuse such a party.
    pub conflicting_enrollments: Vec<u64>,
}

/// What the service knows of a registered certificate.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// The registering party, the only one that may grant, revoke and purge.
    pub registrant: PartyId,
    /// Index of the registration entry.
    pub registration_index: u64,
    /// Whether the body was purged.
    pub purged: bool,
    /// Access receipts logged so far.
    pub accesses: u64,
    /// Indexes of its access receipts, in log order.
    pub receipts: Vec<u64>,
    /// When it was registered (the registration entry's time), in milliseconds since the Unix epoch.
    pub registered_ms: u64,
}

/// Parties and certificates, by id.
#[derive(Debug, Default)]
pub struct Registry {
    parties: HashMap<PartyId, Party>,
    certificates: HashMap<CertId, Certificate>,
    /// Entries `[0, applied)` of the log are applied, and no other.
    applied: u64,
}

impl Registry {
    /// A party by id.
    pub fn party(&self, id: &PartyId) -> Option<&Party> {
        self.parties.get(id)
    }

    /// A certificate by id.
    pub fn certificate(&self, id: &CertId) -> Option<&Certificate> {
        self.certificates.get(id)
    }

    /// Every certificate whose body is still held and that was registered before `cutoff_ms`.
    pub fn expired(&self, cutoff_ms: u64) -> Vec<CertId> {
        self.certificates
            .iter()
            .filter(|(_, c)| !c.purged && c.registered_ms < cutoff_ms)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Number of enrolled parties.
    pub fn party_count(&self) -> usize {
        self.parties.len()
    }

    /// How many leading entries of the log are applied: the index of the next one to apply.
    pub fn applied(&self) -> u64 {
        self.applied
    }

    /// Applies the entry at `index` if it is the next one; an index already applied is skipped (another thread
    /// applied it first). Returns whether the registry now covers `index`; `false` means entries before it are
    /// missing and must be applied first.
    pub fn apply_next(&mut self, index: u64, entry: &SignedEntry) -> bool {
        if index < self.applied {
            return true;
        }
        if index > self.applied {
            return false;
        }
        self.apply(index, entry);
        self.applied = index.saturating_add(1);
        true
    }

    /// Takes an entry that is now durable in the log at `index` into account (call through
    /// [`Registry::apply_next`], which keeps the order).
    fn apply(&mut self, index: u64, entry: &SignedEntry) {
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
                if let Some(known) = self.parties.get_mut(party) {
                    // Only a rotation replaces a party's keys; a second enrollment is a conflict, kept in
                    // view so that clients refuse the party rather than pick one of its keys.
                    tracing::warn!(%party, index, "a second enrollment of an enrolled party; ignoring it");
                    known.conflicting_enrollments.push(index);
                    return;
                }
                self.parties.insert(
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
                if let Some(known) = self.parties.get_mut(party) {
                    known.previous_enrollments.push(known.enrollment_index);
                    known.retired_keys.push(*replaces);
                    known.signing_key = signing_key;
                    known.enrollment_index = index;
                }
            }
            Entry::Registration {
                cert_id, time_ms, ..
            } => {
                self.certificates.insert(
                    *cert_id,
                    Certificate {
                        registrant: entry.signer().clone(),
                        registration_index: index,
                        purged: false,
                        accesses: 0,
                        receipts: Vec::new(),
                        registered_ms: *time_ms,
                    },
                );
            }
            Entry::Purge { cert_id, .. } => {
                if let Some(cert) = self.certificates.get_mut(cert_id) {
                    cert.purged = true;
                }
            }
            Entry::AccessReceipt { .. } | Entry::AccessReceipts { .. } => {
                // Kind 0x09 lists several releases, possibly two of one certificate: each counts as an access,
                // the entry's index is listed once.
                for release in entry.entry().releases() {
                    if let Some(cert) = self.certificates.get_mut(&release.cert_id) {
                        cert.accesses += 1;
                        // Opens apply their receipts once durable, not necessarily in log order.
                        let at = cert.receipts.partition_point(|&i| i < index);
                        if cert.receipts.get(at) != Some(&index) {
                            cert.receipts.insert(at, index);
                        }
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn enrollment(party: &str, seed: u8) -> SignedEntry {
        let key = ed25519_dalek::SigningKey::from_bytes(&[seed; 32]);
        let entry = Entry::Enrollment {
            party: PartyId::new(party).unwrap(),
            role: Role::Importer,
            signing_key: key.verifying_key().to_bytes(),
            encryption_key: [seed; 32],
            replaces: None,
            time_ms: 1,
        };
        SignedEntry::sign(entry, PartyId::new("operator").unwrap(), &key).unwrap()
    }

    #[test]
    fn a_second_enrollment_does_not_replace_the_first() {
        let mut registry = Registry::default();
        registry.apply(1, &enrollment("acme", 1));
        registry.apply(2, &enrollment("acme", 2));
        let acme = registry.party(&PartyId::new("acme").unwrap()).unwrap();
        let first = ed25519_dalek::SigningKey::from_bytes(&[1; 32]).verifying_key();
        assert_eq!(acme.signing_key, first);
        assert_eq!(acme.enrollment_index, 1);
        assert_eq!(acme.conflicting_enrollments, vec![2]);
    }

    #[test]
    fn entries_apply_in_index_order_and_once() {
        let mut registry = Registry::default();
        // Index 1 before index 0 is refused (not applied), index 0 then 1 applies both, a repeat is a no-op.
        assert!(!registry.apply_next(1, &enrollment("acme", 1)));
        assert!(registry.party(&PartyId::new("acme").unwrap()).is_none());
        assert!(registry.apply_next(0, &enrollment("cbp", 2)));
        assert!(registry.apply_next(1, &enrollment("acme", 1)));
        assert!(registry.apply_next(1, &enrollment("acme", 3)));
        assert_eq!(registry.applied(), 2);
        let acme = registry.party(&PartyId::new("acme").unwrap()).unwrap();
        assert!(acme.conflicting_enrollments.is_empty(), "applied once");
    }
}
