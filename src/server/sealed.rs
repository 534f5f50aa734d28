//! The open: `GET /v1/certificates/{id}/sealed` releases the ciphertext and the caller's envelope, logging an
//! access receipt first (grouped with concurrent opens' into one entry: `super::releases`), and its answer,
//! written straight into its body.
//!
//! Through `Json<Sealed>`, serde_json base64-encoded the 8 KiB ciphertext into a string and then scanned that
//! string byte by byte for characters to escape, of which base64 has none: 11 % of the server's instructions
//! per open (callgrind, docs/performance.md). Here each value is encoded once, into the body itself. The bytes
//! are exactly what `Json<Sealed>` sent (a test compares them), so clients see no change.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ledger::Release;
use vault::VaultStore as _;

use super::error::ApiError;
use super::handlers::{unframe, vault_error};
use super::policy;
use super::read::{blocking, parse_cert_id};
use super::signed::SignedRequest;
use super::state::AppState;
use crate::api::{B64, Sealed};

/// `GET /v1/certificates/{id}/sealed`: a grantee fetches the ciphertext and its own envelope; the release is
/// logged as an access receipt before anything is returned.
pub(super) async fn sealed(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Result<SealedAnswer, ApiError> {
    let started = Instant::now();
    let metrics_state = state.clone();
    let answer = blocking(move || {
        let mut timing = OpenTiming::new(started);
        let cert_id = parse_cert_id(&id)?;
        let caller = req.caller(&state)?;
        // A release decided on a grant must be logged before that grant can be revoked: the decision and the
        // receipt's place in the log's queue happen inside the certificate's critical section. Waiting for the
        // receipt to be durable does not need it: a revocation decided later is queued later, so it gets a
        // later index, and it is not durable unless the receipt is (`ledger::Log::enqueue`). Only the group's
        // leader leaves it that early; the others leave it with their answer (`super::releases`).
        let deciding = state.decide_on(&cert_id)?;
        if state
            .registry
            .certificate(&cert_id)?
            .is_some_and(|c| c.purged)
        {
            return Err(super::lifecycle::gone());
        }
        let registration_index = policy::may_fetch(&state, &caller, &cert_id)?;
        let id = cert_id;
        let stored = state
            .vault
            .get_envelope(id, caller.id.as_str())
            .map_err(vault_error)?
            .ok_or_else(|| ApiError::forbidden("not_granted", "no active grant for this party"))?;
        let (grant, envelope) = unframe(&stored)?;
        let ciphertext = state
            .vault
            .get_ciphertext(id)
            .map_err(vault_error)?
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::GONE,
                    "purged",
                    "the certificate body was purged",
                )
            })?;
        // The receipt goes into the entry of the next group of concurrent opens, signed once for all of them
        // (`super::releases`).
        let shared_log = state.shared_log();
        let mut deciding = Some(deciding);
        timing.checked = Instant::now();
        let receipt_index = state.releases.log(&state, Release { cert_id, grant }, || {
            // One log queue keeps the order of its own calls, but another frontend's revocation goes through
            // its own queue: with a shared log the lock is held until the receipt is committed.
            if !shared_log {
                deciding.take();
            }
        })?;
        drop(deciding);
        timing.logged = Instant::now();
        state
            .metrics
            .envelopes_released
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let answer = SealedAnswer::new(&Sealed {
            ciphertext: B64(ciphertext),
            envelope: B64(envelope.to_vec()),
            grant: B64(grant.to_vec()),
            registration_index,
            receipt_index,
        });
        timing.trace();
        Ok(answer)
    })
    .await?;
    metrics_state
        .metrics
        .open_latency
        .observe(started.elapsed());
    answer
}

/// Where an open's time goes, logged at debug level (docs/performance.md, "Issue 12, step 6"): waiting for a
/// blocking thread, the checks and reads, the access receipt (the group commit in flight, then its own
/// group's), and encoding the answer.
struct OpenTiming {
    arrived: Instant,
    started: Instant,
    checked: Instant,
    logged: Instant,
}

impl OpenTiming {
    fn new(arrived: Instant) -> Self {
        let now = Instant::now();
        OpenTiming {
            arrived,
            started: now,
            checked: now,
            logged: now,
        }
    }

    fn trace(&self) {
        let micros = |from: Instant, to: Instant| to.saturating_duration_since(from).as_micros();
        tracing::debug!(
            thread_wait_us = micros(self.arrived, self.started),
            checks_us = micros(self.started, self.checked),
            receipt_us = micros(self.checked, self.logged),
            answer_us = micros(self.logged, Instant::now()),
            "open timing"
        );
    }
}

/// An encoded [`Sealed`], ready to send.
pub(super) struct SealedAnswer(String);

impl SealedAnswer {
    /// Encodes `sealed` as the JSON object `Json<Sealed>` would send.
    pub(super) fn new(sealed: &Sealed) -> Self {
        let b64_len = |bytes: &[u8]| bytes.len().div_ceil(3) * 4;
        let mut out = String::with_capacity(
            b64_len(&sealed.ciphertext.0)
                + b64_len(&sealed.envelope.0)
                + b64_len(&sealed.grant.0)
                + 128,
        );
        // Field names and order as in `Sealed`; base64's alphabet needs no JSON escaping.
        for (name, bytes) in [
            ("{\"ciphertext\":\"", &sealed.ciphertext.0),
            ("\",\"envelope\":\"", &sealed.envelope.0),
            ("\",\"grant\":\"", &sealed.grant.0),
        ] {
            out.push_str(name);
            STANDARD.encode_string(bytes, &mut out);
        }
        // Writing into a String cannot fail.
        let _ = write!(
            out,
            "\",\"registration_index\":{},\"receipt_index\":{}}}",
            sealed.registration_index, sealed.receipt_index
        );
        SealedAnswer(out)
    }
}

impl IntoResponse for SealedAnswer {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::B64;

    #[test]
    fn the_body_is_what_serde_json_writes() {
        for len in [0usize, 1, 2, 3, 61, 8_599, 8_600] {
            let sealed = Sealed {
                ciphertext: B64((0..len)
                    .map(|i| u8::try_from(i % 251).unwrap_or_default())
                    .collect()),
                envelope: B64(vec![0xfb; 113]),
                grant: B64(vec![0xff; 32]),
                registration_index: u64::try_from(len).unwrap_or_default(),
                receipt_index: u64::MAX,
            };
            let expected = serde_json::to_string(&sealed).expect("Sealed serializes");
            assert_eq!(
                SealedAnswer::new(&sealed).0,
                expected,
                "ciphertext of {len} bytes"
            );
        }
    }

    #[tokio::test]
    async fn it_is_sent_as_json() {
        let sealed = Sealed {
            ciphertext: B64(vec![1, 2, 3]),
            envelope: B64(vec![4]),
            grant: B64(vec![5; 32]),
            registration_index: 1,
            receipt_index: 2,
        };
        let expected = axum::Json(sealed.clone()).into_response();
        let answer = SealedAnswer::new(&sealed).into_response();
        assert_eq!(
            answer.headers().get(header::CONTENT_TYPE),
            expected.headers().get(header::CONTENT_TYPE)
        );
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .expect("body");
        let parsed: Sealed = serde_json::from_slice(&body).expect("parses as Sealed");
        assert_eq!(parsed.ciphertext, sealed.ciphertext);
        assert_eq!(parsed.receipt_index, 2);
    }
}
