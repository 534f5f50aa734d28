//! The one error type of the JOSE module.

/// Why a token, header, DID or JWK was refused. Each message names the part that was wrong; none carries key
/// material beyond public keys.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JoseError {
    /// A base64url field was empty where it may not be, padded, not base64url, or had non-canonical bits.
    #[error("{field}: not canonical unpadded base64url")]
    Base64 {
        /// Which field.
        field: &'static str,
    },
    /// The compact serialization did not have exactly three `.`-separated parts.
    #[error("a compact JWS has exactly three parts separated by '.', this has {0}")]
    Parts(usize),
    /// The token or one of its parts is larger than the limit given.
    #[error("{what} is {len} bytes, more than the limit of {limit}")]
    TooLarge {
        /// Which part.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        limit: usize,
    },
    /// The protected header is not a JSON object (or repeats a member).
    #[error("protected header: {0}")]
    Header(String),
    /// A header parameter is missing or has the wrong value.
    #[error("protected header parameter {param}: {reason}")]
    Param {
        /// The parameter name.
        param: &'static str,
        /// What was wrong with it.
        reason: String,
    },
    /// The DID or key id is not a `did:jwk` of an Ed25519 key.
    #[error("did:jwk: {0}")]
    Did(String),
    /// The JWK is not a public Ed25519 key (`kty` `OKP`, `crv` `Ed25519`, 32-byte `x`).
    #[error("JWK: {0}")]
    Jwk(String),
    /// The signature did not verify under the key the header names.
    #[error("signature does not verify under the key named by kid")]
    Signature,
}
