//! The embedded registry's tables in redb, and how one fact changes them inside a write transaction.
//!
//! - `meta`: `"watermark"` → u64
//! - `parties`: index → an enrollment or rotation entry (encoded)
//! - `certificates`: cert id → registration index ‖ registered ms ‖ purge index (`u64::MAX`: none) ‖
//!   registrant (integers big-endian)
//! - `held_by_time`: (registered ms, cert id) → registration index, while the certificate is held (retention)
//! - `receipts`: (cert id, index) → nothing (an access receipt)
//!
//! A call's facts and its watermark are one transaction, so the facts need no order among themselves: a fact
//! reads what the earlier facts of its call wrote.

use ledger::{CertId, PartyId};
use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};

use super::store::{Fact, RegistryError, StoredCertificate};

pub(super) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
pub(super) const WATERMARK: &str = "watermark";
pub(super) const PARTIES: TableDefinition<u64, &[u8]> = TableDefinition::new("parties");
pub(super) const CERTIFICATES: TableDefinition<&[u8; 16], &[u8]> =
    TableDefinition::new("certificates");
pub(super) const HELD: TableDefinition<(u64, &[u8; 16]), u64> =
    TableDefinition::new("held_by_time");
pub(super) const RECEIPTS: TableDefinition<(&[u8; 16], u64), ()> = TableDefinition::new("receipts");

const NOT_PURGED: u64 = u64::MAX;

/// Every table, open in one write transaction.
pub(super) struct Tables<'txn> {
    meta: Table<'txn, &'static str, u64>,
    parties: Table<'txn, u64, &'static [u8]>,
    certificates: Table<'txn, &'static [u8; 16], &'static [u8]>,
    held: Table<'txn, (u64, &'static [u8; 16]), u64>,
    receipts: Table<'txn, (&'static [u8; 16], u64), ()>,
}

impl<'txn> Tables<'txn> {
    /// Opens (creating them if need be) every table in `tx`.
    pub(super) fn open(tx: &'txn WriteTransaction) -> Result<Tables<'txn>, RegistryError> {
        Ok(Tables {
            meta: tx.open_table(META).map_err(failed)?,
            parties: tx.open_table(PARTIES).map_err(failed)?,
            certificates: tx.open_table(CERTIFICATES).map_err(failed)?,
            held: tx.open_table(HELD).map_err(failed)?,
            receipts: tx.open_table(RECEIPTS).map_err(failed)?,
        })
    }

    pub(super) fn watermark(&self) -> Result<u64, RegistryError> {
        Ok(self
            .meta
            .get(WATERMARK)
            .map_err(failed)?
            .map_or(0, |v| v.value()))
    }

    pub(super) fn set_watermark(&mut self, through: u64) -> Result<(), RegistryError> {
        self.meta.insert(WATERMARK, through).map_err(failed)?;
        Ok(())
    }

    /// Writes one fact; idempotent, and the earliest registration and purge of a certificate hold.
    pub(super) fn apply(&mut self, fact: &Fact) -> Result<(), RegistryError> {
        match fact {
            Fact::Party { index, entry } => {
                self.parties
                    .insert(*index, entry.as_slice())
                    .map_err(failed)?;
            }
            Fact::Registered {
                cert_id,
                registrant,
                index,
                time_ms,
            } => self.register(
                cert_id,
                StoredCertificate {
                    registrant: registrant.clone(),
                    registration_index: *index,
                    registered_ms: *time_ms,
                    purged_index: None,
                },
            )?,
            Fact::Purged { cert_id, index } => self.purge(cert_id, *index)?,
            Fact::Receipt { cert_id, index } => {
                self.receipts
                    .insert((cert_id.as_bytes(), *index), ())
                    .map_err(failed)?;
            }
        }
        Ok(())
    }

    /// A registration: of two of one id (the service refuses the second, but a log may hold it), the earlier
    /// one holds, with its retention key, as in PostgreSQL (`pg_store.rs`).
    fn register(&mut self, id: &CertId, cert: StoredCertificate) -> Result<(), RegistryError> {
        if let Some(known) = self.certificate(id)? {
            if known.registration_index <= cert.registration_index {
                return Ok(());
            }
            self.held
                .remove((known.registered_ms, id.as_bytes()))
                .map_err(failed)?;
        }
        self.held
            .insert((cert.registered_ms, id.as_bytes()), cert.registration_index)
            .map_err(failed)?;
        self.put_certificate(id, &cert)
    }

    /// A purge of a registered certificate (of an unknown one: nothing); the earliest holds.
    fn purge(&mut self, id: &CertId, index: u64) -> Result<(), RegistryError> {
        let Some(mut cert) = self.certificate(id)? else {
            return Ok(());
        };
        match cert.purged_index {
            Some(earlier) if earlier <= index => return Ok(()),
            Some(_) => {}
            None => {
                self.held
                    .remove((cert.registered_ms, id.as_bytes()))
                    .map_err(failed)?;
            }
        }
        cert.purged_index = Some(index);
        self.put_certificate(id, &cert)
    }

    fn certificate(&self, id: &CertId) -> Result<Option<StoredCertificate>, RegistryError> {
        self.certificates
            .get(id.as_bytes())
            .map_err(failed)?
            .map(|value| decode_certificate(value.value()))
            .transpose()
    }

    fn put_certificate(
        &mut self,
        id: &CertId,
        cert: &StoredCertificate,
    ) -> Result<(), RegistryError> {
        self.certificates
            .insert(id.as_bytes(), encode_certificate(cert).as_slice())
            .map_err(failed)?;
        Ok(())
    }
}

fn encode_certificate(cert: &StoredCertificate) -> Vec<u8> {
    let mut value = Vec::with_capacity(24 + cert.registrant.as_str().len());
    value.extend_from_slice(&cert.registration_index.to_be_bytes());
    value.extend_from_slice(&cert.registered_ms.to_be_bytes());
    value.extend_from_slice(&cert.purged_index.unwrap_or(NOT_PURGED).to_be_bytes());
    value.extend_from_slice(cert.registrant.as_str().as_bytes());
    value
}

/// A certificate row as stored; a row this build cannot read is `Damaged`, never a panic.
pub(super) fn decode_certificate(value: &[u8]) -> Result<StoredCertificate, RegistryError> {
    let purged = u64_at(value, 16)?;
    let registrant = value
        .get(24..)
        .and_then(|b| PartyId::from_bytes(b).ok())
        .ok_or_else(|| RegistryError::Damaged("a certificate's registrant".to_owned()))?;
    Ok(StoredCertificate {
        registrant,
        registration_index: u64_at(value, 0)?,
        registered_ms: u64_at(value, 8)?,
        purged_index: (purged != NOT_PURGED).then_some(purged),
    })
}

/// The big-endian u64 at `at` in `bytes`.
fn u64_at(bytes: &[u8], at: usize) -> Result<u64, RegistryError> {
    bytes
        .get(at..at.saturating_add(8))
        .and_then(|b| <[u8; 8]>::try_from(b).ok())
        .map(u64::from_be_bytes)
        .ok_or_else(|| RegistryError::Damaged("an index in a certificate row".to_owned()))
}

/// A redb failure: a file redb finds corrupted is `Damaged`, anything else (I/O) `Unavailable`.
pub(super) fn failed(e: impl Into<redb::Error>) -> RegistryError {
    match e.into() {
        e @ redb::Error::Corrupted(_) => RegistryError::Damaged(e.to_string()),
        e => RegistryError::Unavailable(e.to_string()),
    }
}
