//! The registry's storage contract: facts derived from log entries, each keyed by the index of the entry it
//! comes from, and a watermark saying how far the log is applied.

use ledger::{CertId, PartyId};

/// One fact a log entry contributes to the registry. Keyed by the entry's index, so applying it twice, or
/// after a later fact of the same certificate, changes nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fact {
    /// An enrollment or a rotation: the encoded entry, folded into the parties in index order at start.
    Party {
        /// Its log index.
        index: u64,
        /// The encoded `SignedEntry`.
        entry: Vec<u8>,
    },
    /// A registration. Of two registrations of one id (the service refuses the second, but a log may hold
    /// it), the earlier one holds.
    Registered {
        /// The certificate.
        cert_id: CertId,
        /// The party that signed the registration.
        registrant: PartyId,
        /// Its log index.
        index: u64,
        /// The entry's time, in milliseconds since the Unix epoch.
        time_ms: u64,
    },
    /// A purge of a registered certificate (of an unknown one: nothing). The earliest purge holds.
    Purged {
        /// The certificate.
        cert_id: CertId,
        /// Its log index.
        index: u64,
    },
    /// An access receipt.
    Receipt {
        /// The certificate opened.
        cert_id: CertId,
        /// Its log index.
        index: u64,
    },
}

/// A certificate as the store holds it; the caller hides what is at or past its own view of the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredCertificate {
    /// The registering party.
    pub(crate) registrant: PartyId,
    /// Index of the registration entry.
    pub(crate) registration_index: u64,
    /// The registration entry's time, in milliseconds since the Unix epoch.
    pub(crate) registered_ms: u64,
    /// Index of the purge entry, if any.
    pub(crate) purged_index: Option<u64>,
}

/// A registry store failed: unreachable, or holding what this build cannot read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryError {
    /// The store could not be read or written (a database outage, an I/O error).
    #[error("the registry store failed: {0}")]
    Unavailable(String),
    /// The store holds a value this build cannot decode.
    #[error("the registry store is damaged: {0}")]
    Damaged(String),
}

/// Where the registry lives: `DATA/registry/registry.redb` (redb) or PostgreSQL.
///
/// Contract (`tests.rs` runs it on both):
/// - [`RegistryStore::apply`] never leaves the watermark without its facts: after a crash, a call's watermark
///   is there only with every fact of the call (both stores commit a call's facts and watermark in one
///   transaction; a store restored from a backup taken mid-way may still hold facts above its watermark).
///   Nothing is durable when it returns (the registry is derived from the log: after a crash the watermark
///   says where to resume and the log replays the rest), but a later call is never found applied without an
///   earlier one, and applying a torn call again completes it.
/// - Facts are idempotent and the watermark only grows: any caller (any frontend) may apply a range again,
///   concurrently with others, and the store holds the same facts as after one application. A call whose
///   `through` is not above the watermark changes nothing (its facts are there already).
/// - Every fact the store holds comes from an entry below the watermark at the time it was written, so
///   whoever reads the watermark first and facts after sees every fact below it.
/// - Every method may be called from any thread; all of them block.
pub(crate) trait RegistryStore: Send + Sync {
    /// Every entry of the log below this index is applied.
    fn watermark(&self) -> Result<u64, RegistryError>;

    /// Stores `facts` (from entries below `through`, in index order), then raises the watermark to `through`
    /// if it is lower.
    fn apply(&self, facts: &[Fact], through: u64) -> Result<(), RegistryError>;

    /// Every enrollment and rotation held, in index order: `(index, encoded entry)`.
    fn party_entries(&self) -> Result<Vec<(u64, Vec<u8>)>, RegistryError>;

    /// A certificate by id.
    fn certificate(&self, id: &CertId) -> Result<Option<StoredCertificate>, RegistryError>;

    /// The indexes of a certificate's access receipts, in log order.
    fn receipts(&self, id: &CertId) -> Result<Vec<u64>, RegistryError>;

    /// At most `limit` certificates not purged and registered before `cutoff_ms`, oldest first, with the
    /// index of their registration; read through an index by time, never a scan of every certificate.
    fn held_before(
        &self,
        cutoff_ms: u64,
        limit: usize,
    ) -> Result<Vec<(CertId, u64)>, RegistryError>;

    /// Sets the watermark back to `to` and keeps every fact: what a store restored from a backup taken mid-way
    /// holds (or a store that wrote facts one by one, as the sled one of earlier builds did, after a crash).
    #[cfg(test)]
    fn rewind(&self, to: u64) -> Result<(), RegistryError>;

    /// Writes out what `apply` left in memory, at a clean shutdown (a crash loses no more than a replay).
    fn flush(&self) -> Result<(), RegistryError>;
}
