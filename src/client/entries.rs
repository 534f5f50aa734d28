//! What the client builds and reads in log entries: one place that knows the entry kinds' fields, so the
//! rest of the client speaks in parties, registrations and grants.

use ed25519_dalek::VerifyingKey;
use ledger::Hash;
use vault::{CertId, PartyPublic};

pub(crate) use super::compat::entry::{Entry, SignedEntry};

/// The current time in Unix seconds, as entries carry it.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An enrollment entry for `party`.
pub(crate) fn enrollment(party: &PartyPublic) -> Entry {
    Entry::Enrollment {
        party: party.id.clone(),
        role: party.role,
        signing_key: party.signing_key.to_bytes(),
        encryption_key: party.encryption_key.to_bytes(),
        time: now(),
    }
}

/// A registration entry.
pub(crate) fn registration(
    cert_id: CertId,
    commitment: Hash,
    ciphertext_hash: Hash,
    grants: Vec<Hash>,
) -> Entry {
    Entry::Registration {
        cert_id,
        commitment,
        ciphertext_hash,
        grants,
        time: now(),
    }
}

/// A grant entry.
pub(crate) fn grant(cert_id: CertId, grant: Hash) -> Entry {
    Entry::Grant {
        cert_id,
        grant,
        time: now(),
    }
}

/// A revocation entry.
pub(crate) fn revocation(cert_id: CertId, grant: Hash) -> Entry {
    Entry::Revocation {
        cert_id,
        grant,
        time: now(),
    }
}

/// The party an enrollment entry enrolls, or `None` for another kind or unusable keys.
pub(crate) fn enrolled_party(entry: &Entry) -> Option<PartyPublic> {
    match entry {
        Entry::Enrollment {
            party,
            role,
            signing_key,
            encryption_key,
            ..
        } => Some(PartyPublic {
            id: party.clone(),
            role: *role,
            signing_key: VerifyingKey::from_bytes(signing_key).ok()?,
            encryption_key: x25519_dalek::PublicKey::from(*encryption_key),
        }),
        _ => None,
    }
}

/// What a registration entry commits to.
#[derive(Debug, Clone)]
pub struct RegistrationFacts {
    /// The certificate id.
    pub cert_id: CertId,
    /// The document commitment (root of the salted field tree).
    pub commitment: Hash,
    /// The grant commitments of the initial recipients.
    pub grants: Vec<Hash>,
}

/// The facts of a registration entry, or `None` for another kind.
pub(crate) fn registration_facts(entry: &Entry) -> Option<RegistrationFacts> {
    match entry {
        Entry::Registration {
            cert_id,
            commitment,
            grants,
            ..
        } => Some(RegistrationFacts {
            cert_id: *cert_id,
            commitment: *commitment,
            grants: grants.clone(),
        }),
        _ => None,
    }
}

/// The kind of an entry, as printed in audit summaries.
pub(crate) fn kind(entry: &Entry) -> &'static str {
    match entry {
        Entry::Enrollment { .. } => "enrollment",
        Entry::Registration { .. } => "registration",
        Entry::Grant { .. } => "grant",
        Entry::Revocation { .. } => "revocation",
        Entry::Purge { .. } => "purge",
        Entry::AccessReceipt { .. } => "access_receipt",
    }
}

/// The certificate an entry is about, if any.
pub(crate) fn cert_of(entry: &Entry) -> Option<CertId> {
    match entry {
        Entry::Registration { cert_id, .. }
        | Entry::Grant { cert_id, .. }
        | Entry::Revocation { cert_id, .. }
        | Entry::Purge { cert_id, .. }
        | Entry::AccessReceipt { cert_id, .. } => Some(*cert_id),
        Entry::Enrollment { .. } => None,
    }
}

/// An access receipt's certificate, grant commitment and time.
pub(crate) fn access_receipt(entry: &Entry) -> Option<(CertId, Hash, u64)> {
    match entry {
        Entry::AccessReceipt {
            cert_id,
            grant,
            time,
        } => Some((*cert_id, *grant, *time)),
        _ => None,
    }
}
