//! tradeledger's verifiable append-only log.
//!
//! ```
//! use ledger::{MemoryTree, leaf_hash, verify_consistency, verify_inclusion};
//!
//! let tree: MemoryTree = (0u8..10).map(|i| leaf_hash(&[i])).collect();
//! let proof = tree.inclusion_proof(3, 10)?;
//! verify_inclusion(&leaf_hash(&[3]), 3, 10, &proof, &tree.root())?;
//! let proof = tree.consistency_proof(7, 10)?;
//! verify_consistency(7, 10, &proof, &tree.root_at(7)?, &tree.root())?;
//! # Ok::<(), ledger::Error>(())
//! ```
//!
//! Formats are specified in docs/formats.md ("Ledger formats"). The public interface is:
pub use checkpoint::{Checkpoint, open_checkpoint, sign_checkpoint};
pub use entry::{
    ENTRY_SIGNATURE_DOMAIN, ENTRY_VERSION, Entry, MAX_ENTRY_SIZE, MAX_GRANTS, MAX_RELEASES,
    ROTATION_CONSENT_DOMAIN, Release, SignedEntry, rotation_consent_message,
};
pub use error::Error;
pub use ids::{CertId, MAX_PARTY_ID_LEN, PartyId, Role};
pub use log::{Appending, Log};
pub use merkle::{
    Hash, MemoryTree, NodeSource, consistency_proof, empty_root, inclusion_proof, leaf_hash,
    node_hash, tree_root, verify_consistency, verify_inclusion,
};
pub use note::{
    MAX_SIGNATURES, Note, NoteSignature, NoteSigner, NoteVerifier, open_note, sign_note,
};
pub use store::{Batch, Fault, FsStore, MemoryStore, PgStore, Rebuilt, Store, Tail};
pub use tiles::{
    MAX_ENTRY_LEN, TILE_HEIGHT, TILE_WIDTH, decode_bundle, encode_bundle, level_count, tile_path,
};

mod checkpoint;
/// Writing files atomically, durably and privately (used by the vault and the service too).
pub mod durable;
mod entry;
mod error;
#[doc(hidden)]
pub mod fuzz;
mod ids;
mod log;
mod merkle;
mod note;
/// PostgreSQL: the connection pool and schema migrations shared by the log, the vault and the service.
pub mod pg;
mod store;
mod tiles;

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
