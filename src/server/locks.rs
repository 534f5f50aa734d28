//! Critical sections for the decisions that read state: per certificate (grant, revoke, purge, re-wrap, release)
//! and for the party registry (enrollment, rotation).
//!
//! A decision (the Cedar policies, the registry, the vault's recipients) and the change it allows (the vault
//! write and the log append) must not interleave with another decision about the same certificate or party: two
//! revocations that each saw two customs readers both passed the "keep a customs reader" rule, and two
//! enrollments of one party id that each saw none both passed "already enrolled". The handlers hold one of these
//! locks from the first read of that state until the entry is durable on the log and applied to the registry.
//!
//! With the embedded store these are mutexes of this process. With `serve --postgres` several frontends decide
//! about the same certificates, so they are PostgreSQL advisory locks ([`super::pg_locks`]), and the holder
//! catches the registry up with the shared log before it reads it ([`super::state::AppState::decide_on`]).
//!
//! Registrations take none: a new certificate id cannot be acted on until its registration is applied, and two
//! registrations of one id are settled by the vault (`AlreadyExists`), so the batched pipeline stays unlocked.
//! Locks are taken only on the blocking pool, and always before the registry's own lock, never after it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ledger::CertId;

use super::error::ApiError;
use super::pg_locks::{PgLockHeld, PgLocks};

/// Number of certificate stripes: enough that unrelated certificates rarely wait for each other.
const STRIPES: usize = 256;

/// The service's critical sections: this process's own, or shared by every frontend of one database.
pub(super) enum Locks {
    /// One process decides alone (the embedded store).
    Local(LocalLocks),
    /// Every frontend on the database takes the same locks.
    Shared(PgLocks),
}

/// A critical section, held until dropped.
#[must_use = "the critical section ends when this is dropped"]
pub(super) enum Held<'a> {
    /// A mutex of this process.
    Local(#[allow(dead_code)] MutexGuard<'a, ()>),
    /// An advisory lock held by a transaction on a pooled connection.
    Shared(#[allow(dead_code)] Box<PgLockHeld>),
}

impl Default for Locks {
    fn default() -> Self {
        Locks::Local(LocalLocks::default())
    }
}

impl Locks {
    /// Holds every decision about `cert_id` until dropped; 503 if it cannot be had in bounded time.
    pub(super) fn certificate(&self, cert_id: &CertId) -> Result<Held<'_>, ApiError> {
        match self {
            Locks::Local(local) => Ok(Held::Local(local.certificate(cert_id))),
            Locks::Shared(pg) => pg.certificate(cert_id).map(|h| Held::Shared(Box::new(h))),
        }
    }

    /// Holds every enrollment and rotation until dropped; 503 if it cannot be had in bounded time.
    pub(super) fn parties(&self) -> Result<Held<'_>, ApiError> {
        match self {
            Locks::Local(local) => Ok(Held::Local(local.parties())),
            Locks::Shared(pg) => pg.parties().map(|h| Held::Shared(Box::new(h))),
        }
    }
}

/// The in-process locks.
pub(super) struct LocalLocks {
    /// Striped by a keyed hash of the certificate id, so a client cannot choose ids that all fall on the stripe
    /// of someone else's certificate.
    certificates: Vec<Mutex<()>>,
    hasher: RandomState,
    /// Enrollments and rotations: rare, operator-only, so one lock for all parties.
    parties: Mutex<()>,
}

impl Default for LocalLocks {
    fn default() -> Self {
        LocalLocks {
            certificates: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
            parties: Mutex::new(()),
        }
    }
}

impl LocalLocks {
    fn certificate(&self, cert_id: &CertId) -> MutexGuard<'_, ()> {
        let hash = self.hasher.hash_one(cert_id.as_bytes());
        // `hash % STRIPES` is below STRIPES, the length of `certificates`.
        let stripe = usize::try_from(hash % STRIPES as u64).unwrap_or(0);
        // The lock guards no data of its own: a panic while holding it leaves nothing half-updated here.
        self.certificates[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn parties(&self) -> MutexGuard<'_, ()> {
        self.parties.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_certificate_is_one_critical_section() {
        let locks = LocalLocks::default();
        let id = CertId::random();
        let held = locks.certificate(&id);
        // Another certificate is usually on another stripe; the same one never is.
        assert!(locks.certificates.iter().any(|l| l.try_lock().is_err()));
        drop(held);
        assert!(locks.certificates.iter().all(|l| l.try_lock().is_ok()));
    }
}
