//! The timed phases: N tasks send prepared requests as fast as the server answers (a closed loop), each
//! timing its own requests from send to the last byte of the answer. With several servers (frontends of one
//! database), client i talks to server i mod n.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::prepare::Prepared;
use crate::server::process_cpu;

/// What one phase measured.
#[derive(Debug, Clone, serde::Serialize)]
pub(super) struct Phase {
    /// What was done, e.g. "register (64 clients)".
    pub(super) operation: String,
    /// Concurrent clients.
    pub(super) clients: usize,
    /// Requests sent.
    pub(super) sent: usize,
    /// Requests answered with success.
    pub(super) ok: usize,
    /// Refusals and failures, by error code (or "transport").
    pub(super) errors: BTreeMap<String, usize>,
    /// Wall time of the phase, in seconds.
    pub(super) seconds: f64,
    /// Successful requests per second of wall time.
    pub(super) per_second: f64,
    /// Latency percentiles of successful requests, in milliseconds.
    pub(super) p50_ms: f64,
    /// 99th percentile.
    pub(super) p99_ms: f64,
    /// Slowest.
    pub(super) max_ms: f64,
    /// CPU this process used during the phase, per request, in microseconds (the client's share when the
    /// server runs in another process; client and server together when embedded).
    pub(super) process_cpu_us_per_request: f64,
    /// Load average (1 min) at the end of the phase, other processes on the machine included.
    pub(super) loadavg_end: f64,
    /// The server's CPU during the phase (its `/metrics` counter), per request, in microseconds; `None` if
    /// the server does not report it. The embedded server's process is the load generator's too.
    pub(super) server_cpu_us_per_request: Option<f64>,
    /// The same in units of one single-core Ed25519 `verify_strict`.
    pub(super) server_cpu_verifies_per_request: Option<f64>,
    /// `per_second` ÷ single-core Ed25519 verifies per second (issue 12's ratio).
    pub(super) ops_per_verify: f64,
    /// Successful requests per second of wall time at each server, in `--server` order.
    pub(super) per_server_per_second: Vec<f64>,
    /// Acknowledgment to the first published checkpoint covering the entry, p50, in milliseconds
    /// (registrations only).
    pub(super) published_p50_ms: Option<f64>,
    /// The same, p99.
    pub(super) published_p99_ms: Option<f64>,
    /// Acknowledged entries no checkpoint was seen to cover within the wait after the phase.
    pub(super) unpublished: usize,
}

/// What [`run`] returns besides the phase: each acknowledged log index with when its answer arrived.
pub(super) type Acks = Vec<(Instant, u64)>;

/// An answer worth checking: its status and body.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) body: Vec<u8>,
}

/// Sends `requests` with `clients` concurrent tasks spread over `bases` in turn; `check` judges each answer
/// (`Err(code)` counts as an error under that code; `Ok(Some(index))` is an acknowledged log entry).
pub(super) async fn run(
    operation: String,
    http: &reqwest::Client,
    bases: &[String],
    method: reqwest::Method,
    clients: usize,
    requests: Vec<Prepared>,
    check: impl Fn(&Answer) -> Result<Option<u64>, String> + Send + Sync + 'static,
) -> anyhow::Result<(Phase, Acks)> {
    let sent = requests.len();
    let queue = Arc::new(Mutex::new(requests.into_iter()));
    let check = Arc::new(check);
    let cpu_before = process_cpu();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients.max(1) {
        let queue = Arc::clone(&queue);
        let check = Arc::clone(&check);
        let http = http.clone();
        let server = client % bases.len().max(1);
        let base = bases.get(server).cloned().unwrap_or_default();
        let method = method.clone();
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut acks = Vec::new();
            let mut errors: BTreeMap<String, usize> = BTreeMap::new();
            loop {
                let next = queue
                    .lock()
                    .map_err(|_| anyhow::anyhow!("queue lock poisoned"))?
                    .next();
                let Some(request) = next else { break };
                let begun = Instant::now();
                let sent = http
                    .request(method.clone(), format!("{base}{}", request.path))
                    .headers(request.headers)
                    .body(request.body)
                    .send()
                    .await;
                let answer = match sent {
                    Ok(response) => {
                        let status = response.status().as_u16();
                        response.bytes().await.map(|b| Answer {
                            status,
                            body: b.to_vec(),
                        })
                    }
                    Err(e) => Err(e),
                };
                let elapsed = begun.elapsed();
                match answer
                    .map_err(|_| "transport".to_owned())
                    .and_then(|a| check(&a))
                {
                    Ok(index) => {
                        latencies.push(elapsed);
                        acks.extend(index.map(|index| (begun + elapsed, index)));
                    }
                    Err(code) => *errors.entry(code).or_default() += 1,
                }
            }
            anyhow::Ok((server, latencies, acks, errors))
        }));
    }
    let mut latencies = Vec::with_capacity(sent);
    let mut all_acks = Vec::with_capacity(sent);
    let mut per_server = vec![0_usize; bases.len().max(1)];
    let mut errors: BTreeMap<String, usize> = BTreeMap::new();
    for task in tasks {
        let (server, mine, acks, their_errors) = task.await??;
        if let Some(count) = per_server.get_mut(server) {
            *count += mine.len();
        }
        latencies.extend(mine);
        all_acks.extend(acks);
        for (code, n) in their_errors {
            *errors.entry(code).or_default() += n;
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    let cpu = process_cpu().saturating_sub(cpu_before).as_secs_f64();
    latencies.sort_unstable();
    let ok = latencies.len();
    let rate = |ok: usize| {
        if seconds > 0.0 {
            ok as f64 / seconds
        } else {
            0.0
        }
    };
    let phase = Phase {
        operation,
        clients,
        sent,
        ok,
        errors,
        seconds,
        per_second: rate(ok),
        p50_ms: percentile(&latencies, 50),
        p99_ms: percentile(&latencies, 99),
        max_ms: latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3),
        process_cpu_us_per_request: if sent > 0 {
            cpu * 1e6 / sent as f64
        } else {
            0.0
        },
        loadavg_end: loadavg().first().copied().unwrap_or(0.0),
        server_cpu_us_per_request: None,
        server_cpu_verifies_per_request: None,
        ops_per_verify: 0.0,
        per_server_per_second: per_server.into_iter().map(rate).collect(),
        published_p50_ms: None,
        published_p99_ms: None,
        unpublished: 0,
    };
    Ok((phase, all_acks))
}

/// The nearest-rank percentile of sorted latencies, in milliseconds.
pub(super) fn percentile(sorted: &[Duration], p: usize) -> f64 {
    let rank = sorted.len().saturating_mul(p).div_ceil(100).max(1);
    sorted.get(rank - 1).map_or(0.0, |d| d.as_secs_f64() * 1e3)
}

/// The three load averages (`/proc/loadavg`), or nothing off Linux.
pub(super) fn loadavg() -> Vec<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .filter_map(|f| f.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}
