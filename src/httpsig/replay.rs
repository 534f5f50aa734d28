//! The replay guard: remembers every (party, nonce) accepted within the clock-skew window, in bounded memory
//! divided fairly among parties, and hands the nonces that must outlive a restart to a durable journal, or every
//! nonce to a store shared by all frontends of a deployment.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use sha2::{Digest as _, Sha256};

use super::SigError;

const SHARDS: usize = 16;

/// Limits of a [`ReplayGuard`] and the clock-skew window of [`verify_request`](super::verify_request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayConfig {
    /// A request is accepted only if `|now - created| <= max_skew_secs`. A nonce is remembered until
    /// `created + max_skew_secs`, after which the request is stale anyway. Default 300.
    pub max_skew_secs: u64,
    /// Most nonces remembered for one party; beyond it that party's requests are refused until old ones expire.
    /// This bounds one party's sustained rate to about `max_entries_per_party / max_skew_secs` requests/s.
    /// Default 1,000,000. A party's share of `max_entries_total` (see [`ReplayGuard::set_party_count`]) may
    /// bound it lower.
    pub max_entries_per_party: usize,
    /// Most nonces remembered overall (about 50 bytes each). Default 4,000,000.
    pub max_entries_total: usize,
}

impl Default for ReplayConfig {
    fn default() -> Self {
        Self {
            max_skew_secs: 300,
            max_entries_per_party: 1_000_000,
            max_entries_total: 4_000_000,
        }
    }
}

/// Remembers accepted (party, nonce) pairs until they can no longer be replayed; thread-safe (`&self`).
///
/// Under memory pressure it refuses new requests rather than forgetting a nonce that is still inside the
/// window. Each party may hold at most its share of the memory, `max_entries_total / parties` (and never more
/// than `max_entries_per_party`): a party over its share is refused alone ([`SigError::ReplayQuotaExceeded`]),
/// and since the shares add up to the total, no party can fill the memory for the others
/// ([`SigError::ReplayCacheFull`] then only follows a change of the party count). Nonces are kept as 128-bit
/// SHA-256 prefixes, per party, sharded by party so concurrent requests of different parties rarely contend.
///
/// A request dated ahead of the clock outlives the restart floor ([`ReplayGuard::refuse_created_before`]); with
/// a [`NonceJournal`] its nonce is recorded durably before the request is accepted.
pub struct ReplayGuard {
    config: ReplayConfig,
    hasher: RandomState,
    shards: Vec<Mutex<HashMap<String, PartyNonces>>>,
    total: AtomicUsize,
    last_sweep: AtomicU64,
    not_before: u64,
    /// Parties that may sign requests, among which the memory is shared; 0 until told (then: one share).
    parties: AtomicUsize,
    journal: Option<Box<dyn NonceJournal>>,
    shared: Option<Box<dyn SharedNonceStore>>,
}

/// Durable memory for the nonces of requests dated ahead of the server clock: the only ones a restart's floor
/// does not refuse by itself.
pub trait NonceJournal: Send + Sync {
    /// Records that `party` used the nonce whose key is `nonce` (see [`nonce_key`]) on a request created at
    /// `created`; returns only once that is durable. A failure refuses the request.
    fn record(&self, party: &str, nonce: &[u8; 16], created: u64) -> std::io::Result<()>;
}

/// Accepted nonces shared by every frontend of a deployment (PostgreSQL under `serve --postgres`): a nonce
/// claimed through one frontend is refused by all of them, restarts included.
pub trait SharedNonceStore: Send + Sync {
    /// Claims `party`'s nonce key `nonce` (see [`nonce_key`]) until `expires` (Unix seconds). Returns `Ok(false)`
    /// if it is already claimed, through any frontend, and that claim has not expired at `now`; returns `Ok(true)`
    /// only once the claim is durable. Blocking. A failure refuses the request.
    fn claim(&self, party: &str, nonce: &[u8; 16], expires: u64, now: u64)
    -> std::io::Result<bool>;
}

/// The 128-bit key under which a nonce is remembered (and journalled): the first 16 bytes of its SHA-256.
pub fn nonce_key(nonce: &str) -> [u8; 16] {
    let digest = Sha256::digest(nonce.as_bytes());
    let mut key = [0u8; 16];
    key.copy_from_slice(&digest[..16]);
    key
}

#[derive(Default)]
struct PartyNonces {
    seen: HashSet<[u8; 16]>,
    /// Nonces by the second after which they expire.
    by_expiry: BTreeMap<u64, Vec<[u8; 16]>>,
}

impl PartyNonces {
    /// Drops nonces whose expiry is before `now`; returns how many.
    fn expire(&mut self, now: u64) -> usize {
        let mut removed = 0;
        while let Some(entry) = self.by_expiry.first_entry() {
            if *entry.key() >= now {
                break;
            }
            for nonce in entry.remove() {
                if self.seen.remove(&nonce) {
                    removed += 1;
                }
            }
        }
        removed
    }
}

impl std::fmt::Debug for ReplayGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayGuard")
            .field("config", &self.config)
            .field("entries", &self.len())
            .finish_non_exhaustive()
    }
}

impl Default for ReplayGuard {
    fn default() -> Self {
        Self::new(ReplayConfig::default())
    }
}

impl ReplayGuard {
    /// A guard with these limits.
    pub fn new(config: ReplayConfig) -> Self {
        Self {
            config,
            hasher: RandomState::new(),
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            total: AtomicUsize::new(0),
            last_sweep: AtomicU64::new(0),
            not_before: 0,
            parties: AtomicUsize::new(0),
            journal: None,
            shared: None,
        }
    }

    /// Records the nonces of requests dated ahead of the clock in `journal` before accepting them.
    #[must_use]
    pub fn with_journal(mut self, journal: Box<dyn NonceJournal>) -> Self {
        self.journal = Some(journal);
        self
    }

    /// Claims every accepted nonce in `store` too, after the in-memory checks: what another frontend accepted is
    /// refused here. (The in-memory guard still bounds each party's share on this frontend.)
    #[must_use]
    pub fn with_shared_store(mut self, store: Box<dyn SharedNonceStore>) -> Self {
        self.shared = Some(store);
        self
    }

    /// Tells the guard how many parties may sign requests (the enrolled parties): each may hold
    /// `max_entries_total / parties` nonces. Call again whenever the number changes.
    pub fn set_party_count(&self, parties: usize) {
        self.parties.store(parties, Ordering::Relaxed);
    }

    /// The most nonces one party may hold now.
    fn party_quota(&self) -> usize {
        let parties = self.parties.load(Ordering::Relaxed).max(1);
        (self.config.max_entries_total / parties).min(self.config.max_entries_per_party)
    }

    /// Remembers a nonce accepted before a restart (read back from the journal), without quota checks: it was
    /// within them when it was accepted. Expired ones are ignored.
    pub fn restore(&self, party: &str, nonce: [u8; 16], created: u64, now: u64) {
        let expiry = created.saturating_add(self.config.max_skew_secs);
        if expiry < now {
            return;
        }
        let mut shard = self.shard(party);
        let entry = shard.entry(party.to_owned()).or_default();
        if entry.seen.insert(nonce) {
            entry.by_expiry.entry(expiry).or_default().push(nonce);
            self.total.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Refuses, as stale, every request created before `unix_secs`.
    ///
    /// The guard lives in memory: a server that restarts forgets the nonces of the last window, so it should build
    /// its guard with `refuse_created_before(start time)`; then nothing signed before the restart is accepted
    /// after it, and nothing can be replayed across it.
    #[must_use]
    pub fn refuse_created_before(mut self, unix_secs: u64) -> Self {
        self.not_before = unix_secs;
        self
    }

    /// True if a request created at `created` is acceptable at `now`: within the skew window and not older than
    /// the guard's floor.
    pub(crate) fn is_fresh(&self, created: u64, now: u64) -> bool {
        created >= self.not_before && now.abs_diff(created) <= self.config.max_skew_secs
    }

    /// The limits this guard enforces.
    pub fn config(&self) -> &ReplayConfig {
        &self.config
    }

    /// How many nonces are remembered now.
    pub fn len(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// True if no nonce is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn shard(&self, party: &str) -> MutexGuard<'_, HashMap<String, PartyNonces>> {
        let h = self.hasher.hash_one(party);
        let index = usize::try_from(h % SHARDS as u64).unwrap_or(0);
        // A panic while holding the lock cannot leave a half-updated entry behind (every update is a single
        // insert or remove), so a poisoned lock is safe to keep using.
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Records `(party, nonce)` for a request created at `created`; refuses it if already recorded.
    ///
    /// Call only after the request's signature verified, so that forged requests cannot fill the cache. A request
    /// dated after `now` is journalled (durably) before this returns `Ok`.
    pub(crate) fn check_and_insert(
        &self,
        party: &str,
        nonce: &str,
        created: u64,
        now: u64,
    ) -> Result<(), SigError> {
        self.maybe_sweep(now);
        let key = nonce_key(nonce);
        let expiry = created.saturating_add(self.config.max_skew_secs);
        let mut shard = self.shard(party);
        let entry = shard.entry(party.to_owned()).or_default();
        let removed = entry.expire(now);
        self.total.fetch_sub(removed, Ordering::Relaxed);
        if entry.seen.contains(&key) {
            return Err(SigError::ReplayedRequest);
        }
        if entry.seen.len() >= self.party_quota() {
            return Err(SigError::ReplayQuotaExceeded);
        }
        if self.total.load(Ordering::Relaxed) >= self.config.max_entries_total {
            drop(shard);
            self.sweep(now);
            shard = self.shard(party);
            if self.total.load(Ordering::Relaxed) >= self.config.max_entries_total {
                return Err(SigError::ReplayCacheFull);
            }
        }
        let entry = shard.entry(party.to_owned()).or_default();
        // Re-check: the lock was released during the sweep, and another thread may have recorded the nonce.
        if !entry.seen.insert(key) {
            return Err(SigError::ReplayedRequest);
        }
        entry.by_expiry.entry(expiry).or_default().push(key);
        self.total.fetch_add(1, Ordering::Relaxed);
        drop(shard);
        // Nothing created at or before `now` can be accepted after a restart (the floor is a later second), so
        // only these need durable memory. The nonce stays in memory if the journal fails: the request is
        // refused, and refusing its replay as well is harmless.
        if let Some(shared) = &self.shared {
            match shared.claim(party, &key, expiry, now) {
                Ok(true) => {}
                Ok(false) => return Err(SigError::ReplayedRequest),
                Err(e) => {
                    tracing::error!(error = %e, "cannot claim a request nonce in the shared store");
                    return Err(SigError::ReplayNotRecorded);
                }
            }
        }
        if created > now
            && let Some(journal) = &self.journal
        {
            journal.record(party, &key, created).map_err(|e| {
                tracing::error!(error = %e, "cannot journal a request nonce");
                SigError::ReplayNotRecorded
            })?;
        }
        Ok(())
    }

    /// Sweeps every party once per window, so that parties that went quiet release their memory.
    fn maybe_sweep(&self, now: u64) {
        let last = self.last_sweep.load(Ordering::Relaxed);
        if now > last.saturating_add(self.config.max_skew_secs)
            && self
                .last_sweep
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.sweep(now);
        }
    }

    /// Drops every expired nonce, and parties left with none.
    fn sweep(&self, now: u64) {
        for shard in &self.shards {
            let mut shard = shard.lock().unwrap_or_else(PoisonError::into_inner);
            let mut removed = 0;
            shard.retain(|_, nonces| {
                removed += nonces.expire(now);
                !nonces.seen.is_empty()
            });
            self.total.fetch_sub(removed, Ordering::Relaxed);
        }
    }
}
