//! HTTP request signatures (RFC 9421 profile, Ed25519): the client signs method, path, query and body digest
//! with a timestamp and a nonce; the server verifies them and refuses stale, replayed or unknown-party requests.
//!
//! Independent of any HTTP framework: it takes the method, the request target, an `http::HeaderMap` and the body.
//! The exact wire format is in docs/api.md, "Request signatures".

mod base;
mod error;
mod replay;
pub(crate) mod sfv;
mod sign;
mod verify;

#[cfg(test)]
mod tests;

pub use error::SigError;
pub use replay::{NonceJournal, ReplayConfig, ReplayGuard, SharedNonceStore, nonce_key};
pub use sign::sign_request;
pub use verify::{CheckedHeaders, check_request_headers, verify_checked, verify_request};

/// A party id as carried in `keyid`.
///
/// A plain string for now; it becomes `ledger::PartyId` (a validated string) when the ledger crate lands, which
/// only changes this alias and the `key_lookup` argument's type.
pub type PartyId = String;

/// The current time in Unix seconds, the clock both [`sign_request`] and [`verify_request`] expect.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
