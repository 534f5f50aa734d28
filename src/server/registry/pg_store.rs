//! The registry in PostgreSQL (`serve --postgres`), shared by every frontend on the database's pool; tables
//! in pg_registry.sql, created by the migration runner on its own `registry` track.
//!
//! `apply` is one transaction with `synchronous_commit = off`: the registry is derived from the log, so a
//! commit lost in a database crash is replayed from the log, and the facts and the watermark are lost
//! together or kept together. Any frontend may apply a range, at the same time as another: every insert is
//! `ON CONFLICT` idempotent and the watermark moves with `GREATEST`.

use std::collections::HashMap;

use ledger::{CertId, PartyId};
use vault::{PgMigration, PgPool, pg_error, pg_migrate};

use super::store::{Fact, RegistryError, RegistryStore, StoredCertificate};

const MIGRATIONS: &[PgMigration] = &[PgMigration {
    version: 1,
    sql: include_str!("pg_registry.sql"),
}];

/// The registry in PostgreSQL.
pub(crate) struct PgRegistry {
    pool: PgPool,
}

impl PgRegistry {
    /// Brings the `registry` schema track up to date and returns the store.
    pub(crate) fn open(pool: PgPool) -> Result<PgRegistry, RegistryError> {
        let mut conn = pool.get().map_err(unavailable)?;
        pg_migrate(&mut conn, "registry", MIGRATIONS).map_err(unavailable)?;
        drop(conn);
        Ok(PgRegistry { pool })
    }

    fn conn(&self) -> Result<vault::PgConnection, RegistryError> {
        self.pool.get().map_err(unavailable)
    }
}

/// The facts of one `apply`, as columns for `unnest`.
#[derive(Default)]
struct Columns {
    party_index: Vec<i64>,
    party_entry: Vec<Vec<u8>>,
    /// The earliest registration of each id in the call (one statement may not touch a row twice).
    registered: HashMap<CertId, (String, i64, i64)>,
    purged: HashMap<CertId, i64>,
    receipt_cert: Vec<Vec<u8>>,
    receipt_index: Vec<i64>,
}

impl Columns {
    fn of(facts: &[Fact]) -> Result<Columns, RegistryError> {
        let mut columns = Columns::default();
        for fact in facts {
            match fact {
                Fact::Party { index, entry } => {
                    columns.party_index.push(int(*index)?);
                    columns.party_entry.push(entry.clone());
                }
                Fact::Registered {
                    cert_id,
                    registrant,
                    index,
                    time_ms,
                } => {
                    let row = (registrant.to_string(), int(*index)?, int(*time_ms)?);
                    let earliest = columns.registered.entry(*cert_id).or_insert(row.clone());
                    if row.1 < earliest.1 {
                        *earliest = row;
                    }
                }
                Fact::Purged { cert_id, index } => {
                    let index = int(*index)?;
                    let earliest = columns.purged.entry(*cert_id).or_insert(index);
                    *earliest = (*earliest).min(index);
                }
                Fact::Receipt { cert_id, index } => {
                    columns.receipt_cert.push(cert_id.as_bytes().to_vec());
                    columns.receipt_index.push(int(*index)?);
                }
            }
        }
        Ok(columns)
    }
}

impl RegistryStore for PgRegistry {
    fn watermark(&self) -> Result<u64, RegistryError> {
        let applied: i64 = self
            .conn()?
            .query_one("SELECT applied FROM registry_watermark", &[])
            .and_then(|row| row.try_get(0))
            .map_err(db)?;
        uint(applied)
    }

    fn apply(&self, facts: &[Fact], through: u64) -> Result<(), RegistryError> {
        let columns = Columns::of(facts)?;
        let through = int(through)?;
        let mut conn = self.conn()?;
        let mut tx = conn.transaction().map_err(db)?;
        tx.batch_execute("SET LOCAL synchronous_commit = off")
            .map_err(db)?;
        // Another frontend applied this range already: nothing to write (the usual case with several).
        let applied: i64 = tx
            .query_one("SELECT applied FROM registry_watermark", &[])
            .and_then(|row| row.try_get(0))
            .map_err(db)?;
        if applied >= through {
            return tx.commit().map_err(db);
        }
        if !columns.party_index.is_empty() {
            tx.execute(
                "INSERT INTO registry_parties (idx, entry) \
                 SELECT * FROM unnest($1::bigint[], $2::bytea[]) ON CONFLICT (idx) DO NOTHING",
                &[&columns.party_index, &columns.party_entry],
            )
            .map_err(db)?;
        }
        if !columns.registered.is_empty() {
            let (mut ids, mut registrants, mut indexes, mut times) =
                (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (id, (registrant, index, time)) in &columns.registered {
                ids.push(id.as_bytes().to_vec());
                registrants.push(registrant.as_str());
                indexes.push(*index);
                times.push(*time);
            }
            tx.execute(
                "INSERT INTO registry_certificates \
                     (cert_id, registrant, registration_index, registered_ms) \
                 SELECT * FROM unnest($1::bytea[], $2::text[], $3::bigint[], $4::bigint[]) \
                 ON CONFLICT (cert_id) DO UPDATE SET registrant = EXCLUDED.registrant, \
                     registration_index = EXCLUDED.registration_index, \
                     registered_ms = EXCLUDED.registered_ms, purged_index = NULL \
                 WHERE EXCLUDED.registration_index < registry_certificates.registration_index",
                &[&ids, &registrants, &indexes, &times],
            )
            .map_err(db)?;
        }
        if !columns.purged.is_empty() {
            let ids: Vec<Vec<u8>> = columns
                .purged
                .keys()
                .map(|id| id.as_bytes().to_vec())
                .collect();
            let indexes: Vec<i64> = columns.purged.values().copied().collect();
            tx.execute(
                "UPDATE registry_certificates c SET purged_index = u.idx \
                 FROM unnest($1::bytea[], $2::bigint[]) AS u(cert_id, idx) \
                 WHERE c.cert_id = u.cert_id AND (c.purged_index IS NULL OR u.idx < c.purged_index)",
                &[&ids, &indexes],
            )
            .map_err(db)?;
        }
        if !columns.receipt_index.is_empty() {
            tx.execute(
                "INSERT INTO registry_receipts (cert_id, idx) \
                 SELECT * FROM unnest($1::bytea[], $2::bigint[]) ON CONFLICT DO NOTHING",
                &[&columns.receipt_cert, &columns.receipt_index],
            )
            .map_err(db)?;
        }
        tx.execute(
            "UPDATE registry_watermark SET applied = GREATEST(applied, $1)",
            &[&through],
        )
        .map_err(db)?;
        tx.commit().map_err(db)
    }

    fn party_entries(&self) -> Result<Vec<(u64, Vec<u8>)>, RegistryError> {
        self.conn()?
            .query("SELECT idx, entry FROM registry_parties ORDER BY idx", &[])
            .map_err(db)?
            .iter()
            .map(|row| {
                let index: i64 = row.try_get(0).map_err(db)?;
                Ok((uint(index)?, row.try_get(1).map_err(db)?))
            })
            .collect()
    }

    fn certificate(&self, id: &CertId) -> Result<Option<StoredCertificate>, RegistryError> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT registrant, registration_index, registered_ms, purged_index \
                 FROM registry_certificates WHERE cert_id = $1",
                &[&id.as_bytes().as_slice()],
            )
            .map_err(db)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let registrant: &str = row.try_get(0).map_err(db)?;
        let purged: Option<i64> = row.try_get(3).map_err(db)?;
        Ok(Some(StoredCertificate {
            registrant: PartyId::new(registrant)
                .map_err(|_| RegistryError::Damaged("a certificate's registrant".to_owned()))?,
            registration_index: uint(row.try_get(1).map_err(db)?)?,
            registered_ms: uint(row.try_get(2).map_err(db)?)?,
            purged_index: purged.map(uint).transpose()?,
        }))
    }

    fn receipts(&self, id: &CertId) -> Result<Vec<u64>, RegistryError> {
        self.conn()?
            .query(
                "SELECT idx FROM registry_receipts WHERE cert_id = $1 ORDER BY idx",
                &[&id.as_bytes().as_slice()],
            )
            .map_err(db)?
            .iter()
            .map(|row| uint(row.try_get(0).map_err(db)?))
            .collect()
    }

    fn held_before(
        &self,
        cutoff_ms: u64,
        limit: usize,
    ) -> Result<Vec<(CertId, u64)>, RegistryError> {
        let cutoff = i64::try_from(cutoff_ms).unwrap_or(i64::MAX);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.conn()?
            .query(
                "SELECT cert_id, registration_index FROM registry_certificates \
                 WHERE purged_index IS NULL AND registered_ms < $1 \
                 ORDER BY registered_ms, cert_id LIMIT $2",
                &[&cutoff, &limit],
            )
            .map_err(db)?
            .iter()
            .map(|row| {
                let id: &[u8] = row.try_get(0).map_err(db)?;
                let id = <[u8; 16]>::try_from(id)
                    .map_err(|_| RegistryError::Damaged("a certificate id".to_owned()))?;
                Ok((CertId(id), uint(row.try_get(1).map_err(db)?)?))
            })
            .collect()
    }

    #[cfg(test)]
    fn rewind(&self, to: u64) -> Result<(), RegistryError> {
        self.conn()?
            .execute("UPDATE registry_watermark SET applied = $1", &[&int(to)?])
            .map(|_| ())
            .map_err(db)
    }

    fn flush(&self) -> Result<(), RegistryError> {
        Ok(())
    }
}

fn int(value: u64) -> Result<i64, RegistryError> {
    i64::try_from(value).map_err(|_| RegistryError::Unavailable("an index out of range".to_owned()))
}

fn uint(value: i64) -> Result<u64, RegistryError> {
    u64::try_from(value).map_err(|_| RegistryError::Damaged("a negative index".to_owned()))
}

fn db(e: postgres::Error) -> RegistryError {
    RegistryError::Unavailable(pg_error(e).to_string())
}

fn unavailable(e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Unavailable(e.to_string())
}
