//! The embedded registry store: one sled database in `DATA/registry`, apart from the log's and the vault's,
//! with a bounded cache. One tree, keys prefixed by kind:
//!
//! - `w` → the watermark (u64, big-endian)
//! - `p` ‖ index → an enrollment or rotation entry
//! - `c` ‖ cert id → registration index ‖ registered ms ‖ purge index (`u64::MAX`: none) ‖ registrant
//! - `t` ‖ registered ms ‖ cert id → registration index, while the certificate is held (the retention index)
//! - `r` ‖ cert id ‖ index → nothing (an access receipt)
//!
//! Integers are big-endian so that sled's key order is index and time order. Nothing is synced per call (sled
//! writes it out in the background and at `flush`).
//!
//! `apply` writes key by key, the watermark last, not as one sled batch: every sled batch writes out sled's
//! I/O buffer twice (`PageCache::pin_log` rolls it before and after its manifest), and each write-out is a
//! task for sled's I/O pool that wakes all of its idle threads; with one batch per log append that was a
//! large share of the registry's CPU per registration (docs/performance.md, issue 12 step 5). Single writes
//! are enough because sled recovers a prefix of its log in write order (it drops a later segment whose
//! predecessor was lost: sled's `pagecache/segment.rs`), so a crash keeps some leading writes of a call and
//! never its watermark without them; the registry hides facts at or past the watermark, and the writes
//! below are ordered so that a call applied again after a torn one completes it (see `apply`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use ledger::{CertId, PartyId};

use super::store::{Fact, RegistryError, RegistryStore, StoredCertificate};

/// sled's page cache: what the registry may hold in memory, whatever the log's length.
const CACHE_BYTES: u64 = 64 << 20;

const WATERMARK: &[u8] = b"w";
const PARTY: u8 = b'p';
const CERT: u8 = b'c';
const HELD_BY_TIME: u8 = b't';
const RECEIPT: u8 = b'r';
const NOT_PURGED: u64 = u64::MAX;

/// The registry in a sled database of its own.
pub(crate) struct SledRegistry {
    db: sled::Db,
    dir: std::path::PathBuf,
    /// Serializes `apply`: it reads certificates it then rewrites, and its writes must reach sled's log in the
    /// order that makes a torn call complete when applied again.
    applying: Mutex<()>,
}

impl SledRegistry {
    /// Opens (or creates) the store in `dir`.
    pub(crate) fn open(dir: &Path) -> Result<SledRegistry, RegistryError> {
        create_private_dir(dir)?;
        // A store dropped a moment ago may still hold sled's file lock while sled's threads wind down (as
        // the vault's index does, vault/src/store/fs.rs): a lock conflict is retried for a few seconds.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let db = loop {
            match sled::Config::new()
                .path(dir)
                .cache_capacity(CACHE_BYTES)
                .open()
            {
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                other => break other.map_err(unavailable)?,
            }
        };
        settle_files(dir)?;
        Ok(SledRegistry {
            db,
            dir: dir.to_owned(),
            applying: Mutex::new(()),
        })
    }

    /// Writes a registration if its certificate has no row yet (the usual case: one write for the retention
    /// key, one compare-and-swap for the row, and no read); otherwise returns the row found (in this call's
    /// `certificates` or in the store), for [`SledRegistry::settle`]. A torn call applied again finds the row
    /// and settles, which puts back the retention key the row implies, whichever of the two writes was lost.
    fn register(
        &self,
        cert_key: &[u8],
        cert: &StoredCertificate,
        cert_id: &CertId,
        certificates: &HashMap<Vec<u8>, StoredCertificate>,
    ) -> Result<Option<StoredCertificate>, RegistryError> {
        if let Some(known) = certificates.get(cert_key) {
            return Ok(Some(known.clone()));
        }
        self.put(
            by_time(cert, cert_id),
            &cert.registration_index.to_be_bytes(),
        )?;
        let absent = self
            .db
            .compare_and_swap(cert_key, None::<&[u8]>, Some(encode_certificate(cert)))
            .map_err(unavailable)?;
        match absent {
            Ok(()) => Ok(None),
            Err(found) => found
                .current
                .map(|value| decode_certificate(&value))
                .transpose(),
        }
    }

    /// A registration of a certificate that has a row (a log that holds two registrations of one id, or a
    /// chunk applied again): the earlier registration holds, with its retention key; returns the one that
    /// holds. The row is written last, so a torn call applied again settles the same way.
    fn settle(
        &self,
        cert_key: &[u8],
        cert: StoredCertificate,
        cert_id: &CertId,
        known: StoredCertificate,
    ) -> Result<StoredCertificate, RegistryError> {
        // The retention key `register` may have written (the known one's too, if both have one time).
        self.delete(by_time(&cert, cert_id))?;
        if known.registration_index <= cert.registration_index {
            if known.purged_index.is_none() {
                let index = known.registration_index.to_be_bytes();
                self.put(by_time(&known, cert_id), &index)?;
            }
            return Ok(known);
        }
        self.delete(by_time(&known, cert_id))?;
        self.put(
            by_time(&cert, cert_id),
            &cert.registration_index.to_be_bytes(),
        )?;
        self.put(cert_key.to_vec(), encode_certificate(&cert))?;
        Ok(cert)
    }

    fn put(&self, key: Vec<u8>, value: impl Into<sled::IVec>) -> Result<(), RegistryError> {
        self.db.insert(key, value).map(drop).map_err(unavailable)
    }

    fn delete(&self, key: Vec<u8>) -> Result<(), RegistryError> {
        self.db.remove(key).map(drop).map_err(unavailable)
    }

    fn stored(&self, key: &[u8]) -> Result<Option<StoredCertificate>, RegistryError> {
        self.db
            .get(key)
            .map_err(unavailable)?
            .map(|value| decode_certificate(&value[..]))
            .transpose()
    }
}

impl RegistryStore for SledRegistry {
    fn watermark(&self) -> Result<u64, RegistryError> {
        match self.db.get(WATERMARK).map_err(unavailable)? {
            Some(value) => u64_at(&value[..], 0),
            None => Ok(0),
        }
    }

    fn apply(&self, facts: &[Fact], through: u64) -> Result<(), RegistryError> {
        let _applying = self.applying.lock().map_err(|_| poisoned())?;
        if through <= self.watermark()? {
            return Ok(()); // every fact below the watermark is here already
        }
        // Certificates this call changes, as they will be once it is applied.
        let mut certificates: HashMap<Vec<u8>, StoredCertificate> = HashMap::new();
        for fact in facts {
            match fact {
                Fact::Party { index, entry } => {
                    self.put(key(PARTY, &[], Some(*index)), entry.as_slice())?;
                }
                Fact::Registered {
                    cert_id,
                    registrant,
                    index,
                    time_ms,
                } => {
                    let cert_key = key(CERT, cert_id.as_bytes(), None);
                    let cert = StoredCertificate {
                        registrant: registrant.clone(),
                        registration_index: *index,
                        registered_ms: *time_ms,
                        purged_index: None,
                    };
                    let holds = match self.register(&cert_key, &cert, cert_id, &certificates)? {
                        None => cert,
                        Some(known) => self.settle(&cert_key, cert, cert_id, known)?,
                    };
                    certificates.insert(cert_key, holds);
                }
                Fact::Purged { cert_id, index } => {
                    let cert_key = key(CERT, cert_id.as_bytes(), None);
                    let known = match certificates.get(&cert_key) {
                        Some(known) => Some(known.clone()),
                        None => self.stored(&cert_key)?,
                    };
                    let Some(mut cert) = known else {
                        continue;
                    };
                    if cert.purged_index.is_some_and(|p| p <= *index) {
                        continue;
                    }
                    // Out of the retention index before the row says "purged": a torn call applied again
                    // skips a purge the row records, so the row comes last.
                    self.delete(by_time(&cert, cert_id))?;
                    cert.purged_index = Some(*index);
                    self.put(cert_key.clone(), encode_certificate(&cert))?;
                    certificates.insert(cert_key, cert);
                }
                Fact::Receipt { cert_id, index } => {
                    self.put(key(RECEIPT, cert_id.as_bytes(), Some(*index)), &[])?;
                }
            }
        }
        self.put(WATERMARK.to_vec(), &through.to_be_bytes())
    }

    fn party_entries(&self) -> Result<Vec<(u64, Vec<u8>)>, RegistryError> {
        self.db
            .scan_prefix([PARTY])
            .map(|item| {
                let (k, v) = item.map_err(unavailable)?;
                Ok((u64_at(&k, 1)?, v.to_vec()))
            })
            .collect()
    }

    fn certificate(&self, id: &CertId) -> Result<Option<StoredCertificate>, RegistryError> {
        self.stored(&key(CERT, id.as_bytes(), None))
    }

    fn receipts(&self, id: &CertId) -> Result<Vec<u64>, RegistryError> {
        let prefix = key(RECEIPT, id.as_bytes(), None);
        self.db
            .scan_prefix(&prefix)
            .map(|item| u64_at(&item.map_err(unavailable)?.0, prefix.len()))
            .collect()
    }

    fn held_before(
        &self,
        cutoff_ms: u64,
        limit: usize,
    ) -> Result<Vec<(CertId, u64)>, RegistryError> {
        let end = key(HELD_BY_TIME, &[], Some(cutoff_ms));
        self.db
            .range([HELD_BY_TIME].as_slice()..end.as_slice())
            .take(limit)
            .map(|item| {
                let (k, v) = item.map_err(unavailable)?;
                let id = k
                    .get(9..25)
                    .and_then(|b| <[u8; 16]>::try_from(b).ok())
                    .ok_or_else(|| damaged("a retention key"))?;
                Ok((CertId(id), u64_at(&v, 0)?))
            })
            .collect()
    }

    #[cfg(test)]
    fn rewind(&self, to: u64) -> Result<(), RegistryError> {
        self.db
            .insert(WATERMARK, &to.to_be_bytes())
            .map(|_| ())
            .map_err(unavailable)
    }

    fn flush(&self) -> Result<(), RegistryError> {
        self.db.flush().map_err(unavailable)?;
        settle_files(&self.dir)
    }
}

/// `kind ‖ middle ‖ suffix` (the suffix big-endian).
fn key(kind: u8, middle: &[u8], suffix: Option<u64>) -> Vec<u8> {
    let mut key = Vec::with_capacity(1 + middle.len() + 8);
    key.push(kind);
    key.extend_from_slice(middle);
    if let Some(suffix) = suffix {
        key.extend_from_slice(&suffix.to_be_bytes());
    }
    key
}

fn by_time(cert: &StoredCertificate, cert_id: &CertId) -> Vec<u8> {
    key(HELD_BY_TIME, &cert.registered_ms.to_be_bytes(), None)
        .into_iter()
        .chain(cert_id.as_bytes().iter().copied())
        .collect()
}

fn encode_certificate(cert: &StoredCertificate) -> Vec<u8> {
    let mut value = Vec::with_capacity(24 + cert.registrant.as_str().len());
    value.extend_from_slice(&cert.registration_index.to_be_bytes());
    value.extend_from_slice(&cert.registered_ms.to_be_bytes());
    value.extend_from_slice(&cert.purged_index.unwrap_or(NOT_PURGED).to_be_bytes());
    value.extend_from_slice(cert.registrant.as_str().as_bytes());
    value
}

fn decode_certificate(value: &[u8]) -> Result<StoredCertificate, RegistryError> {
    let purged = u64_at(value, 16)?;
    let registrant = value
        .get(24..)
        .and_then(|b| PartyId::from_bytes(b).ok())
        .ok_or_else(|| damaged("a certificate's registrant"))?;
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
        .ok_or_else(|| damaged("an index"))
}

/// Takes every file sled wrote to 0600 (directories 0700: sled creates them with the process umask) and
/// fsyncs them and the directories (sled's own flush only calls `sync_file_range`, and it writes its `conf`
/// without a sync). Run at open and at [`RegistryStore::flush`] (after the catch-up at start, and at shutdown),
/// not per apply: between them a power cut may cost the registry's tail, which the next start applies again
/// from the log, or a store that does not open, which it rebuilds (`super::super::stores`).
fn settle_files(dir: &Path) -> Result<(), RegistryError> {
    let io = |e: std::io::Error| RegistryError::Unavailable(format!("{}: {e}", dir.display()));
    let mut dirs = vec![dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            ledger::durable::make_private(&path).map_err(io)?;
            if path.is_dir() {
                dirs.push(path);
            } else {
                std::fs::File::open(&path)
                    .and_then(|f| f.sync_all())
                    .map_err(io)?;
            }
        }
        ledger::durable::sync_dir(&dir).map_err(io)?;
    }
    Ok(())
}

/// The store's directory, private to the service's user (it names parties and certificates).
fn create_private_dir(dir: &Path) -> Result<(), RegistryError> {
    use std::os::unix::fs::DirBuilderExt as _;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(RegistryError::Unavailable(format!(
            "creating {}: {e}",
            dir.display()
        ))),
    }
}

fn unavailable(e: impl std::fmt::Display) -> RegistryError {
    RegistryError::Unavailable(e.to_string())
}

fn damaged(what: &str) -> RegistryError {
    RegistryError::Damaged(format!("{what} does not decode"))
}

fn poisoned() -> RegistryError {
    RegistryError::Unavailable("a thread panicked while applying".to_owned())
}
