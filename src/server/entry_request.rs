//! How every request that carries an entry of its caller's begins: the caller authenticated, the JSON body
//! parsed, and the entry decoded and checked as the caller's own ([`signed::caller_entry`]: signed by it with
//! its current key, dated within the skew, not seen before). Which kind of entry a route takes, and what the
//! entry must name, stays in each handler, where it reads as what that request does.

use serde::de::DeserializeOwned;

use ledger::{CertId, SignedEntry};

use super::error::ApiError;
use super::signed::{self, Caller, SignedRequest};
use super::state::AppState;
use crate::api::{EnrollRequest, GrantRequest, PurgeRequest, RevokeRequest, RotateRequest};

/// A request body that carries one entry.
pub(super) trait CarriesEntry: DeserializeOwned {
    /// The entry, as the client encoded it.
    fn entry(&self) -> &[u8];
}

/// A signed request's caller, its body, and the body's entry, checked as the caller's own.
pub(super) struct EntryRequest<R> {
    pub(super) caller: Caller,
    pub(super) body: R,
    pub(super) entry: SignedEntry,
}

impl<R: CarriesEntry> EntryRequest<R> {
    /// Authenticates `req`, then parses its body, then checks the entry: an unsigned or forged request is told
    /// so before anything about its body.
    pub(super) fn read(state: &AppState, req: &SignedRequest) -> Result<Self, ApiError> {
        let caller = req.caller(state)?;
        let body: R = req.json()?;
        let entry = signed::caller_entry(state, &caller, body.entry())?;
        Ok(Self {
            caller,
            body,
            entry,
        })
    }
}

/// The refusal of an entry of another kind than the route takes; `expected` says which it takes.
pub(super) fn wrong_kind(expected: &'static str) -> ApiError {
    ApiError::bad_request("wrong_entry_kind", expected)
}

/// An entry that names another certificate than the request's path.
pub(super) fn same_certificate(entry: &CertId, path: &CertId) -> Result<(), ApiError> {
    if entry == path {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "cert_id_mismatch",
            "the entry names another certificate than the path",
        ))
    }
}

macro_rules! carries_entry {
    ($($request:ty),*) => {$(
        impl CarriesEntry for $request {
            fn entry(&self) -> &[u8] {
                &self.entry.0
            }
        }
    )*};
}

carries_entry!(
    EnrollRequest,
    GrantRequest,
    RevokeRequest,
    PurgeRequest,
    RotateRequest
);
