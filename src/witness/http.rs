//! The witness's HTTP interface (C2SP tlog-witness): `POST /add-checkpoint` and the monitoring
//! `GET /<origin hash>/checkpoint`.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tracing::instrument;

use super::state::{Refusal, Witness};

/// Cap on request bodies: an old size line, 63 hashes and a checkpoint with up to a hundred signatures fit easily.
const MAX_BODY: usize = 64 * 1024;
/// Content type of a 409 answer (tlog-witness "add-checkpoint").
pub const TLOG_SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// The witness's routes over shared state.
pub(crate) fn router(witness: Arc<Witness>) -> Router {
    Router::new()
        .route("/add-checkpoint", post(add_checkpoint))
        .route("/{origin_hash}/checkpoint", get(checkpoint))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(witness)
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body,
    )
        .into_response()
}

#[instrument(skip_all)]
async fn add_checkpoint(State(witness): State<Arc<Witness>>, body: Bytes) -> Response {
    // Signature checks, proof hashing and the fsync are blocking work.
    let outcome = tokio::task::spawn_blocking(move || witness.add_checkpoint(&body)).await;
    let refusal = match outcome {
        Ok(Ok(cosignature)) => return text(StatusCode::OK, cosignature),
        Ok(Err(refusal)) => refusal,
        Err(e) => {
            tracing::error!(error = %e, "add-checkpoint task failed");
            Refusal::Internal
        }
    };
    if matches!(refusal, Refusal::Unprocessable(_)) {
        // A validly signed checkpoint that is inconsistent with what we cosigned may be evidence of a fork.
        tracing::warn!(?refusal, "add-checkpoint refused: inconsistent checkpoint");
    } else {
        tracing::debug!(?refusal, "add-checkpoint refused");
    }
    match refusal {
        Refusal::Conflict(size) => (
            StatusCode::CONFLICT,
            [(header::CONTENT_TYPE, TLOG_SIZE_CONTENT_TYPE)],
            format!("{size}\n"),
        )
            .into_response(),
        Refusal::BadRequest(why) => text(StatusCode::BAD_REQUEST, format!("{why}\n")),
        Refusal::UnknownLog => text(StatusCode::NOT_FOUND, "unknown log\n".into()),
        Refusal::Forbidden(why) => text(StatusCode::FORBIDDEN, format!("{why}\n")),
        Refusal::Unprocessable(why) => text(StatusCode::UNPROCESSABLE_ENTITY, format!("{why}\n")),
        Refusal::Internal => text(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n".into()),
    }
}

#[instrument(skip(witness))]
async fn checkpoint(
    State(witness): State<Arc<Witness>>,
    Path(origin_hash): Path<String>,
) -> Response {
    match witness.latest_by_origin_hash(&origin_hash) {
        Some(note) => text(StatusCode::OK, note),
        None => text(
            StatusCode::NOT_FOUND,
            "no checkpoint cosigned for this log\n".into(),
        ),
    }
}
