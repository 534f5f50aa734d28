//! `tradeledger serve`: the HTTP service over the ledger and the vault.
//!
//! [`serve`] is the entry point: `main` hands it a bound listener and ctrl-c as the shutdown signal; tests bind
//! `127.0.0.1:0` and pass their own signal. Blocking store work runs on the blocking pool, never on the async
//! workers.

mod bucket_task;
mod conn;
mod cors;
mod cosigner;
mod cpu;
mod datadir;
mod entry_request;
mod error;
mod error_codes;
mod follow;
mod handlers;
mod json_body;
mod lengths;
mod lifecycle;
mod local;
mod locks;
mod logkey;
mod metrics;
mod migrate;
mod openapi;
mod page;
/// The throwaway PostgreSQL cluster of the unit tests (one per test binary).
#[cfg(test)]
#[path = "../../vault/tests/support/pg_cluster.rs"]
mod pg_cluster;
mod pg_frontends;
mod pg_lease;
mod pg_locks;
mod pg_nonces;
mod policies;
mod policy;
mod publish;
mod published;
mod read;
mod receipts;
mod registrar;
mod registry;
mod releases;
mod repair;
mod replay_journal;
mod retention;
mod sealed;
mod signed;
mod state;
mod stores;
mod vault_backend;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub use error::{ApiError, ErrorBody, ErrorDetail};
pub use error_codes::{ERROR_CODES, ErrorCode, error_code_table};
pub use local::LocalServer;
pub use metrics::{PROCESS_CPU_SECONDS, parse_process_cpu, process_cpu};
pub use migrate::{MigrateReport, migrate, publish_migrated};
pub use openapi::openapi_json;
pub use publish::Checkpoints;
pub use repair::{RepairReport, repair};
pub use state::AppState;
pub use vault_backend::VaultBackend;

use crate::httpsig::ReplayConfig;

/// How a service instance is set up.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The data directory: the log and its key live here, and the vault unless `postgres` is set.
    pub data: PathBuf,
    /// Keep the log, the vault and the replay nonces in this PostgreSQL database instead, shared with any other
    /// frontend started on it (`data` then holds only this frontend's own files).
    pub postgres: Option<PostgresUrl>,
    /// Sign with the log key in this file instead of `DATA/log.key` (every frontend of one database must
    /// sign with the same key).
    pub log_key: Option<PathBuf>,
    /// With `postgres`: record this frontend's policy set as the one every frontend must run.
    pub adopt_policies: bool,
    /// With `postgres`: longest wait for a decision's cross-frontend lock before answering 503.
    pub lock_wait: Duration,
    /// With `postgres`: how often the registry and the published checkpoint take in other frontends' appends.
    pub follow_every: Duration,
    /// Most connections to PostgreSQL, vault and nonce store together.
    pub postgres_connections: u32,
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
    /// How long a certificate body is kept after registration; older ones are purged by the retention sweep.
    pub retention: Duration,
    /// How often the retention sweep runs.
    pub sweep_every: Duration,
    /// A C2SP tlog-policy file listing this log, the witnesses (with URLs) and the quorum; with it, `/checkpoint`
    /// serves only checkpoints the witnesses cosigned to the quorum. `None`: no witnesses.
    pub witness_policy: Option<PathBuf>,
    /// Least time between two cosigning rounds.
    pub cosign_interval: Duration,
    /// Most request nonces the replay guard remembers at once, all parties together (about 50 bytes each).
    pub max_replay_entries: usize,
    /// What one client can hold: connections, time, buffered bodies.
    pub net: NetLimits,
    /// Publish the log (tiles, entry bundles, checkpoint) to this S3-compatible bucket as it grows; with
    /// `postgres`, also keep the vault's ciphertexts under its private prefix.
    pub bucket: Option<Arc<crate::bucket::BucketLocation>>,
    /// How old a bucket blob of a registration that never committed must be before the sweep (run with the
    /// retention sweep) deletes it: longer than any registration takes.
    pub orphan_grace: Duration,
    /// A checkpoint this log already published (a file): start is refused if the log is behind it or not
    /// consistent with it (a restore from an older backup).
    pub published_checkpoint: Option<PathBuf>,
}

/// PostgreSQL connection settings (a `postgresql://` URL or `key=value` settings, completed from the `PG*`
/// environment variables). They may hold a password, so they are never printed.
#[derive(Clone)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// Wraps connection settings.
    pub fn new(url: String) -> Self {
        PostgresUrl(url)
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PostgresUrl(<not shown>)")
    }
}

/// The bounds on what clients, authenticated or not, can make the service hold (docs/operations.md,
/// "Connection limits").
#[derive(Debug, Clone, Copy)]
pub struct NetLimits {
    /// Most connections at once; further ones get 503 `server_busy` and are closed. Lowered at start to fit
    /// the open-file limit.
    pub max_connections: usize,
    /// Longest wait for a complete request head: from accept for a connection's first request, from its first
    /// byte for later ones.
    pub header_timeout: Duration,
    /// Longest a kept-alive connection may idle between requests.
    pub idle_timeout: Duration,
    /// Longest a signed request's body may take to arrive.
    pub body_timeout: Duration,
    /// After the shutdown signal, how long in-flight requests may take before their connections are dropped.
    pub shutdown_timeout: Duration,
    /// Most bytes of request bodies buffered at once across all connections.
    pub body_budget_bytes: usize,
    /// Longest request head (request line and header fields), in bytes.
    pub max_head_bytes: usize,
    /// Longest request target, in bytes.
    pub max_uri_bytes: usize,
    /// Most header fields in a request.
    pub max_headers: usize,
}

impl Default for NetLimits {
    fn default() -> Self {
        NetLimits {
            max_connections: 10_000,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
            shutdown_timeout: Duration::from_secs(10),
            body_budget_bytes: 64 << 20,
            max_head_bytes: 16 << 10,
            max_uri_bytes: 8 << 10,
            max_headers: 100,
        }
    }
}

impl NetLimits {
    fn conn_config(&self) -> conn::ConnConfig {
        conn::ConnConfig {
            max_connections: self.max_connections.max(1),
            gate: conn::GateConfig {
                head: conn::HeadLimits {
                    max_head_bytes: self.max_head_bytes,
                    max_uri_bytes: self.max_uri_bytes,
                    max_headers: self.max_headers.max(1),
                },
                header_timeout: self.header_timeout,
                idle_timeout: self.idle_timeout,
                body_timeout: self.body_timeout,
                shed_after: SHED_AFTER.min(self.header_timeout),
            },
            shutdown_timeout: self.shutdown_timeout,
        }
    }
}

/// When connection slots run short, how long a connection may idle or hold an incomplete head before it is
/// closed to make room.
const SHED_AFTER: Duration = Duration::from_secs(1);

/// The default [`ServeConfig::orphan_grace`]: 10 minutes, far beyond a registration's bucket and database
/// timeouts.
pub const DEFAULT_ORPHAN_GRACE: Duration = Duration::from_secs(600);

/// The default retention period: 5 years (1826 days).
pub const DEFAULT_RETENTION_DAYS: u64 = 1826;

impl ServeConfig {
    /// A configuration with the defaults for everything but the data directory and the operator.
    pub fn new(data: PathBuf, operator: vault::PartyPublic) -> Self {
        ServeConfig {
            data,
            postgres: None,
            log_key: None,
            adopt_policies: false,
            lock_wait: Duration::from_secs(5),
            follow_every: Duration::from_millis(200),
            postgres_connections: 16,
            operator,
            policies: None,
            origin: "tradeledger.example/log".to_owned(),
            max_body_bytes: 1 << 20,
            max_skew: Duration::from_secs(300),
            retention: Duration::from_secs(DEFAULT_RETENTION_DAYS * 86_400),
            sweep_every: Duration::from_secs(3600),
            witness_policy: None,
            cosign_interval: Duration::from_millis(250),
            max_replay_entries: ReplayConfig::default().max_entries_total,
            net: NetLimits::default(),
            bucket: None,
            orphan_grace: DEFAULT_ORPHAN_GRACE,
            published_checkpoint: None,
        }
    }
}

/// Opens the stores in `config.data` and serves until `shutdown` completes, then stops accepting, finishes
/// in-flight requests (for at most `config.net.shutdown_timeout`, then drops their connections) and flushes the
/// stores.
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
    let mut state = state;
    if let Some(location) = state.config.bucket.clone()
        && let Some(note) = published::bucket_checkpoint(&location).await?
    {
        state = tokio::task::spawn_blocking(move || {
            published::check_bucket_note(&state, &note).map(|()| state)
        })
        .await
        .context("checking the bucket's checkpoint")??;
    }
    let state = Arc::new(state);
    // With frontends sharing the log, one publishes to the bucket (and cosigns what it publishes) at a time.
    let lease = (state.config.bucket.as_deref()).and_then(|l| bucket_task::lease(&state, l));
    let cosigner = tokio::spawn(cosigner::run(state.clone(), lease.clone()));
    let bucket = state
        .config
        .bucket
        .clone()
        .map(|location| tokio::spawn(bucket_task::run(state.clone(), location, lease)));
    let _ = ready.send(());
    let (stop_sweep, sweep_stopped) = tokio::sync::oneshot::channel();
    let sweeper = tokio::spawn(retention::run(state.clone(), sweep_stopped));
    let follower = tokio::spawn(follow::run(state.clone(), state.config.follow_every));
    let app = router(state.clone());
    // The shutdown signal also ends long polls and the cosigner, so that in-flight requests finish promptly.
    let stop = state.checkpoints.stop_handle();
    let net = state.config.net.conn_config();
    conn::serve(listener, app, net, async move {
        shutdown.await;
        stop.send_replace(true);
    })
    .await;
    state.checkpoints.stop();
    let _ = stop_sweep.send(());
    cosigner.await.context("the cosigner task panicked")?;
    sweeper.await.context("the retention sweep panicked")?;
    if let Some(bucket) = bucket {
        bucket.await.context("the bucket publisher panicked")?;
    }
    follower.await.context("the catch-up task panicked")?;
    let state = sole_owner(state).await?;
    tokio::task::spawn_blocking(move || state.close())
        .await
        .context("closing the stores")??;
    Ok(())
}

/// Waits until nothing but `state` holds the state, so the stores can be closed.
///
/// Every connection task has ended (or was dropped at the shutdown timeout), but a blocking store task whose
/// client went away runs on to completion. That is short: this waits for it, bounded.
async fn sole_owner(mut state: Arc<AppState>) -> anyhow::Result<AppState> {
    for _ in 0..1000 {
        match Arc::try_unwrap(state) {
            Ok(state) => return Ok(state),
            Err(shared) => state = shared,
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("requests still hold the state 10 s after shutdown")
}

/// The service's routes.
pub fn router(state: Arc<AppState>) -> Router {
    let max_body = state.config.max_body_bytes;
    Router::new()
        .route("/checkpoint", get(receipts::checkpoint))
        .route("/v1/receipts/{index}", get(receipts::receipt))
        .route("/tile/{*rest}", get(read::tile))
        .route("/log.vkey", get(read::vkey))
        .route("/v1/entries/{index}", get(read::entry))
        .route("/v1/proof/inclusion", get(read::inclusion))
        .route("/v1/proof/consistency", get(read::consistency))
        .route("/v1/parties/{id}", get(read::party))
        .route("/v1/parties", post(handlers::enroll))
        .route("/v1/parties/{id}/rotations", post(lifecycle::rotate))
        .route("/v1/certificates", post(handlers::register))
        .route("/v1/certificates/{id}", get(read::certificate))
        .route(
            "/v1/certificates/{id}/grants",
            post(handlers::grant).get(lifecycle::list_grants),
        )
        .route("/v1/certificates/{id}/receipts", get(lifecycle::receipts))
        .route("/v1/certificates/{id}/rewraps", post(lifecycle::rewrap))
        .route("/v1/certificates/{id}/revocations", post(handlers::revoke))
        .route("/v1/certificates/{id}/purge", post(handlers::purge))
        .route("/v1/certificates/{id}/sealed", get(sealed::sealed))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(read::metrics))
        .route("/openapi.json", get(openapi::serve))
        .route("/", get(page::index))
        .route("/style.css", get(page::style))
        .route("/js/{file}", get(page::script))
        .fallback(|| async { ApiError::not_found("no_such_route", "no such route") })
        // Refuses a declared Content-Length over the cap before reading anything; DefaultBodyLimit alone only
        // stops once that much has arrived, so a client declaring a huge body and sending none held the
        // request open.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(max_body))
        .layer(axum::middleware::from_fn(error::json_errors))
        .layer(axum::middleware::from_fn(cors::public_reads))
        .layer(axum::Extension(signed::BodyBudget::new(
            state.config.net.body_budget_bytes,
        )))
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
