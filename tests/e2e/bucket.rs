//! The log published to an S3-compatible bucket (moto) by the service and audited from it alone (issue 10
//! item 4). The publisher's own rules, raced without a service: [`crate::bucket_publisher`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use tradeledger::bucket::{Put, S3};

use crate::moto::{Moto, SECRET};
use crate::support::{World, captured_logs, example, run_cli};

/// The tree size of a checkpoint note (its second line).
pub(crate) fn note_size(note: &[u8]) -> u64 {
    std::str::from_utf8(note)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap()
}

/// Waits until the bucket's checkpoint covers `size` entries.
pub(crate) async fn wait_for_bucket(s3: &S3, size: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(object)) = s3.get("checkpoint").await
            && note_size(&object.bytes) >= size
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the bucket did not reach size {size} within 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `/metrics` has a line starting with `line`.
async fn wait_for_metric(world: &World, line: &str) -> String {
    wait_for_metrics(world, line, |text| {
        text.lines().any(|l| l.starts_with(line))
    })
    .await
}

/// `/metrics` once `holds` says it shows what is awaited (`what`, for the failure message); 30 s at most.
async fn wait_for_metrics(world: &World, what: &str, holds: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, body) = world.server.get("/metrics").await;
        let text = String::from_utf8(body).unwrap();
        if holds(&text) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "no metric {what:?} within 30 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn register_some(world: &World, n: usize) {
    for _ in 0..n {
        world.register(&example("usmca.json"), &[&world.cbp]).await;
    }
}

/// `tradeledger audit --tiles URL` as a user types it, with the log key alone.
async fn audit_tiles(url: &str, vkey: &str, state: &std::path::Path) -> crate::support::Run {
    let home = tempfile::tempdir().unwrap();
    let state = state.to_str().unwrap();
    run_cli(
        home.path(),
        &["audit", "--tiles", url, "--log-key", vkey, "--state", state],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_served_log_audits_from_the_bucket_alone_and_a_changed_tile_is_named() {
    let moto = Moto::start();
    moto.bucket("tl-audit", "").await;
    let location = Arc::new(moto.location("tl-audit", "log/v1"));
    let world = World::new_with(|c| c.bucket = Some(location.clone())).await;
    register_some(&world, 3).await;
    let size = world.server.size().await;
    let s3 = S3::new(&location).unwrap();
    wait_for_bucket(&s3, size).await;
    let metrics = wait_for_metric(&world, "tradeledger_bucket_lag_entries 0").await;
    assert!(
        metrics.contains(&format!("tradeledger_bucket_size {size}\n")),
        "{metrics}"
    );
    let url = moto.public_url("tl-audit", "log/v1");
    for (object, cache) in [
        ("checkpoint".to_owned(), "no-cache"),
        (
            format!("tile/0/000.p/{size}"),
            "public, max-age=31536000, immutable",
        ),
        (
            format!("tile/entries/000.p/{size}"),
            "public, max-age=31536000, immutable",
        ),
    ] {
        let response = reqwest::get(format!("{url}/{object}")).await.unwrap();
        assert_eq!(response.status(), 200, "{object}");
        assert_eq!(response.headers()["cache-control"], cache, "{object}");
    }
    let vkey = world.vkey().to_owned();
    let _data = world.stop().await;

    // No server runs now: the bucket alone, and the log key.
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("audit.state");
    let run = audit_tiles(&url, &vkey, &state).await;
    assert!(run.ok, "{}\n{}", run.stderr, run.stdout);
    assert!(
        run.stdout.contains(&format!("log size {size} ")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("verdict: clean"), "{}", run.stdout);

    // One byte of a hash tile changed in the bucket: the audit fails and names that tile.
    let name = format!("tile/0/000.p/{size}");
    let object = s3.get(&name).await.unwrap().unwrap();
    let mut tampered = object.bytes.clone();
    tampered[5] ^= 1;
    let put = s3
        .put_replacing(&name, tampered, "no-cache", object.etag.as_deref().unwrap())
        .await
        .unwrap();
    assert_eq!(put, Put::Written);
    let run = audit_tiles(&url, &vkey, &state).await;
    assert!(
        !run.ok,
        "a changed tile must fail the audit: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&name),
        "the audit must name {name}: {}",
        run.stdout
    );
    assert!(
        run.stderr.contains("audit found 1 problem(s)"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_conflicting_tile_in_the_bucket_stops_publishing_loudly() {
    let moto = Moto::start();
    let s3 = moto.bucket("tl-conflict", "").await;
    // Whatever size the first round aims at, its first entry bundle is already there with other bytes.
    for width in 1..=16 {
        let name = format!("tile/entries/000.p/{width}");
        s3.put_new(&name, b"not this log".to_vec(), "no-cache")
            .await
            .unwrap();
    }
    let location = Arc::new(moto.location("tl-conflict", ""));
    let world = World::new_with(|c| c.bucket = Some(location.clone())).await;
    let metrics = wait_for_metric(&world, "tradeledger_bucket_conflicts_total 1").await;
    assert!(
        metrics.contains("tradeledger_bucket_publishing 0\n"),
        "{metrics}"
    );
    let logs = String::from_utf8_lossy(&captured_logs()).into_owned();
    assert!(
        logs.contains("already holds other bytes than this log's"),
        "no error line for the conflict"
    );
    // Nothing was published over the conflict, and the service keeps serving.
    assert!(s3.get("checkpoint").await.unwrap().is_none());
    register_some(&world, 1).await;
    world.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn publishing_survives_a_bucket_outage_and_catches_up() {
    let mut moto = Moto::start();
    moto.bucket("tl-outage", "").await;
    let location = Arc::new(moto.location("tl-outage", ""));
    let s3 = S3::new(&location).unwrap();
    let world = World::new_with(|c| c.bucket = Some(location.clone())).await;
    register_some(&world, 2).await;
    wait_for_bucket(&s3, world.server.size().await).await;
    let url = moto.public_url("tl-outage", "");
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("audit.state");
    let run = audit_tiles(&url, world.vkey(), &state).await;
    assert!(run.ok, "{}\n{}", run.stderr, run.stdout);

    // The bucket goes away mid-load: registrations keep succeeding, the lag and the failures show.
    moto.kill();
    register_some(&world, 8).await;
    // The counter is there from the start; what is awaited is the next round failing (rounds are spaced, so
    // the registrations above may all be answered before the publisher tries again).
    let failed = "tradeledger_bucket_errors_total ";
    let metrics = wait_for_metrics(&world, "a failed publishing round", |text| {
        text.lines()
            .any(|l| l.starts_with(failed) && l != "tradeledger_bucket_errors_total 0")
    })
    .await;
    assert!(
        !metrics.contains("tradeledger_bucket_lag_entries 0\n"),
        "{metrics}"
    );

    // A new (empty) S3 server comes back on the same address: publishing resumes and catches up.
    let back = Moto::start_on(moto.port);
    back.bucket("tl-outage", "").await;
    register_some(&world, 1).await;
    let size = world.server.size().await;
    wait_for_bucket(&s3, size).await;
    wait_for_metric(&world, "tradeledger_bucket_lag_entries 0").await;
    let vkey = world.vkey().to_owned();
    let _data = world.stop().await;
    let run = audit_tiles(&url, &vkey, &state).await;
    assert!(run.ok, "{}\n{}", run.stderr, run.stdout);
    assert!(
        run.stdout
            .contains("verdict: clean; consistent with the previous audit"),
        "{}",
        run.stdout
    );

    // The secret key and presigned URLs never reached a log line, failures included.
    let logs = String::from_utf8_lossy(&captured_logs()).into_owned();
    assert!(
        logs.contains("bucket publishing failed"),
        "the outage was not logged"
    );
    assert!(
        !logs.contains(SECRET),
        "the AWS secret appeared in the logs"
    );
    assert!(
        !logs.contains("X-Amz-Signature"),
        "a presigned URL appeared in the logs"
    );
}

#[tokio::test]
async fn serve_names_a_missing_bucket_setting_without_starting() {
    let dir = tempfile::tempdir().unwrap();
    let keys = vault::PartyKeys::generate(
        vault::PartyId::new("operator").unwrap(),
        vault::Role::Operator,
    );
    crate::support::save_keys(dir.path(), &keys);
    let operator = dir.path().join("operator.key.pub");
    let run = crate::support::cli(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--bucket",
            "s3://tl-missing/p",
            "--data",
        ])
        .arg(dir.path().join("data"))
        .arg("--operator")
        .arg(&operator)
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env("AWS_ACCESS_KEY_ID", "AKIATEST")
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .output()
        .await
        .unwrap();
    assert!(!run.status.success());
    let stderr = String::from_utf8(run.stderr).unwrap();
    assert!(stderr.contains("AWS_ENDPOINT_URL"), "{stderr}");
    assert!(!stderr.contains(SECRET), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tradeledger_serve_with_bucket_publishes_as_an_operator_runs_it() {
    use tokio::io::AsyncBufReadExt as _;
    let moto = Moto::start();
    let s3 = moto.bucket("tl-serve", "").await;
    let dir = tempfile::tempdir().unwrap();
    let keys = vault::PartyKeys::generate(
        vault::PartyId::new("operator").unwrap(),
        vault::Role::Operator,
    );
    crate::support::save_keys(dir.path(), &keys);
    let data = dir.path().join("data");
    let mut child = crate::support::cli(dir.path())
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--bucket",
            "s3://tl-serve/log",
            "--data",
        ])
        .arg(&data)
        .arg("--operator")
        .arg(dir.path().join("operator.key.pub"))
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", crate::moto::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("RUST_LOG", "debug")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("serve did not start within 20 s")
        .unwrap()
        .expect("serve exited before listening");
    assert!(first.starts_with("listening on "), "{first}");
    // The log's first entry (the operator's enrollment) reaches the bucket's prefix.
    let s3_log = S3::new(&moto.location("tl-serve", "log")).unwrap();
    wait_for_bucket(&s3_log, 1).await;
    assert!(s3.get("log/tile/entries/000.p/1").await.unwrap().is_some());
    let vkey = std::fs::read_to_string(data.join("log.vkey")).unwrap();
    let pid = child.id().unwrap();
    // SIGTERM: a graceful stop, then its whole stderr (debug logs included) is checked for the secret.
    let _ = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status();
    let out = child.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        !stderr.contains(SECRET),
        "the AWS secret appeared in the service's log"
    );
    let state = dir.path().join("audit.state");
    let run = audit_tiles(&moto.public_url("tl-serve", "log"), vkey.trim(), &state).await;
    assert!(run.ok, "{}\n{}", run.stderr, run.stdout);
}
