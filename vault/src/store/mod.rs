//! The keyless encrypted store: certificate ciphertexts and per-recipient envelopes behind one contract.

mod blobs;
mod error;
mod fs;
mod group;
mod index;
mod memory;
mod pg;
mod record;
mod recovery;
mod segments;
mod writes;

pub use blobs::{BlobStore, MemoryBlobStore};
pub use error::StoreError;
pub use fs::FsVaultStore;
use ledger::CertId;
pub use memory::MemoryVaultStore;
pub use pg::PgVaultStore;

/// Longest recipient party id the store accepts, in bytes.
pub const MAX_PARTY_LEN: usize = 255;

/// Largest envelope the store accepts, in bytes (an HPKE envelope is about 110).
pub const MAX_ENVELOPE_LEN: usize = 64 * 1024;

/// One certificate for [`VaultStore::put_certificates`]: its sealed body and its initial envelopes.
#[derive(Clone, Copy)]
pub struct NewCertificate<'a> {
    /// The certificate id (the same id as on the log).
    pub cert_id: CertId,
    /// The sealed body (AES-256-GCM ciphertext), opaque to the store.
    pub ciphertext: &'a [u8],
    /// `(recipient party id, envelope)` pairs, one per recipient; opaque to the store.
    pub envelopes: &'a [(&'a str, &'a [u8])],
}

/// Where the vault keeps ciphertexts and envelopes. It stores opaque bytes and holds no keys.
///
/// # Contract
///
/// - **Durable when a call returns `Ok`.** Every mutation (`put_*`, `add_envelope`, `remove_envelope`,
///   `purge`) returns only after its effect is on stable storage (a real `fdatasync`, not sled's
///   `sync_file_range`), so it survives a crash or power loss. Concurrent mutations share one sync
///   (group commit).
/// - **Atomic.** A mutation takes effect entirely or not at all, also across a crash: a certificate is
///   never visible without its ciphertext and all of its initial envelopes, and a batch
///   (`put_certificates`) is all or nothing. A refused mutation (already exists, not found, purged,
///   invalid input) has no effect. A mutation failed by an I/O error has an unknown outcome, as if
///   the process had crashed: after reopening it is either wholly there or wholly absent, and the
///   store may refuse every later mutation with [`StoreError::Poisoned`] until it is reopened.
/// - **Visibility.** Once a call returns `Ok`, every later read sees its effect. A read concurrent
///   with a mutation may see it a moment before the call returns (while its commit finishes; the
///   certificates of one `put_certificates` then appear one by one, each whole), and never sees a
///   ciphertext before it is durable.
/// - **Ids are never reused.** `put` refuses an id that exists ([`StoreError::AlreadyExists`]) or was
///   purged ([`StoreError::Purged`]).
/// - **Purge is crypto-shredding.** After `purge` returns, the ciphertext and every envelope are gone
///   from the API (reads return `None`) and the ciphertext bytes are overwritten on disk, so they
///   cannot be recovered from the data directory. Grants and revocations on a purged id are refused.
///   ([`PgVaultStore`] deletes the rows; PostgreSQL keeps the bytes until `VACUUM` and WAL recycling,
///   see its documentation and docs/threat-model.md.)
/// - **Integrity.** Stored bytes that fail their checksum are reported as [`StoreError::Corrupt`],
///   never served.
/// - **Concurrency.** Every method takes `&self`; implementations are `Send + Sync` and may be called
///   from many threads at once. Calls block (disk I/O): async callers use `spawn_blocking`.
pub trait VaultStore: Send + Sync {
    /// Stores one certificate with its initial envelopes, atomically and durably.
    fn put_certificate(
        &self,
        cert_id: CertId,
        ciphertext: &[u8],
        envelopes: &[(&str, &[u8])],
    ) -> Result<(), StoreError> {
        self.put_certificates(&[NewCertificate {
            cert_id,
            ciphertext,
            envelopes,
        }])
    }

    /// Stores many certificates with one sync: all of them or (on any error) none.
    fn put_certificates(&self, certs: &[NewCertificate<'_>]) -> Result<(), StoreError>;

    /// Grants: stores `party`'s envelope for an existing certificate. Refused if the certificate does
    /// not exist or was purged, or if `party` already has an envelope (revoke first).
    fn add_envelope(&self, cert_id: CertId, party: &str, envelope: &[u8])
    -> Result<(), StoreError>;

    /// Revokes: removes `party`'s envelope. Returns whether there was one.
    fn remove_envelope(&self, cert_id: CertId, party: &str) -> Result<bool, StoreError>;

    /// Purges a certificate: its ciphertext is overwritten on disk and every envelope removed.
    fn purge(&self, cert_id: CertId) -> Result<(), StoreError>;

    /// The stored ciphertext, or `None` if the certificate does not exist or was purged.
    fn get_ciphertext(&self, cert_id: CertId) -> Result<Option<Vec<u8>>, StoreError>;

    /// `party`'s envelope, or `None` if it has none (or the certificate does not exist or was purged).
    fn get_envelope(&self, cert_id: CertId, party: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// The parties holding an envelope, in byte order; empty if the certificate does not exist.
    fn list_recipients(&self, cert_id: CertId) -> Result<Vec<String>, StoreError>;

    /// Enumerates the store (to copy it, e.g. `tradeledger migrate`): up to `limit` ids, live and purged,
    /// greater than `after` (from the first with `None`), in ascending byte order. A caller pages with the
    /// last id it got; an id stored meanwhile below that point is not seen.
    fn list_ids(&self, after: Option<CertId>, limit: usize) -> Result<Vec<StoredId>, StoreError>;

    /// Records `cert_id` as purged without ever holding a body (copies a tombstone, so that the id stays
    /// refused). Refused like a put if the id exists or was purged. The default puts an empty body and
    /// purges it: two steps, so a crash between them leaves a live empty certificate (a copier re-running
    /// purges it); stores that can do it in one step override it.
    fn put_purged(&self, cert_id: CertId) -> Result<(), StoreError> {
        self.put_certificate(cert_id, &[], &[])?;
        self.purge(cert_id)
    }
}

/// One id a store holds, as [`VaultStore::list_ids`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredId {
    /// The certificate id.
    pub cert_id: CertId,
    /// A purged tombstone (no body, no envelopes), not a live certificate.
    pub purged: bool,
}

/// Checks the shape of a batch before anything is written: party ids, sizes, duplicates.
pub(crate) fn validate_batch(certs: &[NewCertificate<'_>]) -> Result<(), StoreError> {
    let mut ids = std::collections::HashSet::with_capacity(certs.len());
    for cert in certs {
        if !ids.insert(cert.cert_id) {
            return Err(StoreError::DuplicateInBatch(cert.cert_id));
        }
        if u32::try_from(cert.ciphertext.len()).is_err() {
            return Err(StoreError::TooLarge);
        }
        let mut parties = std::collections::HashSet::with_capacity(cert.envelopes.len());
        for (party, envelope) in cert.envelopes {
            validate_envelope(party, envelope)?;
            if !parties.insert(*party) {
                return Err(StoreError::DuplicateRecipient(cert.cert_id));
            }
        }
    }
    Ok(())
}

/// Checks one recipient party id and its envelope.
pub(crate) fn validate_envelope(party: &str, envelope: &[u8]) -> Result<(), StoreError> {
    validate_party(party)?;
    if envelope.len() > MAX_ENVELOPE_LEN {
        return Err(StoreError::TooLarge);
    }
    Ok(())
}

/// Checks one recipient party id.
pub(crate) fn validate_party(party: &str) -> Result<(), StoreError> {
    if party.is_empty() || party.len() > MAX_PARTY_LEN {
        return Err(StoreError::InvalidParty);
    }
    Ok(())
}
