//! tradeledger's verifiable append-only log.
//!
//! The public interface is:
pub use checkpoint::{Checkpoint, open_checkpoint, sign_checkpoint};
pub use entry::{
    ENTRY_SIGNATURE_DOMAIN, ENTRY_VERSION, Entry, MAX_ENTRY_SIZE, MAX_GRANTS, SignedEntry,
};
pub use error::Error;
pub use ids::{CertId, MAX_PARTY_ID_LEN, PartyId, Role};
pub use merkle::{
    Hash, MemoryTree, NodeSource, consistency_proof, empty_root, inclusion_proof, leaf_hash,
    node_hash, tree_root, verify_consistency, verify_inclusion,
};
pub use note::{
    MAX_SIGNATURES, Note, NoteSignature, NoteSigner, NoteVerifier, open_note, sign_note,
};

mod checkpoint;
mod entry;
mod error;
mod ids;
mod merkle;
mod note;
