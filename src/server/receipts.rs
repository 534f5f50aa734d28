//! `GET /checkpoint` (the published checkpoint, with an optional long poll) and `GET /v1/receipts/{index}`
//! (a C2SP tlog-proof for one entry under the published checkpoint).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ledger::TlogProof;
use serde::Deserialize;

use super::error::ApiError;
use super::publish::Published;
use super::read::blocking;
use super::state::AppState;

const TEXT: &str = "text/plain; charset=utf-8";
/// Longest a `?min_size=` long poll waits before answering with whatever is published.
const MAX_WAIT: Duration = Duration::from_secs(10);

/// Query of `GET /checkpoint`.
#[derive(Deserialize)]
pub(super) struct CheckpointQuery {
    min_size: Option<u64>,
}

fn not_published() -> ApiError {
    ApiError::new(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        "no_cosigned_checkpoint",
        "no checkpoint has met the witness quorum yet; retry later",
    )
}

/// `GET /checkpoint[?min_size=N]`: with `min_size`, waits up to 10 s for a published checkpoint of at least N
/// entries, then answers with the published one either way (the client checks its size).
pub(super) async fn checkpoint(
    State(state): State<Arc<AppState>>,
    query: Result<Query<CheckpointQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(CheckpointQuery { min_size }) =
        query.map_err(|_| ApiError::bad_request("bad_query", "expected ?min_size=N (decimal)"))?;
    // What another frontend acknowledged before this request is in the checkpoint it gets here.
    super::follow::caught_up(&state).await?;
    let published = match min_size {
        Some(n) => {
            state
                .checkpoints
                .wait_for_size(&state.log, n, MAX_WAIT)
                .await
        }
        None => state.checkpoints.published(&state.log),
    }
    .ok_or_else(not_published)?;
    Ok((
        [
            (header::CONTENT_TYPE, TEXT),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        published.note.to_string(),
    )
        .into_response())
}

/// `GET /v1/receipts/{index}`: the entry's tlog-proof under the published checkpoint; the `extra` line carries
/// the entry's bytes (unauthenticated: a verifier hashes them and the proof must hold for that hash).
pub(super) async fn receipt(
    State(state): State<Arc<AppState>>,
    Path(index): Path<String>,
) -> Result<Response, ApiError> {
    let index: u64 = index
        .parse()
        .map_err(|_| ApiError::bad_request("bad_number", "index must be a decimal number"))?;
    let Published { size, note } = state
        .checkpoints
        .published(&state.log)
        .ok_or_else(not_published)?;
    if index >= size {
        return Err(ApiError::not_found(
            "not_yet_published",
            format!(
                "no published checkpoint covers entry {index} yet (published size {size}); retry shortly"
            ),
        ));
    }
    let (entry, inclusion) = blocking(move || {
        Ok::<_, ledger::Error>((
            state.log.entry(index)?,
            state.log.inclusion_proof(index, size)?,
        ))
    })
    .await?
    .map_err(|e| super::read::log_read_failed("receipt", &e))?;
    let proof = TlogProof {
        extra: Some(entry),
        index,
        inclusion,
        checkpoint: note.to_string(),
    };
    Ok(([(header::CONTENT_TYPE, TEXT)], proof.to_text()).into_response())
}
