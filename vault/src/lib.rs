//! tradeledger's vault: client-side sealing and opening of certificate bodies, per-recipient HPKE
//! envelopes, salted field commitments with selective disclosure, grant commitments and party keys,
//! and the keyless encrypted store that keeps ciphertexts and envelopes on the server.
//!
//! The public interface is:
pub use canonical::canonical_json;
pub use certificate::{
    Opened, Sealed, SealedEnvelope, open_certificate, rewrap_for, seal_certificate,
};
pub use commit::{DocumentCommitment, MasterSalt, commit};
pub use disclosure::{DisclosedField, Disclosure};
pub use envelope::{ENVELOPE_LEN, ENVELOPE_VERSION, unwrap, wrap};
pub use error::{Error, Result};
pub use grant::{GrantSalt, grant_commitment};
pub use keys::{PartyKeys, PartyPublic};
/// The PostgreSQL pool and migrations, shared with the log (re-exported from the ledger crate).
pub use ledger::pg::{
    Migration as PgMigration, PgConnection, PgPool, db_error as pg_error, migrate as pg_migrate,
};
/// Identifiers shared with the log (re-exported from the ledger crate).
pub use ledger::{CertId, PartyId, Role};
pub use seal::{BODY_VERSION, DataKey, MIN_BODY_CIPHERTEXT_LEN, OpenedBody, open_body, seal_body};
pub use store::{
    BlobStore, FsVaultStore, MAX_ENVELOPE_LEN, MAX_PARTY_LEN, MemoryBlobStore, MemoryVaultStore,
    NewCertificate, PgVaultStore, StoreError, StoredId, VaultStore,
};

mod canonical;
mod certificate;
mod commit;
mod disclosure;
mod envelope;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod grant;
mod keys;
mod seal;
mod store;
