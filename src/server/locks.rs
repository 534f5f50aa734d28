//! Critical sections for the decisions that read state: per certificate (grant, revoke, purge, re-wrap, release)
//! and for the party registry (enrollment, rotation).
//!
//! A decision (the Cedar policies, the registry, the vault's recipients) and the change it allows (the vault
//! write and the log append) must not interleave with another decision about the same certificate or party: two
//! revocations that each saw two customs readers both passed the "keep a customs reader" rule, and two
//! enrollments of one party id that each saw none both passed "already enrolled". The handlers hold one of these
//! locks from the first read of that state until the entry is durable on the log and applied to the registry.
//!
//! Registrations take none: a new certificate id cannot be acted on until its registration is applied, and two
//! registrations of one id are settled by the vault (`AlreadyExists`), so the batched pipeline stays unlocked.
//! Locks are taken only on the blocking pool, and always before the registry's own lock, never after it.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::sync::{Mutex, MutexGuard, PoisonError};

use ledger::CertId;

/// Number of certificate stripes: enough that unrelated certificates rarely wait for each other.
const STRIPES: usize = 256;

/// The service's critical sections.
pub(super) struct Locks {
    /// Striped by a keyed hash of the certificate id, so a client cannot choose ids that all fall on the stripe
    /// of someone else's certificate.
    certificates: Vec<Mutex<()>>,
    hasher: RandomState,
    /// Enrollments and rotations: rare, operator-only, so one lock for all parties.
    parties: Mutex<()>,
}

impl Default for Locks {
    fn default() -> Self {
        Locks {
            certificates: (0..STRIPES).map(|_| Mutex::new(())).collect(),
            hasher: RandomState::new(),
            parties: Mutex::new(()),
        }
    }
}

impl Locks {
    /// Holds every decision about `cert_id` until dropped.
    pub(super) fn certificate(&self, cert_id: &CertId) -> MutexGuard<'_, ()> {
        let hash = self.hasher.hash_one(cert_id.as_bytes());
        // `hash % STRIPES` is below STRIPES, the length of `certificates`.
        let stripe = usize::try_from(hash % STRIPES as u64).unwrap_or(0);
        // The lock guards no data of its own: a panic while holding it leaves nothing half-updated here.
        self.certificates[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Holds every enrollment and rotation until dropped.
    pub(super) fn parties(&self) -> MutexGuard<'_, ()> {
        self.parties.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_certificate_is_one_critical_section() {
        let locks = Locks::default();
        let id = CertId::random();
        let held = locks.certificate(&id);
        // Another certificate is usually on another stripe; the same one never is.
        assert!(locks.certificates.iter().any(|l| l.try_lock().is_err()));
        drop(held);
        assert!(locks.certificates.iter().all(|l| l.try_lock().is_ok()));
    }
}
