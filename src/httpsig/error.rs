//! Why a signed request was refused: one variant per failure, each with a stable machine code.

/// A request signature was refused.
///
/// Messages are short and public (safe to return to the client); they never contain key material, the
/// signature base or the body. The server maps [`SigError::code`] to its JSON error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigError {
    /// The request has no `Signature` or no `Signature-Input` header.
    #[error("request is not signed")]
    MissingSignature,
    /// A signature header is not valid structured-field syntax or does not follow the required profile
    /// (covered components, parameters, algorithm, nonce length).
    #[error("malformed request signature")]
    MalformedSignature,
    /// `created` is outside the accepted clock-skew window.
    #[error("request timestamp outside the accepted window")]
    StaleRequest,
    /// `keyid` does not name an enrolled party.
    #[error("unknown party")]
    UnknownParty,
    /// The Ed25519 signature does not verify over the signature base.
    #[error("bad request signature")]
    BadSignature,
    /// `Content-Digest` is missing, has no `sha-256` member, or does not match the body.
    #[error("content digest missing or does not match the body")]
    DigestMismatch,
    /// The (party, nonce) pair was already used within the window.
    #[error("replayed request")]
    ReplayedRequest,
    /// The replay cache is full for this party or overall; the request is refused rather than forgetting nonces
    /// that could then be replayed. Retry later.
    #[error("too many signed requests in the replay window")]
    ReplayCacheFull,
    /// This party holds its whole share of the replay cache; its requests are refused until its older nonces
    /// expire (other parties are served). Retry later, or sign fewer requests.
    #[error("this party's replay quota is used up; retry later")]
    ReplayQuotaExceeded,
    /// The nonce of a request dated ahead of the server clock (or, with a shared nonce store, of any request)
    /// could not be recorded durably, so the request is refused rather than risk accepting it again after a
    /// restart or at another frontend. Retry later.
    #[error("the request could not be recorded; retry later")]
    ReplayNotRecorded,
}

impl SigError {
    /// The stable machine-readable code of this error, for JSON error bodies and metrics labels.
    pub fn code(&self) -> &'static str {
        match self {
            Self::MissingSignature => "missing_signature",
            Self::MalformedSignature => "malformed_signature",
            Self::StaleRequest => "stale_request",
            Self::UnknownParty => "unknown_party",
            Self::BadSignature => "bad_signature",
            Self::DigestMismatch => "digest_mismatch",
            Self::ReplayedRequest => "replayed_request",
            Self::ReplayCacheFull => "replay_cache_full",
            Self::ReplayQuotaExceeded => "replay_quota_exceeded",
            Self::ReplayNotRecorded => "unavailable",
        }
    }
}
