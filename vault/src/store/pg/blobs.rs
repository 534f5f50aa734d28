//! Ciphertexts as blobs of a [`BlobStore`] (a private bucket prefix), their names, lengths and checksums in
//! PostgreSQL beside the envelopes.
//!
//! How the contract holds across two systems that share no transaction:
//! - **Names** are 128 random bits (32 hex digits), never derived from the certificate id or anything else on
//!   the public log, so a reader of the bucket listing or of the log cannot tell which blob is whose, and no one
//!   can aim a write at a future certificate's name. Blobs are put with "never overwrite" (`If-None-Match: *`).
//! - **Ordering**: (1) the blob names are recorded in `vault_pending_objects` and committed; (2) the blobs are
//!   put, several at once; (3) one transaction claims the ids, inserts each blob's row (name, length,
//!   checksum) and the envelopes, and deletes the pending rows. A put is acknowledged only after (2) and (3)
//!   succeeded, so no row ever names a blob that was not stored. A refusal (id taken) or a failed put deletes
//!   the blobs at once; a crash or an unanswered `COMMIT` leaves blobs that only pending rows name.
//! - **Orphans** are those: [`PgVaultStore::sweep_orphan_blobs`] takes each pending row older than a grace
//!   period (`FOR UPDATE SKIP LOCKED`), deletes its blob, then the row. Step (3) deletes its own pending rows
//!   and fails if one is gone, so a put slower than the grace period is refused rather than committed pointing
//!   at a swept blob. Step (1) commits without waiting for the WAL flush (one fewer flush per group): a
//!   database crash within that flush delay can lose a pending row, leaving an orphan only a bucket listing
//!   finds (docs/operations.md); it can never leave a row without its blob.
//! - **Purge** deletes the blob inside the purge transaction, after its rows and before `COMMIT`, under the
//!   certificate's row lock: a blob that cannot be deleted fails the purge, which then changed nothing. Only
//!   if `COMMIT` itself fails after the blob is gone is the row left naming nothing; reads then say `Corrupt`,
//!   and running the purge again finishes it.
//! - **Reads** check the blob's length and checksum (bound to the certificate id) against the row: a
//!   truncated, extended, swapped or missing blob is [`StoreError::Corrupt`], never served.

use ledger::CertId;
use postgres::Transaction;
use rand::Rng as _;

use super::{BlobStore, NewCertificate, PgVaultStore, StoreError, db_error};
use super::{body_checksum, claim_ids, insert_envelopes};

/// How many orphans one sweep query takes at a time.
const SWEEP_PAGE: i64 = 256;

/// A fresh random blob name: 128 bits as 32 lowercase hex digits (the schema checks the shape).
fn new_name() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// How a transaction failed: before `COMMIT` (rolled back for certain) or at it (outcome unknown).
enum Failed {
    Before(StoreError),
    AtCommit(StoreError),
}

impl PgVaultStore {
    /// The blob store, or why a certificate's blob cannot be reached without one.
    pub(super) fn blob_store(&self, cert_id: CertId) -> Result<&dyn BlobStore, StoreError> {
        self.blobs.as_deref().ok_or_else(|| {
            StoreError::Objects(format!(
                "the body of certificate {cert_id} is in the bucket, and this vault was opened without it \
                 (serve --postgres without --bucket)"
            ))
        })
    }

    /// `put_certificates` with the bodies as blobs (the module comment says why in this order).
    pub(super) fn put_as_blobs(
        &self,
        blobs: &dyn BlobStore,
        sorted: &[&NewCertificate<'_>],
    ) -> Result<(), StoreError> {
        let names: Vec<String> = sorted.iter().map(|_| new_name()).collect();
        self.record_pending(&names)?;
        let puts: Vec<(&str, &[u8])> = names
            .iter()
            .zip(sorted)
            .map(|(name, cert)| (name.as_str(), cert.ciphertext))
            .collect();
        if let Err(e) = blobs.put_new(&puts) {
            self.discard(blobs, &names);
            return Err(e);
        }
        let committed = self.phased_transaction(|tx| {
            claim_ids(tx, sorted)?;
            let row = tx
                .prepare(
                    "INSERT INTO vault_body_objects (cert_id, object_name, length, checksum) \
                     VALUES ($1, $2, $3, $4)",
                )
                .map_err(db_error)?;
            for (cert, name) in sorted.iter().zip(&names) {
                let id = cert.cert_id.as_bytes().as_slice();
                let length = i64::try_from(cert.ciphertext.len()).map_err(|_| StoreError::TooLarge)?;
                let sum = body_checksum(cert.cert_id, cert.ciphertext);
                tx.execute(&row, &[&id, name, &length, &sum])
                    .map_err(db_error)?;
            }
            insert_envelopes(tx, sorted)?;
            let claimed = tx
                .execute(
                    "DELETE FROM vault_pending_objects WHERE object_name = ANY($1)",
                    &[&names],
                )
                .map_err(db_error)?;
            if usize::try_from(claimed).ok() != Some(names.len()) {
                return Err(StoreError::Objects(
                    "the put took longer than the orphan sweep's grace period and its blobs were swept; \
                     retry"
                        .into(),
                ));
            }
            Ok(())
        });
        match committed {
            Ok(()) => Ok(()),
            Err(Failed::Before(e)) => {
                self.discard(blobs, &names);
                Err(e)
            }
            // Maybe committed: the blobs stay; if it did not commit, their pending rows remain for the sweep.
            Err(Failed::AtCommit(e)) => Err(e),
        }
    }

    /// Records `names` as being written, committed without waiting for the WAL flush (module comment).
    fn record_pending(&self, names: &[String]) -> Result<(), StoreError> {
        let mut conn = self.connection()?;
        let mut tx = conn.transaction().map_err(db_error)?;
        tx.batch_execute("SET LOCAL synchronous_commit = off")
            .map_err(db_error)?;
        tx.execute(
            "INSERT INTO vault_pending_objects (object_name) SELECT unnest($1::text[])",
            &[&names],
        )
        .map_err(db_error)?;
        tx.commit().map_err(db_error)
    }

    /// Best effort after a put that certainly did not commit: deletes its blobs, then its pending rows.
    /// Whatever fails here (the bucket is down) is left to the orphan sweep.
    fn discard(&self, blobs: &dyn BlobStore, names: &[String]) {
        for name in names {
            if blobs.delete(name).is_err() {
                return;
            }
        }
        if let Ok(mut conn) = self.connection() {
            let _ = conn.execute(
                "DELETE FROM vault_pending_objects WHERE object_name = ANY($1)",
                &[&names],
            );
        }
    }

    /// Runs `work` in one transaction, telling a failure before `COMMIT` from one at it.
    fn phased_transaction(
        &self,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<(), StoreError>,
    ) -> Result<(), Failed> {
        let mut conn = self.connection().map_err(Failed::Before)?;
        let mut tx = conn
            .transaction()
            .map_err(|e| Failed::Before(db_error(e)))?;
        work(&mut tx).map_err(Failed::Before)?;
        tx.commit().map_err(|e| Failed::AtCommit(db_error(e)))
    }

    /// The ciphertext, from its blob or its row, checked against the recorded length and checksum.
    pub(super) fn read_body(&self, cert_id: CertId) -> Result<Option<Vec<u8>>, StoreError> {
        let id = cert_id.as_bytes().as_slice();
        let row = self
            .connection()?
            .query_opt(
                "SELECT b.ciphertext, b.checksum, o.object_name, o.length, o.checksum \
                   FROM vault_certificates c \
                   LEFT JOIN vault_bodies b ON b.cert_id = c.cert_id \
                   LEFT JOIN vault_body_objects o ON o.cert_id = c.cert_id \
                  WHERE c.cert_id = $1",
                &[&id],
            )
            .map_err(db_error)?;
        let Some(row) = row else { return Ok(None) };
        let inline: Option<Vec<u8>> = row.try_get(0).map_err(db_error)?;
        let name: Option<String> = row.try_get(2).map_err(db_error)?;
        let (ciphertext, checksum) = match (inline, name) {
            (Some(ciphertext), _) => {
                let checksum: Vec<u8> = row.try_get(1).map_err(db_error)?;
                (ciphertext, checksum)
            }
            (None, Some(name)) => {
                let length: i64 = row.try_get(3).map_err(db_error)?;
                let checksum: Vec<u8> = row.try_get(4).map_err(db_error)?;
                let length = usize::try_from(length)
                    .map_err(|_| StoreError::Corrupt("a recorded body length is negative"))?;
                let Some(bytes) = self.blob_store(cert_id)?.get(&name, length)? else {
                    return self.missing_blob(cert_id);
                };
                if bytes.len() != length {
                    return Err(StoreError::Corrupt(
                        "the ciphertext blob is not the length recorded for it",
                    ));
                }
                (bytes, checksum)
            }
            // Live without a body cannot be stored; purged has none.
            (None, None) => return Ok(None),
        };
        if body_checksum(cert_id, &ciphertext) != checksum {
            return Err(StoreError::Corrupt("ciphertext checksum mismatch"));
        }
        Ok(Some(ciphertext))
    }

    /// A blob its row names is gone: a purge that deleted it committed meanwhile (`None`), or it is lost.
    fn missing_blob(&self, cert_id: CertId) -> Result<Option<Vec<u8>>, StoreError> {
        let still = self
            .connection()?
            .query_opt(
                "SELECT 1 FROM vault_body_objects WHERE cert_id = $1",
                &[&cert_id.as_bytes().as_slice()],
            )
            .map_err(db_error)?;
        match still {
            Some(_) => Err(StoreError::Corrupt(
                "the ciphertext blob is missing from the bucket",
            )),
            None => Ok(None),
        }
    }

    /// Deletes the blobs of puts that never committed: every pending blob recorded more than `grace` ago
    /// (by the database's clock), blob first, then its row. Safe to run from every frontend at once and
    /// while puts run (module comment). Returns how many it deleted; stops at the first failure.
    pub fn sweep_orphan_blobs(&self, grace: std::time::Duration) -> Result<u64, StoreError> {
        let Some(blobs) = self.blobs.as_deref() else {
            return Ok(0);
        };
        let grace = grace.as_secs_f64();
        let mut swept = 0u64;
        loop {
            let mut conn = self.connection()?;
            let mut tx = conn.transaction().map_err(db_error)?;
            // Deleting a page of blobs between two statements takes as long as the bucket takes; the rows are
            // taken with SKIP LOCKED, so nobody waits behind this transaction: no stall limit.
            tx.batch_execute("SET LOCAL idle_in_transaction_session_timeout = 0")
                .map_err(db_error)?;
            let rows = tx
                .query(
                    "SELECT object_name FROM vault_pending_objects \
                      WHERE created_at < now() - $1 * interval '1 second' \
                      ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
                    &[&grace, &SWEEP_PAGE],
                )
                .map_err(db_error)?;
            if rows.is_empty() {
                return Ok(swept);
            }
            let mut names = Vec::with_capacity(rows.len());
            for row in &rows {
                let name: String = row.try_get(0).map_err(db_error)?;
                blobs.delete(&name)?;
                names.push(name);
            }
            tx.execute(
                "DELETE FROM vault_pending_objects WHERE object_name = ANY($1)",
                &[&names],
            )
            .map_err(db_error)?;
            tx.commit().map_err(db_error)?;
            swept = swept.saturating_add(u64::try_from(names.len()).unwrap_or(u64::MAX));
        }
    }

    /// How many blobs are pending (being written, or orphans not yet swept): for tests and metrics.
    pub fn pending_blobs(&self) -> Result<u64, StoreError> {
        let count: i64 = self
            .connection()?
            .query_one("SELECT count(*) FROM vault_pending_objects", &[])
            .and_then(|row| row.try_get(0))
            .map_err(db_error)?;
        Ok(u64::try_from(count).unwrap_or(0))
    }
}
