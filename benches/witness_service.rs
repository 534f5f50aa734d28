//! Witnesses through the real service: the time from an append to a published (2-of-3 cosigned) checkpoint that
//! covers it, and the offline verification rate of the receipts the service issues.
//!
//! Run with `cargo bench -p tradeledger --bench witness_service`. Three in-process witnesses and the service
//! (`--cosign-interval-ms 250`) on 127.0.0.1, each in its own temp directory. Prints: operation, count, ops/s,
//! p50, p99.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::Policy;
use tradeledger::client::ops;
use tradeledger::client::{Client, LogView};
use tradeledger::server::{LocalServer, ServeConfig};
use tradeledger::witness::{WitnessConfig, keygen, serve_witness};
use vault::{PartyId, PartyKeys, Role};

fn row(op: &str, mut samples: Vec<Duration>, total: Duration) {
    samples.sort();
    let pick = |percent: usize| samples[(samples.len() * percent).div_ceil(100).max(1) - 1];
    println!(
        "| {op:<52} | {:>6} | {:>8.0} | {:>10.3?} | {:>10.3?} |",
        samples.len(),
        samples.len() as f64 / total.as_secs_f64(),
        pick(50),
        pick(99)
    );
}

async fn run() {
    let root = tempfile::TempDir::new().unwrap();
    let data = root.path().join("log");
    std::fs::create_dir_all(&data).unwrap();
    let signer = ledger::NoteSigner::generate("bench.example/log").unwrap();
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(data.join("log.key"))
            .unwrap();
        std::io::Write::write_all(&mut f, format!("{}\n", &*signer.to_signer_key()).as_bytes())
            .unwrap();
    }
    let vkey = signer.verifier().to_vkey();
    let mut policy_text = format!("log {vkey}\n");
    for i in 0..3 {
        let dir = root.path().join(format!("w{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let verifier = keygen(&format!("w{i}.bench.example"), &dir.join("key")).unwrap();
        let config =
            WitnessConfig::open(&dir, &dir.join("key"), std::slice::from_ref(&vkey)).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(serve_witness(listener, config, std::future::pending()));
        policy_text += &format!("witness w{i} {} {url}\n", verifier.to_vkey());
    }
    policy_text += "group g 2 w0 w1 w2\nquorum g\n";
    let policy_path = root.path().join("policy");
    std::fs::write(&policy_path, &policy_text).unwrap();
    let policy = Policy::parse(policy_text.as_bytes()).unwrap();

    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let mut config = ServeConfig::new(data, operator.public());
    config.origin = "bench.example/log".into();
    config.witness_policy = Some(policy_path);
    config.cosign_interval = Duration::from_millis(250);
    let service = LocalServer::start(config).await.unwrap();
    let url = service.url.clone();
    let client = Arc::new(
        Client::new(&url)
            .unwrap()
            .with_identity(operator.id(), operator.signing_key())
            .with_policy(policy.clone()),
    );
    let operator = Arc::new(operator);

    println!(
        "| operation                                            |  count |    ops/s |        p50 |        p99 |"
    );
    println!(
        "|------------------------------------------------------|--------|----------|------------|------------|"
    );

    // Sequential appends (enrollments): the append's own acknowledgement, then until a published checkpoint
    // covers it (server long poll, the client verifying log signature and quorum).
    let (mut acks, mut covered) = (Vec::new(), Vec::new());
    let start = Instant::now();
    for n in 0..100 {
        let party = PartyKeys::generate(PartyId::new(&format!("p{n}")).unwrap(), Role::Broker);
        let t = Instant::now();
        let index = ops::enroll(&client, &operator, &party.public())
            .await
            .unwrap();
        acks.push(t.elapsed());
        let view = LogView::fetch_covering(&client, &vkey, index + 1)
            .await
            .unwrap();
        assert!(view.checkpoint().size > index);
        covered.push(t.elapsed());
    }
    let total = start.elapsed();
    row("append acknowledged (enroll), sequential", acks, total);
    row("append -> cosigned checkpoint covering it", covered, total);

    // Sparse appends (one every 400 ms, more than the interval): the cosigner starts a round at once.
    let mut sparse = Vec::new();
    let start = Instant::now();
    for n in 0..30 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        let party = PartyKeys::generate(PartyId::new(&format!("s{n}")).unwrap(), Role::Broker);
        let t = Instant::now();
        let index = ops::enroll(&client, &operator, &party.public())
            .await
            .unwrap();
        LogView::fetch_covering(&client, &vkey, index + 1)
            .await
            .unwrap();
        sparse.push(t.elapsed());
    }
    row(
        "sparse append (400 ms apart) -> cosigned checkpoint",
        sparse,
        start.elapsed(),
    );

    // Bursts: 20 concurrent appends, then the time until one cosigned checkpoint covers them all.
    let mut bursts = Vec::new();
    let start = Instant::now();
    for b in 0..10 {
        let t = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..20 {
            let (c, op) = (client.clone(), operator.clone());
            let keys =
                PartyKeys::generate(PartyId::new(&format!("b{b}x{n}")).unwrap(), Role::Broker);
            tasks.spawn(async move { ops::enroll(&c, &op, &keys.public()).await.unwrap() });
        }
        let mut last = 0;
        while let Some(i) = tasks.join_next().await {
            last = last.max(i.unwrap());
        }
        LogView::fetch_covering(&client, &vkey, last + 1)
            .await
            .unwrap();
        bursts.push(t.elapsed());
    }
    row(
        "burst of 20 appends -> cosigned checkpoint",
        bursts,
        start.elapsed(),
    );

    // Receipts issued by the service, verified offline (policy: log signature + 3 cosignatures + inclusion).
    let size = LogView::fetch(&client, &vkey)
        .await
        .unwrap()
        .checkpoint()
        .size;
    let mut receipts = Vec::new();
    for index in (0..size).step_by(7) {
        receipts.push(client.get_receipt(index).await.unwrap());
    }
    let mut samples = Vec::new();
    let start = Instant::now();
    for _ in 0..10 {
        for r in &receipts {
            let t = Instant::now();
            ops::verify_receipt(r, &vkey, Some(&policy)).unwrap();
            samples.push(t.elapsed());
        }
    }
    row(
        "verify service receipt offline (decode + policy)",
        samples,
        start.elapsed(),
    );
    service.stop().await.unwrap();
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run());
}
