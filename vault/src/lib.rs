//! vault
//!
//! The public interface is:
pub use store::{
    FsVaultStore, HexId, MAX_ENVELOPE_LEN, MAX_PARTY_LEN, MemoryVaultStore, NewCertificate,
    StoreError, VaultStore,
};

mod store;
