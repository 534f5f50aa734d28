//! tradeledger's verifiable append-only log.
//!
//! The public interface is:
pub use merkle::{Hash, empty_root, leaf_hash, node_hash};

mod merkle;
