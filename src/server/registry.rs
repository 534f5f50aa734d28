//! The service's index of the log: enrolled parties and registered certificates.
//!
//! Everything here is derived from log entries, so it is rebuilt by replaying the log at start and kept up to
//! date as entries are appended. Which party holds which grant lives in the vault beside each envelope.

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

    /// Takes an entry that is now durable in the log at `index` into account.
    pub fn apply(&mut self, index: u64, entry: &SignedEntry) {
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
                self.parties.insert(
                    party.clone(),
                    Party {
                        role: *role,
                        signing_key,
                        enrollment_index: index,
                        previous_enrollments: Vec::new(),
                        retired_keys: Vec::new(),
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
            Entry::AccessReceipt { cert_id, .. } => {
                if let Some(cert) = self.certificates.get_mut(cert_id) {
                    cert.accesses += 1;
                    cert.receipts.push(index);
                }
            }
            _ => {}
        }
    }
}
