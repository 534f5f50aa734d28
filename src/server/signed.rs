//! Checks shared by every signed request: the request signature, the JSON body and the entry it carries.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use http_body_util::BodyExt as _;
use ledger::{PartyId, SignedEntry};
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

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
///
/// Before any body byte is read, the headers must carry a well-formed, fresh signature by an enrolled party;
/// the body then takes its share of the [`BodyBudget`] (kept until the request is dropped) and must arrive
/// within the configured body timeout.
pub(super) struct SignedRequest {
    method: Method,
    uri: Uri,
    /// The signature fields, parsed and checked once, before the body was read.
    signature: httpsig::CheckedHeaders,
    body: Bytes,
    _budget: Option<OwnedSemaphorePermit>,
}

impl FromRequest<Arc<AppState>> for SignedRequest {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let (parts, body) = request.into_parts();
        let missed = std::time::Instant::now();
        let signature = match check_headers(state, &parts.headers) {
            // Enrolled through another frontend a moment ago? Catch up once, then look again.
            Err(e) if e.code == "unknown_party" && state.shared_log() => {
                let st = state.clone();
                tokio::task::spawn_blocking(move || st.catch_up_after_miss(missed))
                    .await
                    .map_err(|_| ApiError::internal())??;
                check_headers(state, &parts.headers)?
            }
            checked => checked?,
        };
        let budget = parts
            .extensions
            .get::<BodyBudget>()
            .cloned()
            .ok_or_else(ApiError::internal)?;
        let (body, permit) = read_body(state, &budget, &parts.headers, body).await?;
        Ok(SignedRequest {
            method: parts.method,
            uri: parts.uri,
            signature,
            body,
            _budget: permit,
        })
    }
}

impl SignedRequest {
    /// Verifies the request signature and returns the enrolled party that made it.
    pub(super) fn caller(&self, state: &AppState) -> Result<Caller, ApiError> {
        authenticate(state, &self.method, &self.uri, &self.signature, &self.body)
    }

    /// The body as JSON of the expected shape.
    pub(super) fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        json(&self.body)
    }
}

/// The bytes of signed-request bodies buffered at once, across all connections: what unauthenticated (or
/// merely enrolled) clients can make the server hold. Counted in KiB; over it, a request is refused with 503
/// `server_busy` (and `Retry-After`) instead of waiting or growing memory.
#[derive(Clone)]
pub(super) struct BodyBudget(Arc<Semaphore>);

const BUDGET_UNIT: usize = 1024;

impl BodyBudget {
    /// A budget of `bytes` (at least one unit).
    pub(super) fn new(bytes: usize) -> Self {
        let units = (bytes / BUDGET_UNIT).clamp(1, Semaphore::MAX_PERMITS);
        BodyBudget(Arc::new(Semaphore::new(units)))
    }

    /// Grows `held` to cover `bytes`, or refuses without waiting.
    fn cover(&self, held: &mut Option<OwnedSemaphorePermit>, bytes: usize) -> Result<(), ApiError> {
        let busy = || {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "server_busy",
                "too many request bodies in flight; retry later",
            )
        };
        let want = bytes.div_ceil(BUDGET_UNIT);
        let have = held.as_ref().map_or(0, OwnedSemaphorePermit::num_permits);
        if want <= have {
            return Ok(());
        }
        let more = u32::try_from(want - have).map_err(|_| busy())?;
        let permit = self
            .0
            .clone()
            .try_acquire_many_owned(more)
            .map_err(|_| busy())?;
        match held {
            Some(h) => h.merge(permit),
            None => *held = Some(permit),
        }
        Ok(())
    }
}

/// What the headers alone can refuse: no or a malformed signature, a stale one, an unknown party. The parsed
/// fields are kept for [`authenticate`].
fn check_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<httpsig::CheckedHeaders, ApiError> {
    let lookup = |id: &httpsig::PartyId| {
        PartyId::new(id.as_ref())
            .ok()
            .and_then(|id| state.registry.signing_key(&id))
    };
    httpsig::check_request_headers(headers, httpsig::unix_now(), lookup, &state.replay)
        .map_err(sig_error)
}

/// Reads the body under the size cap, the body budget and the body timeout.
async fn read_body(
    state: &AppState,
    budget: &BodyBudget,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Bytes, Option<OwnedSemaphorePermit>), ApiError> {
    let max = state.config.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(0)
        .min(max);
    let mut held = None;
    budget.cover(&mut held, declared)?;
    let collect = async {
        let mut body = body;
        let mut bytes = Vec::with_capacity(declared);
        while let Some(frame) = body.frame().await {
            let Ok(data) = frame.map_err(unreadable)?.into_data() else {
                continue;
            };
            let total = bytes.len().saturating_add(data.len());
            if total > max {
                return Err(too_large());
            }
            budget.cover(&mut held, total)?;
            bytes.extend_from_slice(&data);
        }
        Ok(Bytes::from(bytes))
    };
    let body = tokio::time::timeout(state.config.net.body_timeout, collect)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body did not arrive in time",
            )
        })??;
    Ok((body, held))
}

fn too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "body_too_large",
        "request body exceeds the configured limit",
    )
}

/// A body that could not be read: over the cap (the limit layer's error), or a broken connection.
fn unreadable(error: axum::Error) -> ApiError {
    let inner = error.into_inner();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&*inner);
    while let Some(e) = source {
        if e.is::<http_body_util::LengthLimitError>() {
            return too_large();
        }
        source = e.source();
    }
    ApiError::bad_request("unreadable_body", "request body could not be read")
}

/// Verifies the request signature and returns the enrolled party that made it.
fn authenticate(
    state: &AppState,
    method: &Method,
    uri: &Uri,
    signature: &httpsig::CheckedHeaders,
    body: &[u8],
) -> Result<Caller, ApiError> {
    // The registry is read only for the key lookup, not held through verification: a request dated ahead of
    // the clock is journalled (one fdatasync) inside it, and appends must not wait for that.
    let lookup = |id: &httpsig::PartyId| {
        PartyId::new(id.as_ref())
            .ok()
            .and_then(|id| state.registry.signing_key(&id))
    };
    let target = uri.path_and_query().map_or(uri.path(), |t| t.as_str());
    let id = httpsig::verify_checked(
        signature,
        method.as_str(),
        target,
        body,
        httpsig::unix_now(),
        lookup,
        &state.replay,
    )
    .map_err(sig_error)?;
    let id = PartyId::new(id.as_ref()).map_err(|_| ApiError::internal())?;
    let party = state.registry.party(&id).ok_or_else(ApiError::internal)?;
    Ok(Caller { id, party })
}

fn sig_error(error: SigError) -> ApiError {
    tracing::debug!(error = %error, "request signature refused");
    // A full replay cache is our limit, not the client's fault: the same request may succeed later. A party
    // over its own share is told to slow down, and only it.
    let status = match error {
        SigError::ReplayCacheFull | SigError::ReplayNotRecorded => StatusCode::SERVICE_UNAVAILABLE,
        SigError::ReplayQuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::UNAUTHORIZED,
    };
    ApiError::new(status, error.code(), error.to_string())
}

/// Parses a JSON body, naming the field where it is malformed but never echoing its content.
pub(super) fn json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    super::json_body::parse(body)
}

/// The caller of a registration whose entry carries the sealed digest of its uploads (kind `0x08`), and the
/// entry, checked with the entry's signature as the one signature (docs/threat-model.md, "One signature per
/// registration"): signed by the party the request names (`keyid`), an enrolled one, dated within the skew
/// and not before this run's replay floor, the digest equal to `sealed` (what the request uploads), the
/// signature valid (strict), and the entry not seen before. The request signature's fields passed their
/// header checks before the body was read; its Ed25519 signature and `Content-Digest` are not checked, as
/// the entry's signature covers everything they would.
///
/// `None` if the entry is not such a registration (or does not decode): the caller then checks it as any
/// other signed request, request signature first ([`SignedRequest::caller`], [`caller_entry`]).
pub(super) fn sealed_registration(
    state: &AppState,
    req: &SignedRequest,
    entry: &[u8],
    sealed: impl FnOnce() -> ledger::Hash,
) -> Option<Result<(Caller, SignedEntry), ApiError>> {
    let entry = SignedEntry::decode(entry).ok()?;
    let ledger::Entry::Registration {
        sealed: Some(claimed),
        ..
    } = entry.entry()
    else {
        return None;
    };
    let claimed = *claimed;
    Some(check_sealed_registration(
        state, req, entry, claimed, sealed,
    ))
}

fn check_sealed_registration(
    state: &AppState,
    req: &SignedRequest,
    entry: SignedEntry,
    claimed: ledger::Hash,
    sealed: impl FnOnce() -> ledger::Hash,
) -> Result<(Caller, SignedEntry), ApiError> {
    if entry.signer().as_str() != req.signature.keyid().as_str() {
        return Err(ApiError::forbidden(
            "entry_signer_mismatch",
            "the entry must be signed by the requesting party",
        ));
    }
    let party = state
        .registry
        .party(entry.signer())
        .ok_or_else(|| sig_error(SigError::UnknownParty))?;
    let now = httpsig::unix_now();
    let created = entry.entry().time_ms() / 1000;
    if !state.replay.is_fresh(created, now) {
        return Err(ApiError::bad_request(
            "stale_entry",
            "the entry's time is too far from the server's clock",
        ));
    }
    if !bool::from(subtle::ConstantTimeEq::ct_eq(&claimed[..], &sealed()[..])) {
        return Err(ApiError::bad_request(
            "sealed_digest_mismatch",
            "the entry's sealed digest does not match the uploaded ciphertext and envelopes",
        ));
    }
    entry.verify(&party.signing_key).map_err(|_| {
        ApiError::bad_request(
            "bad_entry_signature",
            "the entry's signature does not verify",
        )
    })?;
    // The entry's signature is its nonce: one signed entry is accepted once, within the window and across
    // restarts, as a request nonce is (a strict signature has one encoding per entry).
    let nonce = format!("entry/{}", hex::encode(entry.signature()));
    state
        .replay
        .check_and_insert(entry.signer().as_str(), &nonce, created, now)
        .map_err(sig_error)?;
    let id = entry.signer().clone();
    Ok((Caller { id, party }, entry))
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
        assert_eq!(
            sig_error(SigError::ReplayQuotaExceeded).status,
            StatusCode::TOO_MANY_REQUESTS
        );
        assert_eq!(
            sig_error(SigError::ReplayNotRecorded).status,
            StatusCode::SERVICE_UNAVAILABLE
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
