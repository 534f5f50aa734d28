//! tradeledger's verifiable append-only log.
//!
//! The public interface is:
pub use error::Error;
pub use log::Log;
pub use merkle::{
    Hash, MemoryTree, NodeSource, consistency_proof, empty_root, inclusion_proof, leaf_hash,
    node_hash, tree_root, verify_consistency, verify_inclusion,
};
pub use note::{
    MAX_SIGNATURES, Note, NoteSignature, NoteSigner, NoteVerifier, open_note, sign_note,
};
pub use store::{Batch, Fault, FsStore, MemoryStore, Store};
pub use tiles::{
    MAX_ENTRY_LEN, TILE_HEIGHT, TILE_WIDTH, decode_bundle, encode_bundle, level_count, tile_path,
};

mod error;
mod log;
mod merkle;
mod note;
mod store;
mod tiles;
