//! tradeledger's verifiable append-only log.
//!
//! The public interface is:
pub use checkpoint::{Checkpoint, open_checkpoint, sign_checkpoint};
pub use error::Error;
pub use merkle::{
    Hash, MemoryTree, NodeSource, consistency_proof, empty_root, inclusion_proof, leaf_hash,
    node_hash, tree_root, verify_consistency, verify_inclusion,
};

pub use note::{
    MAX_SIGNATURES, Note, NoteSignature, NoteSigner, NoteVerifier, open_note, sign_note,
};

mod checkpoint;
mod error;
mod merkle;
mod note;

// Witnesses: C2SP tlog-cosignature, tlog-policy and tlog-proof.
pub use cosignature::{
    COSIGNATURE_TYPE, Cosignature, CosignatureSigner, CosignatureVerifier, cosigned_message,
    unix_now,
};
pub use policy::{MAX_POLICY_ITEMS, Policy, PolicyLog, PolicyWitness};
pub use tlog_proof::{
    CONSISTENCY_HEADER, ConsistencyExtension, TLOG_PROOF_HEADER, TlogProof, verify_tlog_proof,
};

mod cosignature;
mod policy;
mod tlog_proof;
