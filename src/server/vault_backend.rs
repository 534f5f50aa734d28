//! The vault the service runs on: the embedded store in `DATA/vault`, or PostgreSQL (`serve --postgres`). One
//! type for both, so handlers call the `VaultStore` contract and never care which.

use ledger::CertId;
use vault::{FsVaultStore, NewCertificate, PgVaultStore, StoreError, StoredId, VaultStore};

/// Either vault backend; both keep the same `VaultStore` contract (vault/tests/store.rs runs it on both).
pub enum VaultBackend {
    /// The embedded store in the data directory.
    Fs(Box<FsVaultStore>),
    /// A PostgreSQL database shared by every frontend.
    Pg(PgVaultStore),
}

impl VaultBackend {
    /// Deletes the bucket blobs of registrations that never committed (a frontend died between its PUTs and
    /// its commit), older than `grace`; nothing to do without blobs in a bucket. Returns how many.
    pub fn sweep_orphan_blobs(&self, grace: std::time::Duration) -> Result<u64, StoreError> {
        match self {
            VaultBackend::Fs(_) => Ok(0),
            VaultBackend::Pg(store) => store.sweep_orphan_blobs(grace),
        }
    }

    fn store(&self) -> &dyn VaultStore {
        match self {
            VaultBackend::Fs(store) => &**store,
            VaultBackend::Pg(store) => store,
        }
    }
}

impl VaultStore for VaultBackend {
    fn put_certificates(&self, certs: &[NewCertificate<'_>]) -> Result<(), StoreError> {
        self.store().put_certificates(certs)
    }

    fn add_envelope(
        &self,
        cert_id: CertId,
        party: &str,
        envelope: &[u8],
    ) -> Result<(), StoreError> {
        self.store().add_envelope(cert_id, party, envelope)
    }

    fn remove_envelope(&self, cert_id: CertId, party: &str) -> Result<bool, StoreError> {
        self.store().remove_envelope(cert_id, party)
    }

    fn purge(&self, cert_id: CertId) -> Result<(), StoreError> {
        self.store().purge(cert_id)
    }

    fn get_ciphertext(&self, cert_id: CertId) -> Result<Option<Vec<u8>>, StoreError> {
        self.store().get_ciphertext(cert_id)
    }

    fn get_envelope(&self, cert_id: CertId, party: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store().get_envelope(cert_id, party)
    }

    fn list_recipients(&self, cert_id: CertId) -> Result<Vec<String>, StoreError> {
        self.store().list_recipients(cert_id)
    }

    fn list_ids(&self, after: Option<CertId>, limit: usize) -> Result<Vec<StoredId>, StoreError> {
        self.store().list_ids(after, limit)
    }

    fn put_purged(&self, cert_id: CertId) -> Result<(), StoreError> {
        self.store().put_purged(cert_id)
    }
}
