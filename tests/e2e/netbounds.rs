//! What an unauthenticated client can hold: request bodies (memory), connections (file descriptors, slots) and
//! time. Refusals come before the body is read; slow heads, idle and stalled connections are closed; the
//! health check answers throughout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt as _;
use vault::{PartyId, PartyKeys, Role};

use crate::spawned::{Spawned, SpawnedWorld, exchange, healthz, json_error, read_answer};
use crate::support::{MAX_BODY, World, save_keys, sign};

/// A signed request head (POST, `Content-Length: len`) as `party` would send it for `body`.
fn signed_head(
    target: &str,
    body: &[u8],
    party: &str,
    key: &ed25519_dalek::SigningKey,
    created: u64,
) -> Vec<u8> {
    let mut head = format!(
        "POST {target} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in sign("POST", target, body, party, key, created) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsigned_stale_or_unknown_party_requests_are_refused_before_any_body_byte() {
    let w = World::new().await;
    let addr = w.server.url.trim_start_matches("http://").to_owned();
    let now = tradeledger::httpsig::unix_now();
    let body = vec![b' '; MAX_BODY - 1];
    let stranger = PartyKeys::generate(PartyId::new("stranger").unwrap(), Role::Importer);
    let cases = [
        (
            format!(
                "POST /v1/certificates HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes(),
            "missing_signature",
        ),
        (
            signed_head(
                "/v1/certificates",
                &body,
                "stranger",
                stranger.signing_key(),
                now,
            ),
            "unknown_party",
        ),
        (
            signed_head(
                "/v1/certificates",
                &body,
                w.importer.name(),
                w.importer.signing_key(),
                now - 3600,
            ),
            "stale_request",
        ),
    ];
    for (head, code) in cases {
        // The head alone, never a body byte: the refusal must not wait for one.
        let started = Instant::now();
        let (answer, _) = exchange(&addr, &head, Duration::from_secs(3)).await;
        assert!(
            !answer.is_empty(),
            "{code}: no answer within 3 s without a body (the server waits for the body)"
        );
        assert_eq!(json_error(&answer), (401, code.to_owned()), "{answer:.300}");
        assert!(started.elapsed() < Duration::from_secs(3));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_slow_max_size_bodies_hold_bounded_memory() {
    const CONNECTIONS: usize = 300;
    let w = SpawnedWorld::start(&[], None).await;
    let body = Arc::new(vec![b' '; (1 << 20) - 1]);
    let before = w.server.rss_kib();
    let release = Arc::new(tokio::sync::Notify::new());
    let (sent, mut all_sent) = tokio::sync::mpsc::channel(CONNECTIONS);
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let head = signed_head(
            "/v1/certificates",
            &body,
            w.importer.name(),
            w.importer.signing_key(),
            tradeledger::httpsig::unix_now(),
        );
        let (addr, body, release, sent) = (
            w.server.addr.clone(),
            body.clone(),
            release.clone(),
            sent.clone(),
        );
        let released = release.notified_owned();
        tasks.push(tokio::spawn(async move {
            let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            // Everything but the last byte, then stall; a refused connection stops taking bytes.
            let _ = tokio::time::timeout(Duration::from_secs(5), async {
                stream.write_all(&head).await?;
                stream.write_all(&body[..body.len() - 1]).await
            })
            .await;
            sent.send(()).await.unwrap();
            released.await;
            read_answer(&mut stream, Duration::from_millis(500)).await.0
        }));
    }
    for _ in 0..CONNECTIONS {
        all_sent.recv().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let during = w.server.rss_kib();
    release.notify_waiters();
    let mut busy = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.starts_with("HTTP/1.1 503") {
            assert_eq!(json_error(&answer), (503, "server_busy".to_owned()));
            assert!(
                answer.to_ascii_lowercase().contains("retry-after: "),
                "{answer:.300}"
            );
            busy += 1;
        }
    }
    let grown_mib = during.saturating_sub(before) / 1024;
    eprintln!(
        "RSS {before} KiB before, {during} KiB with {CONNECTIONS} slow 1 MiB bodies; {busy} refused busy"
    );
    assert!(
        grown_mib < 160,
        "{CONNECTIONS} slow 1 MiB bodies grew the server's RSS by {grown_mib} MiB"
    );
    assert!(busy > 0, "no body was refused over the buffer budget");
}

/// How an attacking connection ended: closed by the server after this long, never connected (the listen
/// backlog overflowed), or still open when the attacker gave up.
#[derive(Debug, PartialEq)]
enum Held {
    ClosedAfter(Duration),
    NotConnected,
    StillOpen,
}

/// Opens `n` connections that send a request head one header line a second, never finishing it; each task
/// returns when the server closes its connection.
fn trickle_heads(addr: &str, n: usize) -> Vec<tokio::task::JoinHandle<Held>> {
    (0..n)
        .map(|i| {
            let addr = addr.to_owned();
            tokio::spawn(async move {
                let Ok(mut stream) = tokio::net::TcpStream::connect(&addr).await else {
                    return Held::NotConnected;
                };
                let started = Instant::now();
                let mut line = format!("GET /healthz HTTP/1.1\r\nHost: x{i}\r\n");
                loop {
                    if stream.write_all(line.as_bytes()).await.is_err() {
                        return Held::ClosedAfter(started.elapsed());
                    }
                    let (_, closed) = read_answer(&mut stream, Duration::from_secs(1)).await;
                    if closed {
                        return Held::ClosedAfter(started.elapsed());
                    }
                    if started.elapsed() > Duration::from_secs(20) {
                        return Held::StillOpen;
                    }
                    line = "X-Slow: 1\r\n".to_owned();
                }
            })
        })
        .collect()
}

/// Opens `n` connections that send nothing; each returns when the server closes it.
fn silent(addr: &str, n: usize) -> Vec<tokio::task::JoinHandle<Held>> {
    (0..n)
        .map(|_| {
            let addr = addr.to_owned();
            tokio::spawn(async move {
                let Ok(mut stream) = tokio::net::TcpStream::connect(&addr).await else {
                    return Held::NotConnected;
                };
                let started = Instant::now();
                match read_answer(&mut stream, Duration::from_secs(20)).await {
                    (_, true) => Held::ClosedAfter(started.elapsed()),
                    (_, false) => Held::StillOpen,
                }
            })
        })
        .collect()
}

/// Probes `/healthz` every 200 ms for `during`; each probe must get `ok` within `within` (retrying a refused
/// connection). Returns the slowest.
async fn healthz_keeps_answering(addr: &str, during: Duration, within: Duration) -> Duration {
    let started = Instant::now();
    let mut slowest = Duration::ZERO;
    while started.elapsed() < during {
        let probe = Instant::now();
        loop {
            if healthz(addr, Duration::from_secs(1)).await.is_some() {
                break;
            }
            assert!(
                probe.elapsed() < within,
                "/healthz did not answer within {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        slowest = slowest.max(probe.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    slowest
}

async fn spawn_plain(nofile: Option<u32>) -> (Spawned, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    save_keys(dir.path(), &operator);
    let server = Spawned::start(
        &dir.path().join("data"),
        &dir.path().join("operator.key.pub"),
        &[],
        nofile,
    )
    .await;
    (server, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_does_not_starve_healthz_and_its_connections_are_closed() {
    let (server, _dir) = spawn_plain(None).await;
    let baseline = server.open_fds();
    let attack = Instant::now();
    // In waves, so that the listen backlog (1,024) takes them all rather than some after SYN retries.
    let mut attackers = Vec::new();
    for _ in 0..10 {
        attackers.extend(trickle_heads(&server.addr, 100));
        attackers.extend(silent(&server.addr, 100));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let slowest =
        healthz_keeps_answering(&server.addr, Duration::from_secs(3), Duration::from_secs(2)).await;
    eprintln!("slowest /healthz under 2,000 slowloris connections: {slowest:?}");
    let held = server.open_fds().saturating_sub(baseline);
    assert!(
        held > 1000,
        "the attack did not take hold: {held} connections"
    );
    // The server's own view: every slow or silent connection closed once the header timeout (10 s) passed.
    // (A silent client may not learn of it if the kernel dropped its connection before the server accepted it.)
    while server.open_fds() > baseline + 20 {
        assert!(
            attack.elapsed() < Duration::from_secs(25),
            "{} connections still open 25 s into the attack",
            server.open_fds() - baseline
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "{held} connections held at the peak, all closed {:?} into the attack",
        attack.elapsed()
    );
    let mut closed = 0;
    for attacker in attackers {
        attacker.abort();
        if let Ok(Held::ClosedAfter(_)) = attacker.await {
            closed += 1;
        }
    }
    eprintln!("{closed} of 2,000 attackers saw the server close their connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_answers_under_a_slowloris_with_256_file_descriptors() {
    let (server, _dir) = spawn_plain(Some(256)).await;
    let attackers = trickle_heads(&server.addr, 2000);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let slowest =
        healthz_keeps_answering(&server.addr, Duration::from_secs(5), Duration::from_secs(3)).await;
    eprintln!("slowest /healthz under 2,000 slowloris connections with 256 fds: {slowest:?}");
    for attacker in attackers {
        attacker.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_but_a_long_request_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    save_keys(dir.path(), &operator);
    let server = Spawned::start(
        &dir.path().join("data"),
        &dir.path().join("operator.key.pub"),
        &["--idle-timeout-ms", "1000"],
        None,
    )
    .await;
    // One answered request, then nothing: closed once the idle timeout passed.
    let mut idle = tokio::net::TcpStream::connect(&server.addr).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (answer, closed) = read_answer(&mut idle, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.300}");
    assert!(closed, "an idle kept-alive connection stayed open 5 s");
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(900),
        "closed after only {after:?}"
    );
    // A long poll (up to 10 s) is a request in flight, not an idle connection: it gets its answer.
    let (answer, _) = exchange(
        &server.addr,
        b"GET /checkpoint?min_size=1000000 HTTP/1.1\r\nHost: x\r\n\r\n",
        Duration::from_secs(15),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:.300}");
}
