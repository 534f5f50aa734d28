//! `tradeledger serve`: the HTTP service over the ledger and the vault.
//!
//! [`serve`] is the entry point: `main` hands it a bound listener and ctrl-c as the shutdown signal; tests bind
//! `127.0.0.1:0` and pass their own signal. Blocking store work runs on the blocking pool, never on the async
//! workers.

mod cpu;
mod error;
mod handlers;
mod logkey;
mod metrics;
mod policies;
mod policy;
mod read;
mod registrar;
mod registry;
mod signed;
mod state;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use state::AppState;

/// How a service instance is set up.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The data directory: log, vault and the log's key live here.
    pub data: PathBuf,
    /// The operator's public identity: the one party allowed to enroll others.
    pub operator: vault::PartyPublic,
    /// Directory of Cedar policies and their schema; `None`: `DATA/policies`, created with the built-in set.
    pub policies: Option<PathBuf>,
    /// The log's checkpoint origin line.
    pub origin: String,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest accepted difference between a request's or entry's timestamp and the server clock.
    pub max_skew: Duration,
}

impl ServeConfig {
    /// A configuration with the defaults for everything but the data directory and the operator.
    pub fn new(data: PathBuf, operator: vault::PartyPublic) -> Self {
        ServeConfig {
            data,
            operator,
            policies: None,
            origin: "tradeledger.example/log".to_owned(),
            max_body_bytes: 1 << 20,
            max_skew: Duration::from_secs(300),
        }
    }
}

/// Opens the stores in `config.data` and serves until `shutdown` completes, then finishes in-flight requests
/// and flushes the stores.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (ready, _) = tokio::sync::oneshot::channel();
    serve_with_ready(listener, config, shutdown, ready).await
}

/// [`serve`], telling `ready` once the stores are open and connections are accepted.
pub async fn serve_with_ready(
    listener: tokio::net::TcpListener,
    config: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: tokio::sync::oneshot::Sender<()>,
) -> anyhow::Result<()> {
    let state = tokio::task::spawn_blocking(move || AppState::open(config))
        .await
        .context("opening the stores")??;
    let state = Arc::new(state);
    let _ = ready.send(());
    let app = router(state.clone());
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")?;
    // Every request task holding the state has finished; what remains is ours to close.
    let state = Arc::try_unwrap(state)
        .map_err(|_| anyhow::anyhow!("requests still hold the state at shutdown"))?;
    tokio::task::spawn_blocking(move || state.close())
        .await
        .context("closing the stores")??;
    Ok(())
}

/// The service's routes.
pub fn router(state: Arc<AppState>) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .route("/checkpoint", get(read::checkpoint))
        .route("/tile/{*rest}", get(read::tile))
        .route("/log.vkey", get(read::vkey))
        .route("/v1/entries/{index}", get(read::entry))
        .route("/v1/proof/inclusion", get(read::inclusion))
        .route("/v1/proof/consistency", get(read::consistency))
        .route("/v1/parties/{id}", get(read::party))
        .route("/v1/parties", post(handlers::enroll))
        .route("/v1/certificates", post(handlers::register))
        .route("/v1/certificates/{id}", get(read::certificate))
        .route("/v1/certificates/{id}/grants", post(handlers::grant))
        .route("/v1/certificates/{id}/revocations", post(handlers::revoke))
        .route("/v1/certificates/{id}/purge", post(handlers::purge))
        .route("/v1/certificates/{id}/sealed", get(handlers::sealed))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(read::metrics))
        .fallback(|| async { ApiError::not_found("no_such_route", "no such route") })
        .layer(DefaultBodyLimit::max(max_body))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            state::count_and_trace,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::internal())
        }))
        .with_state(state)
}
