//! An in-memory [`VaultStore`] for tests, with fault injection (fail the next sync).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ledger::CertId;

use super::{
    NewCertificate, StoreError, StoredId, VaultStore, validate_batch, validate_envelope,
    validate_party,
};

/// One certificate's state: live with its bytes, or a purged tombstone (ids are never reused).
enum Entry {
    Live {
        ciphertext: Vec<u8>,
        envelopes: BTreeMap<String, Vec<u8>>,
    },
    Purged,
}

/// A [`VaultStore`] kept in memory: nothing survives a drop. Same contract as the disk store, with
/// "sync" being the moment a mutation is applied; [`fail_next_sync`](Self::fail_next_sync) makes that
/// moment fail, so tests can check that a failed mutation leaves nothing behind.
#[derive(Default)]
pub struct MemoryVaultStore {
    certs: Mutex<HashMap<CertId, Entry>>,
    fail_next_sync: AtomicBool,
}

impl MemoryVaultStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes the next mutation's sync fail with an I/O error; that mutation then has no effect.
    pub fn fail_next_sync(&self) {
        self.fail_next_sync.store(true, Ordering::SeqCst);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<CertId, Entry>> {
        // A panic while holding the lock cannot leave a half-applied mutation: every mutation is
        // validated first and applied with infallible map operations afterwards.
        self.certs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The simulated sync, called after validation and before applying.
    fn sync(&self) -> Result<(), StoreError> {
        if self.fail_next_sync.swap(false, Ordering::SeqCst) {
            return Err(StoreError::Io(std::io::Error::other(
                "injected sync failure",
            )));
        }
        Ok(())
    }
}

/// The live envelopes of `cert_id`, or why there are none.
fn live_envelopes(
    certs: &mut HashMap<CertId, Entry>,
    cert_id: CertId,
) -> Result<&mut BTreeMap<String, Vec<u8>>, StoreError> {
    match certs.get_mut(&cert_id) {
        Some(Entry::Live { envelopes, .. }) => Ok(envelopes),
        Some(Entry::Purged) => Err(StoreError::Purged(cert_id)),
        None => Err(StoreError::NotFound(cert_id)),
    }
}

impl VaultStore for MemoryVaultStore {
    fn put_certificates(&self, certs: &[NewCertificate<'_>]) -> Result<(), StoreError> {
        validate_batch(certs)?;
        let mut map = self.lock();
        for cert in certs {
            match map.get(&cert.cert_id) {
                Some(Entry::Live { .. }) => {
                    return Err(StoreError::AlreadyExists(cert.cert_id));
                }
                Some(Entry::Purged) => return Err(StoreError::Purged(cert.cert_id)),
                None => {}
            }
        }
        self.sync()?;
        for cert in certs {
            let envelopes = cert
                .envelopes
                .iter()
                .map(|(p, e)| ((*p).to_owned(), e.to_vec()))
                .collect();
            map.insert(
                cert.cert_id,
                Entry::Live {
                    ciphertext: cert.ciphertext.to_vec(),
                    envelopes,
                },
            );
        }
        Ok(())
    }

    fn add_envelope(
        &self,
        cert_id: CertId,
        party: &str,
        envelope: &[u8],
    ) -> Result<(), StoreError> {
        validate_envelope(party, envelope)?;
        let mut map = self.lock();
        let envelopes = live_envelopes(&mut map, cert_id)?;
        if envelopes.contains_key(party) {
            return Err(StoreError::DuplicateRecipient(cert_id));
        }
        self.sync()?;
        envelopes.insert(party.to_owned(), envelope.to_vec());
        Ok(())
    }

    fn remove_envelope(&self, cert_id: CertId, party: &str) -> Result<bool, StoreError> {
        validate_party(party)?;
        let mut map = self.lock();
        let envelopes = live_envelopes(&mut map, cert_id)?;
        if !envelopes.contains_key(party) {
            return Ok(false);
        }
        self.sync()?;
        envelopes.remove(party);
        Ok(true)
    }

    fn purge(&self, cert_id: CertId) -> Result<(), StoreError> {
        let mut map = self.lock();
        live_envelopes(&mut map, cert_id)?;
        self.sync()?;
        map.insert(cert_id, Entry::Purged);
        Ok(())
    }

    fn get_ciphertext(&self, cert_id: CertId) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(match self.lock().get(&cert_id) {
            Some(Entry::Live { ciphertext, .. }) => Some(ciphertext.clone()),
            _ => None,
        })
    }

    fn get_envelope(&self, cert_id: CertId, party: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(match self.lock().get(&cert_id) {
            Some(Entry::Live { envelopes, .. }) => envelopes.get(party).cloned(),
            _ => None,
        })
    }

    fn list_recipients(&self, cert_id: CertId) -> Result<Vec<String>, StoreError> {
        Ok(match self.lock().get(&cert_id) {
            Some(Entry::Live { envelopes, .. }) => envelopes.keys().cloned().collect(),
            _ => Vec::new(),
        })
    }

    fn list_ids(&self, after: Option<CertId>, limit: usize) -> Result<Vec<StoredId>, StoreError> {
        let map = self.lock();
        let mut ids: Vec<StoredId> = map
            .iter()
            .filter(|(id, _)| after.is_none_or(|a| **id > a))
            .map(|(id, entry)| StoredId {
                cert_id: *id,
                purged: matches!(entry, Entry::Purged),
            })
            .collect();
        ids.sort_by_key(|s| s.cert_id);
        ids.truncate(limit);
        Ok(ids)
    }
}
