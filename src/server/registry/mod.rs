//! The service's index of the log: enrolled parties and registered certificates.
//!
//! Everything here is derived from log entries. It lives in a store ([`RegistryStore`]: redb in
//! `DATA/registry/registry.redb`, or PostgreSQL shared by every frontend) as facts keyed by entry index, with a watermark
//! below which every entry is applied; a start reads the watermark and the parties and catches up from there
//! (`super::follow`), instead of replaying the whole log. Entries are applied strictly in index order: this
//! frontend's view ([`Registry::applied`]) never skips one, and it hides what the store holds at or past it
//! (facts another frontend applied further on), so what a request reads is exactly the log's first
//! `applied` entries. Which party holds which grant lives in the vault beside each envelope.

mod parties;
mod pg_store;
mod redb_store;
mod redb_tables;
mod sled_leftovers;
mod store;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, RwLock, RwLockReadGuard};

use ledger::{CertId, Entry, PartyId, Role, SignedEntry};

pub(crate) use pg_store::PgRegistry;
pub(crate) use redb_store::RedbRegistry;
pub(crate) use store::{Fact, RegistryError, RegistryStore};

use super::error::ApiError;

/// What the service knows of an enrolled party.
#[derive(Debug, Clone)]
pub struct Party {
    /// The party's role.
    pub role: Role,
    /// Its Ed25519 request- and entry-signing key.
    pub signing_key: ed25519_dalek::VerifyingKey,
    /// Index of its current enrollment entry (a first enrollment or its latest rotation).
    pub enrollment_index: u64,
    /// Indexes of its earlier enrollment entries, oldest first: the chain a client checks after a rotation.
    pub previous_enrollments: Vec<u64>,
    /// Signing keys it rotated away from: never accepted again, so a rotation consent cannot be replayed.
    pub retired_keys: Vec<[u8; 32]>,
    /// Indexes of further first enrollments of the same id found on the log (left by a server that let two
    /// enrollments race). Never applied: the first enrollment's keys stay; clients refuse such a party.
    pub conflicting_enrollments: Vec<u64>,
}

/// What the service knows of a registered certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Certificate {
    /// The registering party, the only one that may grant, revoke and purge.
    pub registrant: PartyId,
    /// Index of the registration entry.
    pub registration_index: u64,
    /// Whether the body was purged.
    pub purged: bool,
    /// When it was registered (the registration entry's time), in milliseconds since the Unix epoch.
    pub registered_ms: u64,
}

/// Parties (in memory) and certificates (in the store), as of the log's first [`Registry::applied`] entries.
pub struct Registry {
    store: Box<dyn RegistryStore>,
    view: RwLock<View>,
    /// Held by whoever applies entries: one chunk at a time, in index order.
    applying: Mutex<()>,
}

/// What this frontend has applied.
struct View {
    parties: HashMap<PartyId, Party>,
    /// Entries `[0, applied)` of the log are applied, and no other.
    applied: u64,
}

impl Registry {
    /// Opens the registry over `store`: reads its watermark, then folds the enrollments and rotations below it
    /// into the parties, each first checked by `in_log` to be the log's entry at its index (the keys that
    /// authenticate every request are taken from the log, not from a store someone may have edited). Nothing
    /// here grows with the number of certificates.
    pub(crate) fn open(
        store: Box<dyn RegistryStore>,
        in_log: impl Fn(u64, &[u8]) -> Result<bool, RegistryError>,
    ) -> Result<Registry, RegistryError> {
        let applied = store.watermark()?;
        let mut parties = HashMap::new();
        for (index, bytes) in store.party_entries()? {
            // Another frontend may have applied further since the watermark was read.
            if index >= applied {
                break;
            }
            if !in_log(index, &bytes)? {
                return Err(RegistryError::Damaged(format!(
                    "the party entry at index {index} is not the log's"
                )));
            }
            let entry = SignedEntry::decode(&bytes)
                .map_err(|_| RegistryError::Damaged(format!("the party entry at index {index}")))?;
            parties::apply(&mut parties, index, &entry);
        }
        Ok(Registry {
            store,
            view: RwLock::new(View { parties, applied }),
            applying: Mutex::new(()),
        })
    }

    /// The view; never left half-changed by a panic (its writers cannot panic), so poisoning is ignored.
    fn view(&self) -> RwLockReadGuard<'_, View> {
        self.view.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// A party by id.
    pub fn party(&self, id: &PartyId) -> Option<Party> {
        self.view().parties.get(id).cloned()
    }

    /// A party's current signing key.
    pub fn signing_key(&self, id: &PartyId) -> Option<ed25519_dalek::VerifyingKey> {
        self.view().parties.get(id).map(|p| p.signing_key)
    }

    /// Number of enrolled parties.
    pub fn party_count(&self) -> usize {
        self.view().parties.len()
    }

    /// How many leading entries of the log are applied: the index of the next one to apply.
    pub fn applied(&self) -> u64 {
        self.view().applied
    }

    /// A certificate by id, as of the applied entries.
    pub(crate) fn certificate(&self, id: &CertId) -> Result<Option<Certificate>, RegistryError> {
        let applied = self.applied();
        Ok(self
            .store
            .certificate(id)?
            .filter(|c| c.registration_index < applied)
            .map(|c| Certificate {
                registrant: c.registrant,
                registration_index: c.registration_index,
                purged: c.purged_index.is_some_and(|p| p < applied),
                registered_ms: c.registered_ms,
            }))
    }

    /// The indexes of a certificate's access receipts, in log order; `None` if there is no such certificate.
    pub(crate) fn receipts(&self, id: &CertId) -> Result<Option<Vec<u64>>, RegistryError> {
        let applied = self.applied();
        let registered = self
            .store
            .certificate(id)?
            .is_some_and(|c| c.registration_index < applied);
        if !registered {
            return Ok(None);
        }
        let mut receipts = self.store.receipts(id)?;
        receipts.retain(|&index| index < applied);
        Ok(Some(receipts))
    }

    /// At most `limit` certificates whose body is still held and that were registered before `cutoff_ms`,
    /// oldest first (the store's index by time: no scan of every certificate).
    pub(crate) fn expired(
        &self,
        cutoff_ms: u64,
        limit: usize,
    ) -> Result<Vec<CertId>, RegistryError> {
        let applied = self.applied();
        Ok(self
            .store
            .held_before(cutoff_ms, limit)?
            .into_iter()
            .filter(|&(_, index)| index < applied)
            .map(|(id, _)| id)
            .collect())
    }

    /// Applies the entries at `from..from + entries.len()` that are not applied yet, in one call of the store,
    /// then in this frontend's view. Returns `false` (and applies nothing) if entries before `from` are
    /// missing: they must be applied first.
    pub(crate) fn apply(&self, from: u64, entries: &[&SignedEntry]) -> Result<bool, RegistryError> {
        let _applying = self.applying.lock().unwrap_or_else(PoisonError::into_inner);
        let applied = self.applied();
        let len = u64::try_from(entries.len()).unwrap_or(u64::MAX);
        let end = from.saturating_add(len);
        if from > applied {
            return Ok(false);
        }
        if end <= applied {
            return Ok(true);
        }
        // Entries below `applied` were applied by another thread meanwhile.
        let skip = usize::try_from(applied - from).unwrap_or(usize::MAX);
        let fresh = entries.get(skip..).unwrap_or_default();
        let facts: Vec<Fact> = (applied..)
            .zip(fresh)
            .flat_map(|(index, entry)| facts(index, entry))
            .collect();
        self.store.apply(&facts, end)?;
        let mut view = self.view.write().unwrap_or_else(PoisonError::into_inner);
        for (index, entry) in (applied..).zip(fresh) {
            parties::apply(&mut view.parties, index, entry);
        }
        view.applied = end;
        Ok(true)
    }

    /// Writes out what the store holds in memory (at a clean shutdown).
    pub(crate) fn flush(&self) -> Result<(), RegistryError> {
        self.store.flush()
    }
}

/// What the entry at `index` contributes to the registry: nothing, one fact, or (an access receipt of kind
/// 0x09, listing several releases) one receipt per release, each naming the entry's index.
fn facts(index: u64, entry: &SignedEntry) -> Vec<Fact> {
    match entry.entry() {
        Entry::Enrollment { .. } | Entry::Rotation { .. } => vec![Fact::Party {
            index,
            entry: entry.encode(),
        }],
        Entry::Registration {
            cert_id, time_ms, ..
        } => vec![Fact::Registered {
            cert_id: *cert_id,
            registrant: entry.signer().clone(),
            index,
            time_ms: *time_ms,
        }],
        Entry::Purge { cert_id, .. } => vec![Fact::Purged {
            cert_id: *cert_id,
            index,
        }],
        Entry::AccessReceipt { .. } | Entry::AccessReceipts { .. } => entry
            .entry()
            .releases()
            .into_iter()
            .map(|release| Fact::Receipt {
                cert_id: release.cert_id,
                index,
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl From<RegistryError> for ApiError {
    fn from(error: RegistryError) -> ApiError {
        tracing::error!(error = %error, "the registry store failed");
        match error {
            RegistryError::Unavailable(_) => ApiError::unavailable(),
            RegistryError::Damaged(_) => ApiError::internal(),
        }
    }
}
