//! The one error type of the vault store.

use ledger::CertId;

/// What went wrong in a [`VaultStore`](super::VaultStore) call.
///
/// Messages name the certificate id (public: it is on the log) and never any stored bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A certificate with this id is already stored; ids are never reused.
    #[error("certificate {0} already exists")]
    AlreadyExists(CertId),
    /// No certificate with this id is stored (or its put has not returned yet).
    #[error("certificate {0} not found")]
    NotFound(CertId),
    /// The certificate was purged: it can never be granted, read or stored again.
    #[error("certificate {0} was purged")]
    Purged(CertId),
    /// A recipient party id is empty or longer than the store accepts.
    #[error("invalid recipient party id (must be 1..={max} bytes)", max = super::MAX_PARTY_LEN)]
    InvalidParty,
    /// The same recipient appears twice among one certificate's envelopes.
    #[error("duplicate recipient in the envelopes of certificate {0}")]
    DuplicateRecipient(CertId),
    /// The same certificate id appears twice in one batch.
    #[error("certificate {0} appears twice in one batch")]
    DuplicateInBatch(CertId),
    /// A ciphertext or envelope is larger than a record can describe.
    #[error("value too large for the store")]
    TooLarge,
    /// Stored bytes failed their integrity check (length, id or checksum); they are not served.
    #[error("stored data is corrupt: {0}")]
    Corrupt(&'static str),
    /// An earlier sync failed, so what is on disk is unknown; the store refuses writes until reopened.
    #[error("an earlier sync failed; reopen the store")]
    Poisoned,
    /// An operating-system I/O error (open, write, read or sync).
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
    /// An error from PostgreSQL or its connection pool (message and SQLSTATE only, never row contents).
    #[error("database error: {0}")]
    Database(String),
    /// The object store that holds ciphertexts outside the database (a private bucket prefix) failed, is
    /// unreachable, or is needed but not configured. Names the operation and the object, never its bytes.
    #[error("object store error: {0}")]
    Objects(String),
    /// An error from the sled index.
    #[error("index error: {0}")]
    Index(#[from] sled::Error),
}
