//! What the client builds and reads in log entries: the one place that knows the ledger's entry kinds and
//! converts between the ledger's and the vault's id types, so the rest of the client speaks in parties,
//! registrations and grants.

use ed25519_dalek::VerifyingKey;
use ledger::Hash;
pub(crate) use ledger::{Entry, SignedEntry};
use vault::{CertId, PartyId, PartyKeys, PartyPublic, Role};

/// The current time in milliseconds since the Unix epoch, as entries carry it.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn ledger_party(id: &PartyId) -> anyhow::Result<ledger::PartyId> {
    Ok(ledger::PartyId::new(id.as_str())?)
}

fn vault_party(id: &ledger::PartyId) -> Option<PartyId> {
    PartyId::new(id.as_str()).ok()
}

fn ledger_cert(id: &CertId) -> ledger::CertId {
    ledger::CertId(*id.as_bytes())
}

fn vault_cert(id: &ledger::CertId) -> CertId {
    *id
}

fn ledger_role(role: Role) -> anyhow::Result<ledger::Role> {
    Ok(role.as_str().parse()?)
}

fn vault_role(role: ledger::Role) -> Option<Role> {
    role.as_str().parse().ok()
}

/// Signs `entry` as the holder of `keys`.
pub(crate) fn sign(entry: Entry, keys: &PartyKeys) -> anyhow::Result<SignedEntry> {
    Ok(SignedEntry::sign(
        entry,
        ledger_party(keys.id())?,
        keys.signing_key(),
    )?)
}

/// The party id that signed an entry.
pub(crate) fn signer(signed: &SignedEntry) -> Option<PartyId> {
    vault_party(signed.signer())
}

/// An enrollment entry for `party` (a first enrollment, not a rotation).
pub(crate) fn enrollment(party: &PartyPublic) -> anyhow::Result<Entry> {
    Ok(Entry::Enrollment {
        party: ledger_party(&party.id)?,
        role: ledger_role(party.role)?,
        signing_key: party.signing_key.to_bytes(),
        encryption_key: party.encryption_key.to_bytes(),
        replaces: None,
        time_ms: now_ms(),
    })
}

/// A registration entry whose signature binds the uploaded ciphertext and envelopes through their
/// `sealed` digest ([`crate::api::sealed_digest`]).
pub(crate) fn registration(
    cert_id: &CertId,
    commitment: Hash,
    registrant: &PartyId,
    grants: Vec<Hash>,
    sealed: Hash,
) -> anyhow::Result<Entry> {
    Ok(Entry::Registration {
        cert_id: ledger_cert(cert_id),
        commitment,
        registrant: ledger_party(registrant)?,
        grants,
        sealed: Some(sealed),
        time_ms: now_ms(),
    })
}

/// A grant entry.
pub(crate) fn grant(cert_id: &CertId, grant: Hash) -> Entry {
    Entry::Grant {
        cert_id: ledger_cert(cert_id),
        grant,
        time_ms: now_ms(),
    }
}

/// A revocation entry.
pub(crate) fn revocation(cert_id: &CertId, grant: Hash) -> Entry {
    Entry::Revocation {
        cert_id: ledger_cert(cert_id),
        grant,
        time_ms: now_ms(),
    }
}

/// A purge entry.
pub(crate) fn purge(cert_id: &CertId) -> Entry {
    Entry::Purge {
        cert_id: ledger_cert(cert_id),
        time_ms: now_ms(),
    }
}

/// A rotation entry of `party` to its `new` keys, with the consent its current key gave.
pub(crate) fn rotation(
    new: &PartyPublic,
    replaces: [u8; 32],
    consent: [u8; 64],
) -> anyhow::Result<Entry> {
    Ok(Entry::Rotation {
        party: ledger_party(&new.id)?,
        role: ledger_role(new.role)?,
        signing_key: new.signing_key.to_bytes(),
        encryption_key: new.encryption_key.to_bytes(),
        replaces,
        consent,
        time_ms: now_ms(),
    })
}

/// What a party's current key signs to consent to rotating to `new` (ledger `rotation_consent_message`).
pub(crate) fn rotation_consent(new: &PartyPublic, replaces: &[u8; 32]) -> anyhow::Result<Vec<u8>> {
    Ok(ledger::rotation_consent_message(
        &ledger_party(&new.id)?,
        ledger_role(new.role)?,
        &new.signing_key.to_bytes(),
        &new.encryption_key.to_bytes(),
        replaces,
    ))
}

/// The party a rotation entry gives new keys (its identity as of that entry), with the replaced signing key;
/// `None` for another kind or unusable keys. The consent is not checked here.
pub(crate) fn rotated_party(entry: &Entry) -> Option<(PartyPublic, [u8; 32])> {
    match entry {
        Entry::Rotation {
            party,
            role,
            signing_key,
            encryption_key,
            replaces,
            ..
        } => Some((
            PartyPublic {
                id: vault_party(party)?,
                role: vault_role(*role)?,
                signing_key: VerifyingKey::from_bytes(signing_key).ok()?,
                encryption_key: x25519_dalek::PublicKey::from(*encryption_key),
            },
            *replaces,
        )),
        _ => None,
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
            id: vault_party(party)?,
            role: vault_role(*role)?,
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
    /// The registering party, as the entry names it.
    pub registrant: PartyId,
    /// The grant commitments of the initial recipients.
    pub grants: Vec<Hash>,
    /// When it was registered, as the entry records it (milliseconds since the Unix epoch).
    pub time_ms: u64,
}

/// The facts of a registration entry, or `None` for another kind.
pub(crate) fn registration_facts(entry: &Entry) -> Option<RegistrationFacts> {
    match entry {
        Entry::Registration {
            cert_id,
            commitment,
            registrant,
            grants,
            time_ms,
            ..
        } => Some(RegistrationFacts {
            cert_id: vault_cert(cert_id),
            commitment: *commitment,
            registrant: vault_party(registrant)?,
            grants: grants.clone(),
            time_ms: *time_ms,
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
        Entry::AccessReceipt { .. } | Entry::AccessReceipts { .. } => "access_receipt",
        Entry::Rotation { .. } => "rotation",
        _ => "unknown",
    }
}

/// The certificate an entry is about, if any.
pub(crate) fn cert_of(entry: &Entry) -> Option<CertId> {
    entry.cert_id().map(|id| vault_cert(&id))
}

/// Whether the entry is an access receipt, of one release (kind 0x06) or of a group (kind 0x09).
pub(crate) fn is_access_receipt(entry: &Entry) -> bool {
    matches!(
        entry,
        Entry::AccessReceipt { .. } | Entry::AccessReceipts { .. }
    )
}

/// The releases an access receipt records: certificate, grant commitment and the entry's time (ms); empty
/// for other kinds.
pub(crate) fn releases(entry: &Entry) -> Vec<(CertId, Hash, u64)> {
    entry
        .releases()
        .iter()
        .map(|r| (vault_cert(&r.cert_id), r.grant, entry.time_ms()))
        .collect()
}
