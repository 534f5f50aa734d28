//! `tradeledger bench --server A,B` against two frontends of one database (issue 10 item 9): the clients are
//! spread over both, each frontend's rate is reported, and every registration is timed to the published
//! checkpoint that covers it.

use serde_json::Value;

use crate::frontends::Pair;
use crate::support::run_cli;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_spreads_clients_over_two_frontends_and_times_publication() {
    let pair = Pair::start().await;
    let home = tempfile::tempdir().unwrap();
    let op_key = home.path().join("op.key");
    pair.operator.save(&op_key).unwrap();
    let vkey = home.path().join("log.vkey");
    std::fs::write(&vkey, format!("{}\n", pair.a.vkey)).unwrap();
    let servers = format!("{},{}", pair.a.url, pair.b.url);
    let run = run_cli(
        home.path(),
        &[
            "--json",
            "bench",
            "--server",
            &servers,
            "--operator-key",
            op_key.to_str().unwrap(),
            "--log-key",
            vkey.to_str().unwrap(),
            "--count",
            "120",
            "--clients",
            "4",
            "--importers",
            "4",
            "--opens",
            "20",
            "--open-clients",
            "2",
            "--body-bytes",
            "1024",
        ],
    )
    .await;
    assert!(run.ok, "{}\n{}", run.stdout, run.stderr);
    let summary: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(summary["server"], Value::String(servers.clone()));
    let register = &summary["phases"][0];
    assert_eq!(register["ok"], 120, "{register}");
    // Both frontends took registrations: clients 0 and 2 at A, 1 and 3 at B.
    let rates = register["per_server_per_second"].as_array().unwrap();
    assert_eq!(rates.len(), 2, "{register}");
    for rate in rates {
        assert!(rate.as_f64().unwrap() > 0.0, "{register}");
    }
    let total: f64 = rates.iter().map(|r| r.as_f64().unwrap()).sum();
    let per_second = register["per_second"].as_f64().unwrap();
    assert!(
        (total - per_second).abs() < 1e-6 * per_second.max(1.0),
        "{register}"
    );
    // Every acknowledged entry was seen in a published checkpoint, p50 <= p99.
    assert_eq!(register["unpublished"], 0, "{register}");
    let p50 = register["published_p50_ms"].as_f64().unwrap();
    let p99 = register["published_p99_ms"].as_f64().unwrap();
    assert!(0.0 <= p50 && p50 <= p99 && p99 < 30_000.0, "{register}");
    // Both frontends' logs hold all 120 registrations (plus the enrollments).
    let size = pair.settled_size().await;
    assert!(size >= 120 + 7, "size {size}");
    pair.stop().await;
}
