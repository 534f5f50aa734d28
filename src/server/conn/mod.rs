//! The accept loop: a bounded number of connections, each served by hyper behind a [`gate::Gate`], and a
//! shutdown that finishes in-flight requests within a bound, then drops what is left.
//!
//! `axum::serve` gives hyper no timer and no limit; this is its replacement, on the same hyper (no second
//! HTTP stack).

mod framing;
mod gate;

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use http_body_util::BodyExt as _;
use hyper_util::rt::TokioIo;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub(crate) use framing::HeadLimits;
pub(crate) use gate::GateConfig;

/// How connections are bounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnConfig {
    /// Most connections served at once (further ones get a 503 and are closed); lowered at start to fit the
    /// process's open-file limit.
    pub(crate) max_connections: usize,
    /// What each connection's gate enforces.
    pub(crate) gate: GateConfig,
    /// After the shutdown signal, how long in-flight requests may take before their connections are dropped.
    pub(crate) shutdown_timeout: Duration,
}

/// File descriptors kept for the stores, the listener and the runtime, out of the open-file limit.
const FD_RESERVE: usize = 64;

/// The connection slots, and whether they run short.
pub(super) struct Slots {
    semaphore: Arc<Semaphore>,
    /// Fewer free slots than this: connections that idle or dawdle over a head are shed.
    low_water: usize,
}

impl Slots {
    fn new(max: usize) -> Self {
        Slots {
            semaphore: Arc::new(Semaphore::new(max)),
            low_water: (max / 8).max(1),
        }
    }

    fn try_take(&self) -> Option<OwnedSemaphorePermit> {
        self.semaphore.clone().try_acquire_owned().ok()
    }

    pub(super) fn under_pressure(&self) -> bool {
        self.semaphore.available_permits() < self.low_water
    }
}

/// The connection cap: the configured one, lowered to fit the open-file limit (keeping [`FD_RESERVE`] free),
/// so that accepting never fails for want of a descriptor.
fn effective_max_connections(configured: usize) -> usize {
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3))
                .and_then(|soft| soft.parse::<usize>().ok())
        });
    match limit {
        Some(files) => configured.min(files.saturating_sub(FD_RESERVE).max(files / 2).max(1)),
        None => configured,
    }
}

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, lets in-flight requests
/// finish for at most `config.shutdown_timeout`, and drops the connections still open.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    config: ConnConfig,
    shutdown: impl Future<Output = ()>,
) {
    let max = effective_max_connections(config.max_connections);
    if max < config.max_connections {
        tracing::warn!(
            configured = config.max_connections,
            max,
            "connection cap lowered to fit the open-file limit"
        );
    }
    let slots = Arc::new(Slots::new(max));
    let (drain, draining) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => match slots.try_take() {
                    Some(slot) => {
                        let connection = connection(stream, app.clone(), config.gate, slots.clone(), draining.clone());
                        connections.spawn(async move {
                            connection.await;
                            drop(slot);
                        });
                    }
                    None => refuse_busy(&stream),
                },
                // Out of descriptors or memory, or the client gave up: never spin, never stop serving.
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; backing off");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    drop(listener);
    let _ = drain.send(true);
    let open = connections.len();
    if open > 0 {
        tracing::info!(open, "finishing in-flight requests");
    }
    let finished = tokio::time::timeout(config.shutdown_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            open = connections.len(),
            "shutdown timeout: dropping the connections still open"
        );
        connections.abort_all();
        while connections.join_next().await.is_some() {}
    }
}

/// At the connection cap: a 503 JSON answer, best effort, and the connection is closed at once.
fn refuse_busy(stream: &tokio::net::TcpStream) {
    let answer = framing::Refusal::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "server_busy",
        "too many connections; retry later",
    )
    .response();
    let _ = stream.try_write(&answer);
}

/// Serves one connection until it closes, or until a drain is asked for and its in-flight requests finish.
async fn connection(
    stream: tokio::net::TcpStream,
    app: Router,
    config: GateConfig,
    slots: Arc<Slots>,
    mut draining: tokio::sync::watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let in_flight = Arc::new(gate::InFlight::default());
    let io = TokioIo::new(gate::Gate::new(stream, config, slots, in_flight.clone()));
    let service =
        hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
            let guard = in_flight.enter();
            let call = tower::ServiceExt::oneshot(app.clone(), request.map(axum::body::Body::new));
            async move {
                let response = call.await?;
                // The request counts as in flight until hyper has taken the whole answer.
                Ok::<_, Infallible>(response.map(|body| {
                    axum::body::Body::new(body.map_frame(move |frame| {
                        let _ = &guard;
                        frame
                    }))
                }))
            }
        });
    let mut http = hyper::server::conn::http1::Builder::new();
    // The gate checked the head against limits at most these; hyper's own never trip first.
    http.max_headers(config.head.max_headers)
        .max_buf_size((config.head.max_head_bytes + 1024).max(64 * 1024));
    let served = http.serve_connection(io, service);
    tokio::pin!(served);
    let drain = async move {
        let _ = draining.wait_for(|d| *d).await.map(|_| ());
    };
    tokio::select! {
        result = served.as_mut() => log_end(result),
        () = drain => {
            served.as_mut().graceful_shutdown();
            log_end(served.await);
        }
    }
}

fn log_end(result: Result<(), hyper::Error>) {
    if let Err(e) = result {
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
