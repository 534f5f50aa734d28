//! The public read side: checkpoint, tiles, entries, proofs, parties and certificate facts. No signature needed.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use ledger::{CertId, PartyId};
use serde::Deserialize;

use super::error::ApiError;
use super::state::AppState;
use crate::api::{
    B64, CertificateInfo, ConsistencyProof, EntryRecord, InclusionProof, PartyRecord,
};
use crate::tilepath::TileRef;

const TEXT: &str = "text/plain; charset=utf-8";
const OCTETS: &str = "application/octet-stream";
/// Tiles and full bundles never change (tlog-tiles: "immutable"); the checkpoint does.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const MUTABLE: &str = "no-cache";

/// `GET /log.vkey`: the log's verifier key. Clients pin it out of band; this copy is a convenience.
pub(super) async fn vkey(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, TEXT)],
        format!("{}\n", state.log_key.vkey()),
    )
        .into_response()
}

/// `GET /tile/<L>/<N>[.p/<W>]` and `GET /tile/entries/<N>[.p/<W>]`.
pub(super) async fn tile(
    State(state): State<Arc<AppState>>,
    Path(rest): Path<String>,
) -> Result<Response, ApiError> {
    let tile = TileRef::parse(&rest)
        .ok_or_else(|| ApiError::bad_request("bad_tile_path", "malformed tile path"))?;
    let read = |state: Arc<AppState>| {
        blocking(move || match tile.level {
            Some(level) => state.log.read_tile(level, tile.index, tile.partial),
            None => state.log.read_entry_bundle(tile.index, tile.partial),
        })
    };
    let mut bytes = read(state.clone()).await?;
    if bytes.is_err() && state.shared_log() {
        // Perhaps a tile another frontend's appends completed a moment ago.
        super::follow::caught_up(&state).await?;
        bytes = read(state).await?;
    }
    let bytes = bytes.map_err(|e| {
        if let ledger::Error::Database(_) = e {
            return log_read_failed("tile", &e);
        }
        tracing::debug!(error = %e, path = %rest, "tile not served");
        ApiError::not_found("no_such_tile", "no such tile")
    })?;
    let cache = if tile.partial.is_some() {
        MUTABLE
    } else {
        IMMUTABLE
    };
    Ok((
        [
            (header::CONTENT_TYPE, OCTETS),
            (header::CACHE_CONTROL, cache),
        ],
        bytes,
    )
        .into_response())
}

/// `GET /v1/entries/{index}`.
pub(super) async fn entry(
    State(state): State<Arc<AppState>>,
    Path(index): Path<String>,
) -> Result<Json<EntryRecord>, ApiError> {
    let index = parse_u64(&index, "index")?;
    super::follow::covering(&state, index.saturating_add(1)).await?;
    let bytes = blocking(move || state.log.entry(index))
        .await?
        .map_err(|e| match e {
            ledger::Error::Database(_) => log_read_failed("entry", &e),
            _ => ApiError::not_found("no_such_entry", "no entry at that index"),
        })?;
    Ok(Json(EntryRecord {
        index,
        entry: B64(bytes),
    }))
}

/// Query of `GET /v1/proof/inclusion`.
#[derive(Deserialize)]
pub(super) struct InclusionQuery {
    index: u64,
    size: u64,
}

/// `GET /v1/proof/inclusion?index=I&size=S`.
pub(super) async fn inclusion(
    State(state): State<Arc<AppState>>,
    query: Result<Query<InclusionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<InclusionProof>, ApiError> {
    let Query(InclusionQuery { index, size }) = query
        .map_err(|_| ApiError::bad_request("bad_query", "expected ?index=I&size=S (decimal)"))?;
    super::follow::covering(&state, size).await?;
    if index >= size || size > state.log.size() {
        return Err(ApiError::bad_request(
            "bad_proof_range",
            "need index < size <= current tree size",
        ));
    }
    let proof = blocking(move || state.log.inclusion_proof(index, size))
        .await?
        .map_err(|e| log_read_failed("inclusion proof", &e))?;
    Ok(Json(InclusionProof {
        index,
        size,
        proof: proof.into_iter().map(|h| B64(h.to_vec())).collect(),
    }))
}

/// Query of `GET /v1/proof/consistency`.
#[derive(Deserialize)]
pub(super) struct ConsistencyQuery {
    old: u64,
    new: u64,
}

/// `GET /v1/proof/consistency?old=M&new=N`.
pub(super) async fn consistency(
    State(state): State<Arc<AppState>>,
    query: Result<Query<ConsistencyQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<ConsistencyProof>, ApiError> {
    let Query(ConsistencyQuery { old, new }) =
        query.map_err(|_| ApiError::bad_request("bad_query", "expected ?old=M&new=N (decimal)"))?;
    super::follow::covering(&state, new).await?;
    // RFC 9162 §2.1.4 defines consistency only from a non-empty tree.
    if old == 0 || old > new || new > state.log.size() {
        return Err(ApiError::bad_request(
            "bad_proof_range",
            "need 0 < old <= new <= current tree size",
        ));
    }
    let proof = blocking(move || state.log.consistency_proof(old, new))
        .await?
        .map_err(|e| log_read_failed("consistency proof", &e))?;
    Ok(Json(ConsistencyProof {
        old,
        new,
        proof: proof.into_iter().map(|h| B64(h.to_vec())).collect(),
    }))
}

/// `GET /v1/parties/{id}`.
pub(super) async fn party(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<PartyRecord>, ApiError> {
    let id = PartyId::new(&id)
        .map_err(|_| ApiError::bad_request("bad_party_id", "malformed party id"))?;
    let (index, previous, conflicting) = super::follow::look_up(&state, move |registry| {
        Ok(registry.party(&id).map(|p| {
            (
                p.enrollment_index,
                p.previous_enrollments,
                p.conflicting_enrollments,
            )
        }))
    })
    .await?
    .ok_or_else(|| ApiError::not_found("unknown_party", "no such party"))?;
    let bytes = blocking(move || state.log.entry(index))
        .await?
        .map_err(|e| log_read_failed("enrollment entry", &e))?;
    Ok(Json(PartyRecord {
        index,
        entry: B64(bytes),
        previous,
        conflicting,
    }))
}

/// `GET /v1/certificates/{id}`.
pub(super) async fn certificate(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Json<CertificateInfo>, ApiError> {
    let cert_id = parse_cert_id(&id)?;
    let (cert, receipts) = super::follow::look_up(&state, move |registry| {
        let Some(cert) = registry.certificate(&cert_id)? else {
            return Ok(None);
        };
        let receipts = registry.receipts(&cert_id)?.unwrap_or_default();
        Ok(Some((cert, receipts)))
    })
    .await?
    .ok_or_else(|| ApiError::not_found("unknown_certificate", "no such certificate"))?;
    Ok(Json(CertificateInfo {
        cert_id: cert_id.to_string(),
        registration_index: cert.registration_index,
        purged: cert.purged,
        accesses: u64::try_from(receipts.len()).unwrap_or(u64::MAX),
    }))
}

/// `GET /metrics`.
pub(super) async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    let body = state.metrics.render(state.log.size());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response()
}

/// Parses a certificate id from a path segment.
pub(super) fn parse_cert_id(text: &str) -> Result<CertId, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request("bad_cert_id", "a certificate id is 32 lowercase hex digits")
    })
}

fn parse_u64(text: &str, what: &str) -> Result<u64, ApiError> {
    text.parse().map_err(|_| {
        ApiError::bad_request("bad_number", format!("{what} must be a decimal number"))
    })
}

/// A failed read of the log: 503 if its database is unreachable (a shared log; it comes back by itself),
/// else 500.
pub(super) fn log_read_failed(what: &str, error: &ledger::Error) -> ApiError {
    tracing::error!(error = %error, "reading the log ({what}) failed");
    match error {
        ledger::Error::Database(_) | ledger::Error::LogFailed => ApiError::unavailable(),
        _ => ApiError::internal(),
    }
}

/// Runs blocking store work on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!(error = %e, "blocking task failed");
        ApiError::internal()
    })
}
