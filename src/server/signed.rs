//! Checks shared by every signed request: the request signature, the JSON body and the entry it carries.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use ledger::{PartyId, SignedEntry};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::registry::Party;
use super::state::{AppState, now_ms};
use crate::httpsig::{self, SigError};

/// The authenticated sender of a request.
pub(super) struct Caller {
    /// Its party id.
    pub id: PartyId,
    /// What the registry knows of it.
    pub party: Party,
}

/// A request whose signature is yet to be checked: the parts the signature covers, read once, the body under
/// the configured cap. Handlers take it as their last extractor and call [`SignedRequest::caller`].
pub(super) struct SignedRequest {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for SignedRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let method = request.method().clone();
        let uri = request.uri().clone();
        let headers = request.headers().clone();
        let body = body(Bytes::from_request(request, state).await)?;
        Ok(SignedRequest {
            method,
            uri,
            headers,
            body,
        })
    }
}

impl SignedRequest {
    /// Verifies the request signature and returns the enrolled party that made it.
    pub(super) fn caller(&self, state: &AppState) -> Result<Caller, ApiError> {
        authenticate(state, &self.method, &self.uri, &self.headers, &self.body)
    }

    /// The body as JSON of the expected shape.
    pub(super) fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        json(&self.body)
    }
}

/// Turns a body that could not be read (too large, broken connection) into an error answer.
fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| match rejection.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "request body exceeds the configured limit",
        ),
        _ => ApiError::bad_request("unreadable_body", "request body could not be read"),
    })
}

/// Verifies the request signature and returns the enrolled party that made it.
fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Caller, ApiError> {
    let registry = state.registry.read().map_err(|_| ApiError::internal())?;
    let lookup = |id: &httpsig::PartyId| {
        PartyId::new(id.as_ref())
            .ok()
            .and_then(|id| registry.party(&id).map(|p| p.signing_key))
    };
    let target = uri.path_and_query().map_or(uri.path(), |t| t.as_str());
    let id = httpsig::verify_request(
        method.as_str(),
        target,
        headers,
        body,
        httpsig::unix_now(),
        lookup,
        &state.replay,
    )
    .map_err(sig_error)?;
    let id = PartyId::new(id.as_ref()).map_err(|_| ApiError::internal())?;
    let party = registry
        .party(&id)
        .cloned()
        .ok_or_else(ApiError::internal)?;
    Ok(Caller { id, party })
}

fn sig_error(error: SigError) -> ApiError {
    tracing::debug!(error = %error, "request signature refused");
    // A full replay cache is our limit, not the client's fault: the same request may succeed later.
    let status = match error {
        SigError::ReplayCacheFull => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::UNAUTHORIZED,
    };
    ApiError::new(status, error.code(), error.to_string())
}

/// Parses a JSON body, naming the field where it is malformed but never echoing its content.
pub(super) fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    super::json_body::parse(body)
}

/// Decodes an entry the caller made: well-formed, signed by the caller, with a current timestamp.
pub(super) fn caller_entry(
    state: &AppState,
    caller: &Caller,
    bytes: &[u8],
) -> Result<SignedEntry, ApiError> {
    let entry = SignedEntry::decode(bytes).map_err(|e| {
        ApiError::bad_request("malformed_entry", format!("entry does not decode: {e}"))
    })?;
    if entry.signer() != &caller.id {
        return Err(ApiError::forbidden(
            "entry_signer_mismatch",
            "the entry must be signed by the requesting party",
        ));
    }
    entry.verify(&caller.party.signing_key).map_err(|_| {
        ApiError::bad_request(
            "bad_entry_signature",
            "the entry's signature does not verify",
        )
    })?;
    let skew = u64::try_from(state.config.max_skew.as_millis()).unwrap_or(u64::MAX);
    if entry.entry().time_ms().abs_diff(now_ms()) > skew {
        return Err(ApiError::bad_request(
            "stale_entry",
            "the entry's time is too far from the server's clock",
        ));
    }
    Ok(entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_refusals_are_401_but_a_full_replay_cache_is_503() {
        assert_eq!(
            sig_error(SigError::ReplayCacheFull).status,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            sig_error(SigError::ReplayCacheFull).code,
            "replay_cache_full"
        );
        for error in [
            SigError::MissingSignature,
            SigError::MalformedSignature,
            SigError::StaleRequest,
            SigError::UnknownParty,
            SigError::BadSignature,
            SigError::DigestMismatch,
            SigError::ReplayedRequest,
        ] {
            assert_eq!(sig_error(error).status, StatusCode::UNAUTHORIZED);
        }
    }
}
