//! Three witness servers in-process, a fake log (MemoryTree + NoteSigner) and a 2-of-3 policy: honest growth is
//! cosigned, a split view gets no quorum, a restarted witness keeps its state, concurrent submissions race safely.
#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ledger::{
    Checkpoint, CosignatureVerifier, Error, MemoryTree, NoteSigner, Policy, TlogProof, leaf_hash,
    sign_checkpoint, verify_tlog_proof,
};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tradeledger::witness::{
    WitnessClient, WitnessConfig, WitnessError, cosign_checkpoint, keygen, origin_hash,
    serve_witness,
};

const ORIGIN: &str = "tradeledger.example/log";

struct Running {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

struct TestWitness {
    dir: TempDir,
    verifier: CosignatureVerifier,
    running: Option<Running>,
}

impl TestWitness {
    async fn new(i: usize, log: &NoteSigner) -> Self {
        let dir = TempDir::new().unwrap();
        let verifier = keygen(&format!("witness{i}.example"), &dir.path().join("key")).unwrap();
        let mut w = Self {
            dir,
            verifier,
            running: None,
        };
        w.start(log).await;
        w
    }

    async fn start(&mut self, log: &NoteSigner) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = WitnessConfig::open(
            self.dir.path(),
            &self.dir.path().join("key"),
            &[log.verifier().to_vkey()],
        )
        .unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(serve_witness(listener, config, async {
            let _ = stopped.await;
        }));
        self.running = Some(Running { addr, stop, task });
    }

    async fn stop(&mut self) {
        let running = self.running.take().unwrap();
        running.stop.send(()).unwrap();
        running.task.await.unwrap().unwrap();
    }

    fn url(&self) -> String {
        format!("http://{}", self.running.as_ref().unwrap().addr)
    }
}

struct FakeLog {
    signer: NoteSigner,
    tree: MemoryTree,
}

impl FakeLog {
    fn new() -> Self {
        Self {
            signer: NoteSigner::generate(ORIGIN).unwrap(),
            tree: MemoryTree::new(),
        }
    }

    fn append(&mut self, n: u64, tag: &str) {
        for _ in 0..n {
            let i = self.tree.size();
            self.tree.push(leaf_hash(format!("{tag} {i}").as_bytes()));
        }
    }

    fn note(&self) -> String {
        let cp = Checkpoint {
            origin: self.signer.name().into(),
            size: self.tree.size(),
            root_hash: self.tree.root(),
            extensions: Vec::new(),
        };
        sign_checkpoint(&cp, &self.signer).unwrap()
    }

    /// Submits the current checkpoint to `clients`; returns the cosigned note and how many cosigned.
    async fn cosign(&self, clients: &[WitnessClient]) -> (String, usize) {
        let (note, outcomes) =
            cosign_checkpoint(clients, &self.note(), Arc::new(self.tree.clone())).await;
        (note, outcomes.iter().filter(|o| o.is_ok()).count())
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

fn policy(log: &NoteSigner, witnesses: &[TestWitness]) -> Policy {
    let mut text = format!("log {}\n", log.verifier().to_vkey());
    for (i, w) in witnesses.iter().enumerate() {
        text.push_str(&format!(
            "witness w{i} {} {}\n",
            w.verifier.to_vkey(),
            w.url()
        ));
    }
    text.push_str("group witnesses 2 w0 w1 w2\nquorum witnesses\n");
    Policy::parse(text.as_bytes()).unwrap()
}

async fn three(log: &NoteSigner) -> Vec<TestWitness> {
    let mut ws = Vec::new();
    for i in 1..=3 {
        ws.push(TestWitness::new(i, log).await);
    }
    ws
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_growth_gets_a_two_of_three_quorum_and_receipts_verify() {
    let mut log = FakeLog::new();
    let witnesses = three(&log.signer).await;
    let policy = policy(&log.signer, &witnesses);
    let clients = WitnessClient::from_policy(&http(), &policy);
    assert_eq!(clients.len(), 3);

    for (round, n) in [5u64, 1, 17].into_iter().enumerate() {
        log.append(n, "entry");
        let (note, count) = log.cosign(&clients).await;
        assert_eq!(count, 3, "round {round}");
        let cp = policy.verify_checkpoint(note.as_bytes()).unwrap();
        assert_eq!((cp.size, cp.root_hash), (log.tree.size(), log.tree.root()));

        let receipt = TlogProof {
            extra: None,
            index: 4,
            inclusion: log.tree.inclusion_proof(4, log.tree.size()).unwrap(),
            checkpoint: note,
        };
        verify_tlog_proof(
            receipt.to_text().as_bytes(),
            &leaf_hash(b"entry 4"),
            &policy,
        )
        .unwrap();
    }
    // With one witness down, two still make the quorum.
    let mut witnesses = witnesses;
    witnesses[0].stop().await;
    log.append(3, "entry");
    let (note, count) = log.cosign(&clients).await;
    assert_eq!(count, 2);
    policy.verify_checkpoint(note.as_bytes()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_view_gets_no_quorum() {
    let mut log = FakeLog::new();
    let witnesses = three(&log.signer).await;
    let policy = policy(&log.signer, &witnesses);
    let clients = WitnessClient::from_policy(&http(), &policy);

    log.append(8, "entry");
    // The honest view is cosigned by w1 and w2 only (w3 was not asked): that is already a quorum.
    let (note_a, count) = log.cosign(&clients[..2]).await;
    assert_eq!(count, 2);
    policy.verify_checkpoint(note_a.as_bytes()).unwrap();

    // Same log key, same size, a different history: a second tree of 8 leaves.
    let mut fork = FakeLog {
        signer: log.signer,
        tree: MemoryTree::new(),
    };
    fork.append(8, "forged");
    let (note_b, count) = fork.cosign(&clients).await;
    // Only w3, which never saw the honest view, cosigns; w1 and w2 refuse with 422.
    assert_eq!(count, 1);
    assert!(matches!(
        policy.verify_checkpoint(note_b.as_bytes()),
        Err(Error::QuorumNotMet(1))
    ));
    let refused = clients[0].add_checkpoint(8, &[], &fork.note()).await;
    assert!(
        matches!(refused, Err(WitnessError::Rejected { status: 422, .. })),
        "{refused:?}"
    );

    // A larger tree that does not extend the honest one cannot prove consistency either.
    fork.append(5, "forged");
    let (note_c, count) = fork.cosign(&clients[..2]).await;
    assert_eq!(count, 0);
    assert!(matches!(
        policy.verify_checkpoint(note_c.as_bytes()),
        Err(Error::QuorumNotMet(0))
    ));

    // The honest log keeps going.
    let mut log = FakeLog {
        signer: fork.signer,
        tree: log.tree,
    };
    log.append(2, "entry");
    let (note_d, count) = log.cosign(&clients[..2]).await;
    assert_eq!(count, 2);
    policy.verify_checkpoint(note_d.as_bytes()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_witness_keeps_its_state() {
    let mut log = FakeLog::new();
    let mut w = TestWitness::new(1, &log.signer).await;
    let client = WitnessClient::new(http(), &w.url(), w.verifier.clone());
    log.append(5, "entry");
    client.submit(&log.note(), &log.tree).await.unwrap();

    w.stop().await;
    w.start(&log.signer).await;
    let client = WitnessClient::new(http(), &w.url(), w.verifier.clone());

    // A stale submission (old size 0) is refused with 409 and the witness's size, as text/x.tlog.size.
    log.append(3, "entry");
    let resp = http()
        .post(format!("{}/add-checkpoint", w.url()))
        .body(format!("old 0\n\n{}", log.note()))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    assert_eq!(resp.headers()["content-type"], "text/x.tlog.size");
    assert_eq!(resp.text().await.unwrap(), "5\n");

    // The proper continuation from 5 is cosigned.
    let proof = log.tree.consistency_proof(5, 8).unwrap();
    let cosig = client.add_checkpoint(5, &proof, &log.note()).await.unwrap();
    assert_eq!(cosig.name, "witness1.example");

    // After another restart the monitoring endpoint still serves the latest cosigned checkpoint.
    w.stop().await;
    w.start(&log.signer).await;
    let resp = http()
        .get(format!("{}/{}/checkpoint", w.url(), origin_hash(ORIGIN)))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let served = resp.text().await.unwrap();
    assert!(served.starts_with(&log.note()));
    assert!(served.ends_with(&cosig.to_line()));
    // A log that lost track of the witness's size (a fresh client starts from 0) recovers through the 409.
    log.append(2, "entry");
    let fresh = WitnessClient::new(http(), &w.url(), w.verifier.clone());
    fresh.submit(&log.note(), &log.tree).await.unwrap();
    assert_eq!(fresh.known_size(), 10);
    let missing = http()
        .get(format!("{}/{}/checkpoint", w.url(), origin_hash("nope")))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_from_one_old_size_have_one_winner() {
    let mut log = FakeLog::new();
    let w = TestWitness::new(1, &log.signer).await;
    let client = WitnessClient::new(http(), &w.url(), w.verifier.clone());
    log.append(4, "entry");
    client.submit(&log.note(), &log.tree).await.unwrap();

    // Ten checkpoints of sizes 5..=14 of the same history, all claiming to extend size 4.
    let mut tasks = Vec::new();
    for _ in 0..10 {
        log.append(1, "entry");
        let (client, note) = (client.clone(), log.note());
        let proof = log.tree.consistency_proof(4, log.tree.size()).unwrap();
        tasks.push(tokio::spawn(async move {
            client.add_checkpoint(4, &proof, &note).await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(WitnessError::Conflict(size)) => assert!((5..=14).contains(&size)),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(won, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_logs_and_bad_signatures_are_refused_over_http() {
    let log = FakeLog::new();
    let w = TestWitness::new(1, &log.signer).await;
    let client = WitnessClient::new(http(), &w.url(), w.verifier.clone());
    let mut other = FakeLog {
        signer: NoteSigner::generate("other.example/log").unwrap(),
        tree: MemoryTree::new(),
    };
    other.append(1, "x");
    let r = client.add_checkpoint(0, &[], &other.note()).await;
    assert!(
        matches!(r, Err(WitnessError::Rejected { status: 404, .. })),
        "{r:?}"
    );
    let mut impostor = FakeLog {
        signer: NoteSigner::generate(ORIGIN).unwrap(),
        tree: MemoryTree::new(),
    };
    impostor.append(1, "x");
    let r = client.add_checkpoint(0, &[], &impostor.note()).await;
    assert!(
        matches!(r, Err(WitnessError::Rejected { status: 403, .. })),
        "{r:?}"
    );
    let r = client.add_checkpoint(2, &[], &impostor.note()).await;
    assert!(
        matches!(
            r,
            Err(WitnessError::Rejected {
                status: 400 | 403,
                ..
            })
        ),
        "{r:?}"
    );
}

#[test]
fn witness_keys_are_private_files() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = TempDir::new().unwrap();
    let key = dir.path().join("key");
    let verifier = keygen("w.example", &key).unwrap();
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let vkey = std::fs::read_to_string(dir.path().join("key.vkey")).unwrap();
    assert_eq!(vkey.trim(), verifier.to_vkey());
    assert_eq!(
        tradeledger::witness::load_key(&key).unwrap().verifier(),
        verifier
    );
    // Never overwrites an existing key.
    assert!(keygen("w.example", &key).is_err());
    // Refuses a key file others can read, and says so without printing the key.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = tradeledger::witness::load_key(&key)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("readable by others"), "{err}");
    assert!(!err.contains("PRIVATE+KEY"));
}
