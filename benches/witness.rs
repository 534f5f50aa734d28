//! Witness benchmarks: cosigning latency with three loopback witnesses, and offline receipt verification rate.
//!
//! Run with `cargo bench -p tradeledger --bench witness`. Prints: operation, count, ops/s, p50, p99.
#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use ledger::{
    Checkpoint, MemoryTree, NoteSigner, Policy, TlogProof, leaf_hash, sign_checkpoint,
    verify_tlog_proof,
};
use tradeledger::witness::{
    WitnessClient, WitnessConfig, cosign_checkpoint, keygen, serve_witness,
};

const ORIGIN: &str = "bench.example/log";

fn note(log: &NoteSigner, tree: &MemoryTree) -> String {
    let cp = Checkpoint {
        origin: ORIGIN.into(),
        size: tree.size(),
        root_hash: tree.root(),
        extensions: Vec::new(),
    };
    sign_checkpoint(&cp, log).unwrap()
}

fn row(op: &str, mut samples: Vec<Duration>, total: Duration) {
    samples.sort();
    // Nearest-rank percentile: index = ceil(q * n) - 1, in integers.
    let pick = |percent: usize| samples[(samples.len() * percent).div_ceil(100).max(1) - 1];
    println!(
        "| {op:<48} | {:>6} | {:>10.0} | {:>10.3?} | {:>10.3?} |",
        samples.len(),
        samples.len() as f64 / total.as_secs_f64(),
        pick(50),
        pick(99)
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let log = NoteSigner::generate(ORIGIN).unwrap();
    let dirs: Vec<_> = (0..3).map(|_| tempfile::TempDir::new().unwrap()).collect();
    let mut policy_text = format!("log {}\n", log.verifier().to_vkey());
    let mut clients = Vec::new();
    let http = reqwest::Client::new();
    for (i, dir) in dirs.iter().enumerate() {
        let key = dir.path().join("key");
        let verifier = keygen(&format!("w{i}.bench.example"), &key).unwrap();
        let config = WitnessConfig::open(dir.path(), &key, &[log.verifier().to_vkey()]).unwrap();
        let listener = rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        rt.spawn(serve_witness(listener, config, std::future::pending()));
        policy_text.push_str(&format!("witness w{i} {} {url}\n", verifier.to_vkey()));
        clients.push(WitnessClient::new(http.clone(), &url, verifier));
    }
    policy_text.push_str("group g 2 w0 w1 w2\nquorum g\n");
    let policy = Policy::parse(policy_text.as_bytes()).unwrap();

    println!(
        "| operation                                        |  count |      ops/s |        p50 |        p99 |"
    );
    println!(
        "|--------------------------------------------------|--------|------------|------------|------------|"
    );

    // Cosigning: each round appends 10 leaves and asks all three witnesses in parallel (each fsyncs).
    let mut tree = MemoryTree::new();
    let rounds = 200;
    let mut samples = Vec::with_capacity(rounds);
    let start = Instant::now();
    for r in 0..rounds {
        for j in 0..10 {
            tree.push(leaf_hash(format!("{r}/{j}").as_bytes()));
        }
        let n = note(&log, &tree);
        let proofs = Arc::new(tree.clone());
        let t = Instant::now();
        let (cosigned, outcomes) = rt.block_on(cosign_checkpoint(&clients, &n, proofs));
        samples.push(t.elapsed());
        assert!(outcomes.iter().all(Result::is_ok));
        policy.verify_checkpoint(cosigned.as_bytes()).unwrap();
    }
    row(
        "cosign checkpoint, 3 witnesses in parallel",
        samples,
        start.elapsed(),
    );

    // One witness, one add-checkpoint round trip.
    let mut samples = Vec::with_capacity(rounds);
    let start = Instant::now();
    for r in 0..rounds {
        tree.push(leaf_hash(format!("single {r}").as_bytes()));
        let n = note(&log, &tree);
        let t = Instant::now();
        rt.block_on(clients[0].submit(&n, &tree)).unwrap();
        samples.push(t.elapsed());
    }
    row(
        "add-checkpoint round trip, 1 witness",
        samples,
        start.elapsed(),
    );

    // Receipts: the same log grown to 100 000 leaves (a different tree would be a fork the witnesses refuse), a
    // checkpoint cosigned by all three, proofs for spread-out indices.
    let first = tree.size();
    for i in first..100_000u64 {
        tree.push(leaf_hash(&i.to_be_bytes()));
    }
    let n = note(&log, &tree);
    let (cosigned, outcomes) = rt.block_on(cosign_checkpoint(&clients, &n, Arc::new(tree.clone())));
    assert!(outcomes.iter().all(Result::is_ok));
    let receipts: Vec<(String, ledger::Hash)> = (0..1000u64)
        .map(|k| {
            let index = first + k * 97 % (100_000 - first);
            let proof = TlogProof {
                extra: None,
                index,
                inclusion: tree.inclusion_proof(index, tree.size()).unwrap(),
                checkpoint: cosigned.clone(),
            };
            (proof.to_text(), leaf_hash(&index.to_be_bytes()))
        })
        .collect();
    let mut samples = Vec::with_capacity(3000);
    let start = Instant::now();
    for _ in 0..3 {
        for (text, leaf) in &receipts {
            let t = Instant::now();
            verify_tlog_proof(text.as_bytes(), leaf, &policy).unwrap();
            samples.push(t.elapsed());
        }
    }
    row(
        "verify tlog-proof (log sig, 3 cosigs, 17 hashes)",
        samples,
        start.elapsed(),
    );
}
