//! [`PgVaultStore`]: the vault in a PostgreSQL database, shared by any number of frontends.

mod blobs;

use std::sync::Arc;

use ledger::CertId;
use ledger::pg::{Migration, PgConnection, PgPool, migrate};
use postgres::Transaction;
use sha2::{Digest as _, Sha256};

use super::{
    BlobStore, NewCertificate, StoreError, StoredId, VaultStore, validate_batch, validate_envelope,
    validate_party,
};

/// The vault's migrations (track `vault`).
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        sql: include_str!("sql/vault_v1.sql"),
    },
    Migration {
        version: 2,
        sql: include_str!("sql/vault_v2.sql"),
    },
];

const BODY_DOMAIN: &[u8] = b"tradeledger/vault-pg/body/v1";
const ENVELOPE_DOMAIN: &[u8] = b"tradeledger/vault-pg/envelope/v1";

/// A [`VaultStore`] in PostgreSQL: every frontend that opens the same database sees the same vault.
///
/// How it keeps the contract:
/// - **Durable**: a mutation returns `Ok` only after its transaction committed with `synchronous_commit = on`
///   (the WAL record flushed to the server's disk), and the pool refuses a server running with `fsync` off.
///   With synchronous replication configured on the server, the commit also waits for the standbys.
/// - **Atomic**: each call is one transaction; a batch is all or nothing. A connection lost before `COMMIT`
///   rolls back on the server; lost during it, the outcome is unknown, as the contract allows.
/// - **Ids never reused**: `vault_certificates` keeps a row per id ever stored, marked purged by a purge.
///   Two frontends putting one id race on its primary key: one wins, the other gets `AlreadyExists`.
/// - **Purge**: deletes the ciphertext row and every envelope row in one transaction. PostgreSQL keeps the
///   deleted bytes in dead tuples until `VACUUM`, in the WAL until its segments are recycled, and in any
///   WAL archive or backup: docs/threat-model.md says what an operator must do.
/// - **Integrity**: every body and envelope row carries a SHA-256 checksum bound to its certificate id (and
///   party), checked on every read; a mismatch is [`StoreError::Corrupt`].
/// - **Concurrency**: a pool of blocking connections; a purge takes the certificate's row lock, a grant or
///   revocation shares it, so they serialize per certificate and not globally.
///
/// With a [`BlobStore`] ([`PgVaultStore::with_blobs`]) new ciphertexts are blobs there instead of rows, and
/// the database keeps each blob's random name, length and checksum; envelopes, tombstones and the index stay
/// in the database (blobs.rs says how durability, ordering, orphans and purges work across the two).
#[derive(Clone)]
pub struct PgVaultStore {
    pool: PgPool,
    blobs: Option<Arc<dyn BlobStore>>,
}

impl std::fmt::Debug for PgVaultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgVaultStore")
            .field("pool", &self.pool)
            .field("blobs", &self.blobs.is_some())
            .finish()
    }
}

impl PgVaultStore {
    /// Connects (see [`PgPool::connect`]) and brings the schema up to date.
    pub fn open(url: &str, max_connections: u32) -> Result<PgVaultStore, StoreError> {
        PgVaultStore::with_pool(PgPool::connect(url, max_connections).map_err(store_error)?)
    }

    /// Uses an open pool, bringing the schema up to date.
    pub fn with_pool(pool: PgPool) -> Result<PgVaultStore, StoreError> {
        let mut conn = pool.get().map_err(store_error)?;
        migrate(&mut conn, "vault", MIGRATIONS).map_err(store_error)?;
        drop(conn);
        Ok(PgVaultStore { pool, blobs: None })
    }

    /// Uses an open pool and keeps new ciphertexts as blobs in `blobs` (bodies stored earlier as rows stay
    /// readable and purgeable), bringing the schema up to date.
    pub fn with_blobs(pool: PgPool, blobs: Arc<dyn BlobStore>) -> Result<PgVaultStore, StoreError> {
        let mut store = PgVaultStore::with_pool(pool)?;
        store.blobs = Some(blobs);
        Ok(store)
    }

    /// Runs `work` in one transaction and commits it if it returns `Ok`.
    fn transaction<T>(
        &self,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection()?;
        let mut tx = conn.transaction().map_err(db_error)?;
        let value = work(&mut tx)?;
        tx.commit().map_err(db_error)?;
        Ok(value)
    }
}

impl PgVaultStore {
    /// A connection from the shared pool.
    fn connection(&self) -> Result<PgConnection, StoreError> {
        self.pool.get().map_err(store_error)
    }
}

/// A PostgreSQL error as a store error, through the shared mapping (no row contents, no settings).
fn db_error(error: postgres::Error) -> StoreError {
    store_error(ledger::pg::db_error(error))
}

/// An error of the shared pool or migrations as a store error.
fn store_error(error: ledger::Error) -> StoreError {
    match error {
        ledger::Error::Database(message) => StoreError::Database(message),
        other => StoreError::Database(other.to_string()),
    }
}

fn body_checksum(cert_id: CertId, ciphertext: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(BODY_DOMAIN);
    h.update(cert_id.as_bytes());
    h.update(ciphertext);
    h.finalize().to_vec()
}

fn envelope_checksum(cert_id: CertId, party: &str, envelope: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(ENVELOPE_DOMAIN);
    h.update(cert_id.as_bytes());
    // Party ids are at most 255 bytes (validated, and checked by the schema).
    h.update([u8::try_from(party.len()).unwrap_or(u8::MAX)]);
    h.update(party.as_bytes());
    h.update(envelope);
    h.finalize().to_vec()
}

/// Claims each id's `vault_certificates` row, refusing the batch if one is taken (live or tombstone).
fn claim_ids(tx: &mut Transaction<'_>, sorted: &[&NewCertificate<'_>]) -> Result<(), StoreError> {
    let claim = tx
        .prepare("INSERT INTO vault_certificates (cert_id) VALUES ($1) ON CONFLICT DO NOTHING")
        .map_err(db_error)?;
    for cert in sorted {
        let id = cert.cert_id.as_bytes().as_slice();
        if tx.execute(&claim, &[&id]).map_err(db_error)? == 0 {
            // Taken: by a live certificate or a tombstone (a concurrent put has committed by now).
            let purged: bool = tx
                .query_one(
                    "SELECT purged FROM vault_certificates WHERE cert_id = $1",
                    &[&id],
                )
                .and_then(|row| row.try_get(0))
                .map_err(db_error)?;
            return Err(if purged {
                StoreError::Purged(cert.cert_id)
            } else {
                StoreError::AlreadyExists(cert.cert_id)
            });
        }
    }
    Ok(())
}

/// Inserts every certificate's initial envelopes, each with its checksum.
fn insert_envelopes(
    tx: &mut Transaction<'_>,
    sorted: &[&NewCertificate<'_>],
) -> Result<(), StoreError> {
    let envelope = tx
        .prepare(
            "INSERT INTO vault_envelopes (cert_id, party, envelope, checksum) \
             VALUES ($1, $2, $3, $4)",
        )
        .map_err(db_error)?;
    for cert in sorted {
        let id = cert.cert_id.as_bytes().as_slice();
        for (party, bytes) in cert.envelopes {
            let sum = envelope_checksum(cert.cert_id, party, bytes);
            tx.execute(&envelope, &[&id, party, bytes, &sum])
                .map_err(db_error)?;
        }
    }
    Ok(())
}

/// Locks the certificate's row (`FOR UPDATE` to purge, `FOR SHARE` otherwise) and checks it is live.
fn lock_live(tx: &mut Transaction<'_>, cert_id: CertId, exclusive: bool) -> Result<(), StoreError> {
    let sql = if exclusive {
        "SELECT purged FROM vault_certificates WHERE cert_id = $1 FOR UPDATE"
    } else {
        "SELECT purged FROM vault_certificates WHERE cert_id = $1 FOR SHARE"
    };
    let row = tx
        .query_opt(sql, &[&cert_id.as_bytes().as_slice()])
        .map_err(db_error)?;
    match row {
        None => Err(StoreError::NotFound(cert_id)),
        Some(row) if row.try_get::<_, bool>(0).map_err(db_error)? => {
            Err(StoreError::Purged(cert_id))
        }
        Some(_) => Ok(()),
    }
}

impl VaultStore for PgVaultStore {
    fn put_certificates(&self, certs: &[NewCertificate<'_>]) -> Result<(), StoreError> {
        validate_batch(certs)?;
        // One order for every batch, so two batches sharing ids wait for each other instead of deadlocking.
        let mut sorted: Vec<&NewCertificate<'_>> = certs.iter().collect();
        sorted.sort_by_key(|c| c.cert_id);
        if let Some(blobs) = &self.blobs {
            return self.put_as_blobs(&**blobs, &sorted);
        }
        self.transaction(|tx| {
            claim_ids(tx, &sorted)?;
            let body = tx
                .prepare(
                    "INSERT INTO vault_bodies (cert_id, ciphertext, checksum) VALUES ($1, $2, $3)",
                )
                .map_err(db_error)?;
            for cert in &sorted {
                let id = cert.cert_id.as_bytes().as_slice();
                let sum = body_checksum(cert.cert_id, cert.ciphertext);
                tx.execute(&body, &[&id, &cert.ciphertext, &sum])
                    .map_err(db_error)?;
            }
            insert_envelopes(tx, &sorted)
        })
    }

    /// One row, inserted as a tombstone: atomic.
    fn put_purged(&self, cert_id: CertId) -> Result<(), StoreError> {
        self.transaction(|tx| {
            let id = cert_id.as_bytes().as_slice();
            let inserted = tx
                .execute(
                    "INSERT INTO vault_certificates (cert_id, purged) VALUES ($1, true) \
                     ON CONFLICT DO NOTHING",
                    &[&id],
                )
                .map_err(db_error)?;
            if inserted == 1 {
                return Ok(());
            }
            let purged: bool = tx
                .query_one(
                    "SELECT purged FROM vault_certificates WHERE cert_id = $1",
                    &[&id],
                )
                .and_then(|row| row.try_get(0))
                .map_err(db_error)?;
            Err(if purged {
                StoreError::Purged(cert_id)
            } else {
                StoreError::AlreadyExists(cert_id)
            })
        })
    }

    fn list_ids(&self, after: Option<CertId>, limit: usize) -> Result<Vec<StoredId>, StoreError> {
        // bytea compares bytewise (memcmp), the ids' order.
        let after = after.map(|id| id.as_bytes().to_vec()).unwrap_or_default();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .connection()?
            .query(
                "SELECT cert_id, purged FROM vault_certificates WHERE cert_id > $1 \
                 ORDER BY cert_id LIMIT $2",
                &[&after, &limit],
            )
            .map_err(db_error)?;
        rows.iter()
            .map(|row| {
                let id: &[u8] = row.try_get(0).map_err(db_error)?;
                let cert_id = <[u8; 16]>::try_from(id)
                    .map(CertId)
                    .map_err(|_| StoreError::Corrupt("a stored certificate id is not 16 bytes"))?;
                let purged = row.try_get(1).map_err(db_error)?;
                Ok(StoredId { cert_id, purged })
            })
            .collect()
    }

    fn add_envelope(
        &self,
        cert_id: CertId,
        party: &str,
        envelope: &[u8],
    ) -> Result<(), StoreError> {
        validate_envelope(party, envelope)?;
        self.transaction(|tx| {
            lock_live(tx, cert_id, false)?;
            let sum = envelope_checksum(cert_id, party, envelope);
            let added = tx
                .execute(
                    "INSERT INTO vault_envelopes (cert_id, party, envelope, checksum) \
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[&cert_id.as_bytes().as_slice(), &party, &envelope, &sum],
                )
                .map_err(db_error)?;
            if added == 0 {
                return Err(StoreError::DuplicateRecipient(cert_id));
            }
            Ok(())
        })
    }

    fn remove_envelope(&self, cert_id: CertId, party: &str) -> Result<bool, StoreError> {
        validate_party(party)?;
        self.transaction(|tx| {
            lock_live(tx, cert_id, false)?;
            let removed = tx
                .execute(
                    "DELETE FROM vault_envelopes WHERE cert_id = $1 AND party = $2",
                    &[&cert_id.as_bytes().as_slice(), &party],
                )
                .map_err(db_error)?;
            Ok(removed > 0)
        })
    }

    fn purge(&self, cert_id: CertId) -> Result<(), StoreError> {
        self.transaction(|tx| {
            lock_live(tx, cert_id, true)?;
            let id = cert_id.as_bytes().as_slice();
            let blob = tx
                .query_opt(
                    "DELETE FROM vault_body_objects WHERE cert_id = $1 RETURNING object_name",
                    &[&id],
                )
                .map_err(db_error)?;
            for sql in [
                "DELETE FROM vault_envelopes WHERE cert_id = $1",
                "DELETE FROM vault_bodies WHERE cert_id = $1",
                "UPDATE vault_certificates SET purged = true WHERE cert_id = $1",
            ] {
                tx.execute(sql, &[&id]).map_err(db_error)?;
            }
            // The blob goes before the rows commit, under the certificate's row lock: if it cannot be deleted
            // the purge fails whole and changes nothing (blobs.rs).
            if let Some(row) = blob {
                let name: String = row.try_get(0).map_err(db_error)?;
                self.blob_store(cert_id)?.delete(&name)?;
            }
            Ok(())
        })
    }

    fn get_ciphertext(&self, cert_id: CertId) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_body(cert_id)
    }

    fn get_envelope(&self, cert_id: CertId, party: &str) -> Result<Option<Vec<u8>>, StoreError> {
        if validate_party(party).is_err() {
            return Ok(None);
        }
        let row = self
            .connection()?
            .query_opt(
                "SELECT envelope, checksum FROM vault_envelopes WHERE cert_id = $1 AND party = $2",
                &[&cert_id.as_bytes().as_slice(), &party],
            )
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let envelope: Vec<u8> = row.try_get(0).map_err(db_error)?;
        let checksum: Vec<u8> = row.try_get(1).map_err(db_error)?;
        if envelope_checksum(cert_id, party, &envelope) != checksum {
            return Err(StoreError::Corrupt("envelope checksum mismatch"));
        }
        Ok(Some(envelope))
    }

    fn list_recipients(&self, cert_id: CertId) -> Result<Vec<String>, StoreError> {
        let rows = self
            .connection()?
            .query(
                "SELECT party FROM vault_envelopes WHERE cert_id = $1 ORDER BY party",
                &[&cert_id.as_bytes().as_slice()],
            )
            .map_err(db_error)?;
        rows.iter()
            .map(|row| row.try_get(0).map_err(db_error))
            .collect()
    }
}
