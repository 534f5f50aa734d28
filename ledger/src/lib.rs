//! tradeledger's verifiable append-only log.
//!
//! The public interface is:
pub use cosignature::{
    COSIGNATURE_TYPE, Cosignature, CosignatureSigner, CosignatureVerifier, cosigned_message,
    unix_now,
};
pub use error::Error;
pub use merkle::{
    Hash, MemoryTree, NodeSource, consistency_proof, empty_root, inclusion_proof, leaf_hash,
    node_hash, tree_root, verify_consistency, verify_inclusion,
};

mod cosignature;
mod error;
mod merkle;
