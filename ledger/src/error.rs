//! The one error type of the `ledger` crate.

/// Everything that can go wrong in the ledger: bad proofs, malformed notes, checkpoints and entries.
///
/// Messages name what was wrong but never carry secret material. New variants may be added (storage errors,
/// cosignatures), so match with a wildcard arm.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    // ---- Merkle trees and proofs (RFC 9162 §2.1) ----
    /// A leaf index was not below the tree size.
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The requested leaf index.
        index: u64,
        /// The size of the tree it was requested in.
        size: u64,
    },
    /// The pair of tree sizes does not define a consistency proof (old must satisfy 0 < old <= new).
    #[error("no consistency proof from tree size {old} to {new}")]
    InvalidSizes {
        /// The older (smaller) tree size.
        old: u64,
        /// The newer (larger) tree size.
        new: u64,
    },
    /// A hash in a proof or a root was not 32 bytes long.
    #[error("hash is {0} bytes long, expected 32")]
    HashLength(usize),
    /// A proof has the wrong number of hashes for its tree sizes.
    #[error("proof has the wrong number of hashes")]
    ProofLength,
    /// A proof does not lead to the expected root hash(es).
    #[error("proof does not match the root hash")]
    RootMismatch,
    /// A node source could not supply a tree node (it lies beyond the tree, or storage lost it).
    #[error("tree node at level {level}, index {index} is not available")]
    MissingNode {
        /// The node's level (0 = leaves).
        level: u8,
        /// The node's index within its level.
        index: u64,
    },

    // ---- C2SP signed notes and keys ----
    /// A signed note does not follow the C2SP signed-note format.
    #[error("malformed note: {0}")]
    MalformedNote(&'static str),
    /// A note carries more signatures than this implementation accepts.
    #[error("note has more than {0} signatures")]
    TooManySignatures(usize),
    /// A signature from a known key failed to verify, so the whole note is rejected.
    #[error("signature by known key {0:?} failed to verify")]
    BadNoteSignature(String),
    /// No signature from a known key is present on the note.
    #[error("note is not signed by any known key")]
    NoKnownSignature,
    /// A verifier key (vkey) or signer key text is malformed. The message never includes key material.
    #[error("malformed key: {0}")]
    MalformedKey(&'static str),

    // ---- C2SP tlog checkpoints ----
    /// A checkpoint's note text does not follow C2SP tlog-checkpoint.
    #[error("malformed checkpoint: {0}")]
    MalformedCheckpoint(&'static str),
    /// A checkpoint was issued by a different log than expected.
    #[error("checkpoint origin {got:?} is not the expected {expected:?}")]
    OriginMismatch {
        /// The origin the caller expected.
        expected: String,
        /// The origin found in the checkpoint.
        got: String,
    },

    // ---- Entries ----
    /// An encoded entry is malformed (truncated, bad field, trailing bytes...).
    #[error("malformed entry: {0}")]
    MalformedEntry(&'static str),
    /// An encoded entry starts with a format version this implementation does not know.
    #[error("unknown entry version {0}")]
    UnknownEntryVersion(u8),
    /// An encoded entry has a kind byte this implementation does not know.
    #[error("unknown entry kind {0}")]
    UnknownEntryKind(u8),
    /// An entry, or one of its fields, exceeds its size limit.
    #[error("entry too large: {0}")]
    EntryTooLarge(&'static str),
    /// A party id is not 1..=64 bytes of `[a-z0-9][a-z0-9._-]*`.
    #[error("invalid party id")]
    InvalidPartyId,
    /// A certificate id is not 32 lowercase hex characters.
    #[error("invalid certificate id")]
    InvalidCertId,
    /// A role name or code is not one of the known roles.
    #[error("unknown role")]
    UnknownRole,
    /// An entry's signature does not verify under the given key.
    #[error("entry signature does not verify")]
    BadEntrySignature,

    // ---- Storage and the log ----
    /// The storage backend failed to read, write or sync (the operation names what it was doing).
    #[error("storage {op} failed: {source}")]
    Io {
        /// What the store was doing, e.g. "sync journal".
        op: &'static str,
        /// The underlying I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Stored data does not match its hashes, or the store is inconsistent: it is reported, never served.
    #[error("storage is corrupted: {0}")]
    Corrupted(String),
    /// A tile, bundle, entry or tree size beyond the log's durable size was requested.
    #[error("{what} {requested} is beyond the log (size {size})")]
    BeyondLog {
        /// What was requested: "entry", "tree size", "tile", "entry bundle".
        what: &'static str,
        /// The requested index or size.
        requested: u64,
        /// The durable size of the log.
        size: u64,
    },
    /// A partial tile or bundle width of 0 was requested (C2SP tlog-tiles widths are 1..=255).
    #[error("partial width must be between 1 and 255")]
    InvalidWidth,
    /// A storage failure stopped the log's writer; appends are refused until the log is reopened.
    #[error("the log stopped after a storage failure; reopen it to recover")]
    LogFailed,
    /// The PostgreSQL database failed or refused a request (its message and SQLSTATE; never row contents,
    /// never the connection settings).
    #[error("database error: {0}")]
    Database(String),
    /// The store already holds a different checkpoint of the same size: two writers signed different trees
    /// (or different keys) for one log. Nothing is overwritten.
    #[error("a different checkpoint of size {0} is already stored")]
    CheckpointConflict(u64),
    // ---- Witnesses: C2SP tlog-cosignature, tlog-policy, tlog-proof (added by the witness branch) ----
    /// A cosignature line, key or signed message does not follow C2SP tlog-cosignature.
    #[error("malformed cosignature: {0}")]
    MalformedCosignature(&'static str),
    /// A cosignature by a known witness key failed to verify.
    #[error("cosignature by known witness {0:?} failed to verify")]
    BadCosignature(String),
    /// A policy file (C2SP tlog-policy) is malformed; `line` is 1-based.
    #[error("policy line {line}: {reason}")]
    Policy {
        /// The 1-based line number (0 when the problem is the file as a whole).
        line: usize,
        /// What was wrong with it.
        reason: String,
    },
    /// A checkpoint's origin is not one of the policy's logs.
    #[error("log {0:?} is not in the policy")]
    UnknownLog(String),
    /// Valid cosignatures on a checkpoint do not satisfy the policy's quorum.
    #[error("checkpoint is cosigned by {0} known witnesses, which does not meet the policy quorum")]
    QuorumNotMet(usize),
    /// A C2SP tlog-proof (receipt) text is malformed.
    #[error("malformed tlog-proof: {0}")]
    MalformedProof(&'static str),
}
