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
    /// Index of its current enrollment entry.
    pub enrollment_index: u64,
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
                    },
                );
            }
            Entry::Registration { cert_id, .. } => {
                self.certificates.insert(
                    *cert_id,
                    Certificate {
                        registrant: entry.signer().clone(),
                        registration_index: index,
                        purged: false,
                        accesses: 0,
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
                }
            }
            _ => {}
        }
    }
}
