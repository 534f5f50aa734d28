//! The one error type of the vault crate.

use std::path::PathBuf;

/// Everything that can go wrong in the vault.
///
/// Decryption is deliberately coarse: every failure to open a body or an envelope (wrong key, wrong
/// certificate, wrong recipient, truncated or tampered bytes, unknown version) is the single
/// [`Error::DecryptionFailed`], so that an attacker learns nothing about which check failed.
/// No variant ever carries secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A ciphertext or an envelope could not be opened; deliberately says nothing more.
    #[error("decryption failed")]
    DecryptionFailed,
    /// Encryption failed inside the AEAD or HPKE implementation (a bug or an absurd input size).
    #[error("encryption failed")]
    EncryptionFailed,
    /// A decrypted body does not match the document commitment it was registered under.
    #[error("certificate body does not match its registered commitment")]
    CommitmentMismatch,
    /// A decrypted body is not the JSON it should be.
    #[error("decrypted certificate body is not valid JSON")]
    InvalidBody,
    /// A JSON body cannot be committed to (the reason names the field, never its value).
    #[error("cannot commit to body: {0}")]
    Canonical(String),
    /// A disclosure does not verify against the commitment (the reason names the field).
    #[error("disclosure does not verify: {0}")]
    DisclosureInvalid(String),
    /// A disclosure, `.pub` file or other JSON document is malformed.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// A party id does not follow the party id rules.
    #[error("invalid party id: {0}")]
    InvalidPartyId(String),
    /// A key file is readable by group or others; it is refused without being read.
    #[error(
        "key file {path} has mode {mode:o}: readable by group or others; run `chmod 600` on it"
    )]
    KeyFilePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A key file is malformed (the reason never quotes the file's contents).
    #[error("key file {path} is malformed: {reason}")]
    KeyFileMalformed {
        /// The key file.
        path: PathBuf,
        /// Which part is wrong.
        reason: &'static str,
    },
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// The vault's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
