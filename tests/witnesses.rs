//! End to end: the real service with a 2-of-3 witness policy and three `tradeledger witness` processes.
//! Registration → receipt → offline verification; one witness down keeps the quorum, two down stop new
//! checkpoints (old receipts still verify); a restarted witness keeps its state; a forked log (same key, other
//! history) never gets a quorum; two frontends on one database cosign in turn.
#![allow(clippy::unwrap_used)]

use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;
use std::time::Duration;

use ledger::{NoteSigner, Policy};
use tempfile::TempDir;
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::process::{Child, Command};
use tradeledger::client::Client;
use tradeledger::client::LogView;
use tradeledger::client::ops::{self, Actor};
use tradeledger::server::{ServeConfig, serve_with_ready};
use vault::{PartyId, PartyKeys, Role};

#[path = "e2e/moto.rs"]
#[allow(dead_code, unreachable_pub)]
mod moto;
#[path = "../vault/tests/support/pg_cluster.rs"]
mod pg_cluster;

const ORIGIN: &str = "tradeledger.example/log";
const BIN: &str = env!("CARGO_BIN_EXE_tradeledger");
const USMCA: &str = include_str!("../docs/examples/usmca.json");

/// A `tradeledger witness` child process on a fixed port, restartable over the same data directory.
struct WitnessProc {
    dir: TempDir,
    name: String,
    port: u16,
    vkey: String,
    child: Option<Child>,
}

impl WitnessProc {
    async fn new(i: usize) -> Self {
        let dir = TempDir::new().unwrap();
        let name = format!("witness{i}.example");
        let out = Command::new(BIN)
            .args(["witness-keygen", "--name", &name, "--out"])
            .arg(dir.path().join("key"))
            .output()
            .await
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let vkey = std::fs::read_to_string(dir.path().join("key.vkey"))
            .unwrap()
            .trim()
            .to_owned();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        WitnessProc {
            dir,
            name,
            port,
            vkey,
            child: None,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    async fn start(&mut self, log_vkey: &str) {
        let mut child = Command::new(BIN)
            .args(["witness", "--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--data")
            .arg(self.dir.path().join("data"))
            .arg("--key")
            .arg(self.dir.path().join("key"))
            .args(["--log", log_vkey])
            .env_remove("TRADELEDGER_KEY")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let line = BufReader::new(stdout).lines().next_line().await.unwrap();
        assert_eq!(
            line.as_deref(),
            Some(&*format!("listening on {}", self.url()))
        );
        self.child = Some(child);
    }

    async fn stop(&mut self) {
        let mut child = self.child.take().unwrap();
        child.kill().await.unwrap();
    }

    /// The latest checkpoint the witness cosigned for our log (its monitoring endpoint).
    async fn latest_size(&self) -> Option<u64> {
        let hash = tradeledger::witness::origin_hash(ORIGIN);
        let resp = reqwest::get(format!("{}/{hash}/checkpoint", self.url()))
            .await
            .unwrap();
        if !resp.status().is_success() {
            return None;
        }
        let text = resp.text().await.unwrap();
        text.lines().nth(1).map(|l| l.parse().unwrap())
    }
}

/// A service over `data` with the witness policy, in-process on an ephemeral port.
struct Service {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Service {
    async fn start(data: &Path, operator: &PartyKeys, policy: &Path) -> Service {
        Service::start_with(data, operator, policy, |_| {}).await
    }

    async fn start_with(
        data: &Path,
        operator: &PartyKeys,
        policy: &Path,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Service {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut config = ServeConfig::new(data.to_owned(), operator.public());
        config.witness_policy = Some(policy.to_owned());
        config.cosign_interval = Duration::from_millis(100);
        configure(&mut config);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(serve_with_ready(
            listener,
            config,
            async {
                let _ = stopped.await;
            },
            ready,
        ));
        is_ready.await.unwrap();
        Service {
            url,
            stop: Some(stop),
            task,
        }
    }

    async fn shutdown(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// Writes `DATA/log.key` so the log's key is known before the policy naming it is written.
fn make_log_key(data: &Path, signer: &NoteSigner) {
    std::fs::create_dir_all(data).unwrap();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(data.join("log.key"))
        .unwrap();
    std::io::Write::write_all(
        &mut file,
        format!("{}\n", &*signer.to_signer_key()).as_bytes(),
    )
    .unwrap();
}

fn write_policy(path: &Path, log_vkey: &str, log_url: &str, witnesses: &[WitnessProc]) -> Policy {
    let mut text = format!("log {log_vkey} {log_url}\n");
    for w in witnesses {
        text += &format!("witness {} {} {}\n", w.name, w.vkey, w.url());
    }
    let names: Vec<&str> = witnesses.iter().map(|w| w.name.as_str()).collect();
    text += &format!(
        "group two-of-three 2 {}\nquorum two-of-three\n",
        names.join(" ")
    );
    std::fs::write(path, &text).unwrap();
    Policy::parse(text.as_bytes()).unwrap()
}

struct Party {
    keys: PartyKeys,
    client: Client,
    home: TempDir,
}

impl Party {
    fn new(id: &str, role: Role, url: &str, policy: &Policy) -> Party {
        Party::from_keys(
            PartyKeys::generate(PartyId::new(id).unwrap(), role),
            url,
            policy,
        )
    }

    fn from_keys(keys: PartyKeys, url: &str, policy: &Policy) -> Party {
        let client = Client::new(url)
            .unwrap()
            .with_identity(keys.id(), keys.signing_key())
            .with_policy(policy.clone());
        Party {
            keys,
            client,
            home: TempDir::new().unwrap(),
        }
    }

    fn actor<'a>(&'a self, vkey: &'a str) -> Actor<'a> {
        Actor {
            client: &self.client,
            keys: &self.keys,
            log_key: vkey,
            home: self.home.path(),
        }
    }
}

/// The size of the published checkpoint, waiting (server long poll) for `min_size`.
async fn published_size(client: &Client, vkey: &str, min_size: u64) -> u64 {
    LogView::fetch_covering(client, vkey, min_size)
        .await
        .unwrap()
        .checkpoint()
        .size
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_witness_processes_two_of_three() {
    let root = TempDir::new().unwrap();
    let data = root.path().join("log");
    let signer = NoteSigner::generate(ORIGIN).unwrap();
    let vkey = signer.verifier().to_vkey();
    make_log_key(&data, &signer);

    let mut witnesses = Vec::new();
    for i in 1..=3 {
        let mut w = WitnessProc::new(i).await;
        w.start(&vkey).await;
        witnesses.push(w);
    }
    let policy_path = root.path().join("policy.txt");
    let policy = write_policy(&policy_path, &vkey, "http://log.invalid", &witnesses);
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let service = Service::start(&data, &operator, &policy_path).await;
    let url = service.url.clone();

    // Registration → receipt → offline verification under the policy.
    let op = Party::from_keys(operator, &url, &policy);
    let acme = Party::new("acme", Role::Importer, &url, &policy);
    let cbp = Party::new("cbp", Role::Customs, &url, &policy);
    ops::enroll(&op.client, &op.keys, &acme.keys.public())
        .await
        .unwrap();
    let last = ops::enroll(&op.client, &op.keys, &cbp.keys.public())
        .await
        .unwrap();
    assert!(published_size(&acme.client, &vkey, last + 1).await > last);
    let body: serde_json::Value = serde_json::from_str(USMCA).unwrap();
    let registered = ops::register(&acme.actor(&vkey), &body, &[cbp.keys.id().clone()])
        .await
        .unwrap();
    let (receipt, verified) = ops::fetch_receipt(&acme.client, &vkey, registered.index)
        .await
        .unwrap();
    assert_eq!(verified.kind, "registration");
    assert_eq!(verified.cert_id.as_deref(), Some(&*registered.cert_id));
    let offline = ops::verify_receipt(receipt.as_bytes(), &vkey, Some(&policy)).unwrap();
    assert_eq!(offline.index, registered.index);
    // The same receipt through the command line, offline (no server).
    let receipt_path = root.path().join("first.tlog-proof");
    std::fs::write(&receipt_path, &receipt).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["verify", "--json", "--policy"])
        .arg(&policy_path)
        .arg(&receipt_path)
        .env("TRADELEDGER_HOME", root.path().join("cli-home"))
        .env_remove("TRADELEDGER_LOG_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["trusted_by"], "policy");
    assert_eq!(json["index"], registered.index);
    // `receipt CERT_ID` and `receipt --refresh` through the command line.
    let fetched = root.path().join("fetched.tlog-proof");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(args)
            .args(["--server", &url, "--policy"])
            .arg(&policy_path)
            .env("TRADELEDGER_HOME", root.path().join("cli-home"))
            .env_remove("TRADELEDGER_LOG_KEY")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    cli(&[
        "receipt",
        &registered.cert_id,
        "--out",
        fetched.to_str().unwrap(),
    ]);
    let again = ops::verify_receipt(&std::fs::read(&fetched).unwrap(), &vkey, Some(&policy));
    assert_eq!(again.unwrap().index, registered.index);
    cli(&[
        "receipt",
        "--refresh",
        fetched.to_str().unwrap(),
        "--out",
        fetched.to_str().unwrap(),
    ]);
    ops::verify_receipt(&std::fs::read(&fetched).unwrap(), &vkey, Some(&policy)).unwrap();

    // A policy whose witnesses the receipt does not have: refused.
    let strangers: Vec<WitnessProc> = vec![WitnessProc::new(7).await, WitnessProc::new(8).await];
    let other = write_policy(
        &root.path().join("other.txt"),
        &vkey,
        "http://x",
        &strangers,
    );
    assert!(ops::verify_receipt(receipt.as_bytes(), &vkey, Some(&other)).is_err());
    // Tampered entry bytes: the leaf hash no longer matches the inclusion proof.
    let mut file = ops::ReceiptFile::parse(receipt.as_bytes()).unwrap();
    if let Some(extra) = file.proof.extra.as_mut() {
        *extra.last_mut().unwrap() ^= 1;
    }
    assert!(ops::verify_receipt(file.to_text().as_bytes(), &vkey, Some(&policy)).is_err());

    // A witness restarted mid-way keeps its state (the log is idle: nothing new to cosign meanwhile).
    let cosigned = witnesses[2].latest_size().await.unwrap();
    assert!(cosigned > registered.index);
    witnesses[2].stop().await;
    witnesses[2].start(&vkey).await;
    assert_eq!(witnesses[2].latest_size().await, Some(cosigned));

    // One witness down: still a quorum.
    witnesses[0].stop().await;
    let broker = Party::new("broker", Role::Broker, &url, &policy);
    let index = ops::enroll(&op.client, &op.keys, &broker.keys.public())
        .await
        .unwrap();
    assert!(published_size(&acme.client, &vkey, index + 1).await > index);
    ops::fetch_receipt(&acme.client, &vkey, index)
        .await
        .unwrap();

    // Two down: no new cosigned checkpoint; the old one stays, old receipts still verify.
    witnesses[1].stop().await;
    let before = published_size(&acme.client, &vkey, 0).await;
    let auditor = Party::new("auditor", Role::Auditor, &url, &policy);
    let stuck = ops::enroll(&op.client, &op.keys, &auditor.keys.public())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(published_size(&acme.client, &vkey, 0).await, before);
    let resp = reqwest::get(format!("{url}/v1/receipts/{stuck}"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    ops::verify_receipt(receipt.as_bytes(), &vkey, Some(&policy)).unwrap();

    // The first witness comes back with its state: quorum again, the stuck entry gets cosigned, and the old
    // receipt can be carried forward to the new checkpoint.
    witnesses[0].start(&vkey).await;
    assert!(published_size(&acme.client, &vkey, stuck + 1).await > stuck);
    let (refreshed, carried) = ops::refresh_receipt(&acme.client, &vkey, receipt.as_bytes())
        .await
        .unwrap();
    assert!(carried.extended_to.unwrap() > stuck);
    let offline = ops::verify_receipt(refreshed.as_bytes(), &vkey, Some(&policy)).unwrap();
    assert_eq!(offline.checkpoint_size, verified.checkpoint_size);
    // An extension that claims a newer checkpoint without the proof is refused.
    let mut broken = ops::ReceiptFile::parse(refreshed.as_bytes()).unwrap();
    broken.extension.as_mut().unwrap().proof.pop();
    assert!(ops::verify_receipt(broken.to_text().as_bytes(), &vkey, Some(&policy)).is_err());
    witnesses[1].start(&vkey).await;

    // A fork: same log key, another history. Its checkpoints never reach the quorum, neither smaller than what
    // the witnesses saw (409) nor, after growing past it, inconsistent with it (422).
    let fork_data = root.path().join("fork");
    make_log_key(&fork_data, &signer);
    let fork = Service::start(&fork_data, &op.keys, &policy_path).await;
    let fork_client = Client::new(&fork.url)
        .unwrap()
        .with_identity(op.keys.id(), op.keys.signing_key())
        .with_policy(policy.clone());
    let main_size = published_size(&acme.client, &vkey, 0).await;
    let mut fork_size = 1;
    let mut n = 0;
    while fork_size <= main_size + 2 {
        let p = PartyKeys::generate(PartyId::new(&format!("fork{n}")).unwrap(), Role::Broker);
        fork_size = ops::enroll(&fork_client, &op.keys, &p.public())
            .await
            .unwrap()
            + 1;
        n += 1;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let resp = reqwest::get(format!("{}/checkpoint", fork.url))
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        503,
        "the fork must not publish a cosigned checkpoint"
    );
    assert!(LogView::fetch(&fork_client, &vkey).await.is_err());
    for w in &witnesses {
        assert!(w.latest_size().await.unwrap() <= main_size);
    }
    // The honest log keeps going.
    let late = ops::enroll(
        &op.client,
        &op.keys,
        &PartyKeys::generate(PartyId::new("late").unwrap(), Role::Broker).public(),
    )
    .await
    .unwrap();
    assert!(published_size(&acme.client, &vkey, late + 1).await > late);

    fork.shutdown().await;
    service.shutdown().await;
    for w in &mut witnesses {
        w.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_frontends_on_one_database_cosign_one_sequence() {
    two_frontends_cosign(false).await;
}

/// With a bucket, only the publishing lease's holder runs rounds; the other frontend serves the cosigned
/// checkpoints it reads back from the bucket, so both still publish checkpoints meeting the quorum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_frontends_with_a_bucket_cosign_at_the_lease_holder_and_both_serve_its_checkpoints() {
    two_frontends_cosign(true).await;
}

async fn two_frontends_cosign(with_bucket: bool) {
    let moto = with_bucket.then(moto::Moto::start);
    let location = match &moto {
        Some(moto) => {
            moto.bucket("tl-shared", "").await;
            Some(std::sync::Arc::new(moto.location("tl-shared", "log")))
        }
        None => None,
    };
    let root = TempDir::new().unwrap();
    let db = tokio::task::spawn_blocking(pg_cluster::fresh_database)
        .await
        .unwrap();
    let signer = NoteSigner::generate(ORIGIN).unwrap();
    let vkey = signer.verifier().to_vkey();
    let shared = root.path().join("shared");
    make_log_key(&shared, &signer);
    let mut witnesses = Vec::new();
    for i in 1..=3 {
        let mut w = WitnessProc::new(i).await;
        w.start(&vkey).await;
        witnesses.push(w);
    }
    let policy_path = root.path().join("policy.txt");
    let policy = write_policy(&policy_path, &vkey, "http://log.invalid", &witnesses);
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let on_postgres = |c: &mut ServeConfig| {
        c.postgres = Some(tradeledger::server::PostgresUrl::new(db.clone()));
        c.log_key = Some(shared.join("log.key"));
        c.bucket = location.clone();
    };
    let a = Service::start_with(&root.path().join("a"), &operator, &policy_path, on_postgres).await;
    let b = Service::start_with(&root.path().join("b"), &operator, &policy_path, on_postgres).await;
    let op = Party::from_keys(operator, &a.url, &policy);
    let acme = PartyKeys::generate(PartyId::new("acme").unwrap(), Role::Importer);
    let cbp = PartyKeys::generate(PartyId::new("cbp").unwrap(), Role::Customs);
    let mut enrolled = 0;
    for party in [&acme, &cbp] {
        enrolled = ops::enroll(&op.client, &op.keys, &party.public())
            .await
            .unwrap();
    }
    let copy = |keys: &PartyKeys| {
        PartyKeys::from_secret_bytes(
            keys.id().clone(),
            keys.role(),
            &keys.signing_key().to_bytes(),
            keys.encryption_secret().to_bytes(),
        )
    };
    let (acme_a, acme_b) = (
        Party::from_keys(copy(&acme), &a.url, &policy),
        Party::from_keys(copy(&acme), &b.url, &policy),
    );
    // Clients rely only on cosigned checkpoints: both frontends publish one covering the enrollments.
    for client in [&acme_a.client, &acme_b.client] {
        assert!(published_size(client, &vkey, enrolled + 1).await > enrolled);
    }
    let body: serde_json::Value = serde_json::from_str(USMCA).unwrap();
    let mut last = 0;
    for round in 0..6 {
        let through = if round % 2 == 0 { &acme_a } else { &acme_b };
        let reg = ops::register(&through.actor(&vkey), &body, &[cbp.id().clone()])
            .await
            .unwrap();
        last = last.max(reg.index);
    }
    // Both frontends publish checkpoints cosigned to the quorum that cover every registration, whichever
    // frontend took it; a receipt taken through B verifies offline under the policy.
    for client in [&acme_a.client, &acme_b.client] {
        assert!(published_size(client, &vkey, last + 1).await > last);
    }
    let (receipt, _) = ops::fetch_receipt(&acme_b.client, &vkey, last)
        .await
        .unwrap();
    ops::verify_receipt(receipt.as_bytes(), &vkey, Some(&policy)).unwrap();
    // The witnesses followed one log: each cosigned a size covering everything.
    for w in &witnesses {
        assert!(w.latest_size().await.unwrap() > last);
    }
    // The bucket's checkpoint, published by the lease holder, meets the quorum and covers them too.
    if let Some(location) = &location {
        let s3 = tradeledger::bucket::S3::new(location).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let note = s3.get("checkpoint").await.unwrap().map(|o| o.bytes);
            let size = note.as_ref().and_then(|n| {
                let text = String::from_utf8_lossy(n);
                text.lines().nth(1).and_then(|l| l.parse::<u64>().ok())
            });
            if size > Some(last) {
                policy.verify_checkpoint(&note.unwrap()).unwrap();
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the bucket stayed at {size:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosigned_checkpoints_reach_the_bucket_and_audit_from_it_under_the_policy() {
    let moto = moto::Moto::start();
    moto.bucket("tl-cosigned", "").await;
    let root = TempDir::new().unwrap();
    let data = root.path().join("log");
    let signer = NoteSigner::generate(ORIGIN).unwrap();
    let vkey = signer.verifier().to_vkey();
    make_log_key(&data, &signer);
    let mut witnesses = Vec::new();
    for i in 1..=3 {
        let mut w = WitnessProc::new(i).await;
        w.start(&vkey).await;
        witnesses.push(w);
    }
    let policy_path = root.path().join("policy.txt");
    let policy = write_policy(&policy_path, &vkey, "http://log.invalid", &witnesses);
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let location = moto.location("tl-cosigned", "log");
    let service = Service::start_with(&data, &operator, &policy_path, |config| {
        config.bucket = Some(std::sync::Arc::new(location.clone()));
    })
    .await;
    let op = Party::from_keys(operator, &service.url, &policy);
    let acme = Party::new("acme", Role::Importer, &service.url, &policy);
    let last = ops::enroll(&op.client, &op.keys, &acme.keys.public())
        .await
        .unwrap();
    let size = published_size(&acme.client, &vkey, last + 1).await;
    assert!(size > last);

    // The bucket's checkpoint is the published one: log signature and a quorum of cosignatures.
    let s3 = tradeledger::bucket::S3::new(&location).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let note = loop {
        if let Some(object) = s3.get("checkpoint").await.unwrap() {
            let text = String::from_utf8(object.bytes.clone()).unwrap();
            if text.lines().nth(1).and_then(|l| l.parse::<u64>().ok()) >= Some(size) {
                break object.bytes;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the bucket never reached size {size}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    policy.verify_checkpoint(&note).unwrap();
    service.shutdown().await;

    // No server: audit from the bucket, requiring the witnesses' quorum.
    let out = std::process::Command::new(BIN)
        .args([
            "audit",
            "--tiles",
            &moto.public_url("tl-cosigned", "log"),
            "--policy",
        ])
        .arg(&policy_path)
        .env("TRADELEDGER_HOME", root.path().join("cli-home"))
        .env_remove("TRADELEDGER_LOG_KEY")
        .env_remove("TRADELEDGER_SERVER")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("verdict: clean"),
        "{out:?}"
    );
}
