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
use tradeledger::server::{LocalServer, ServeConfig};
use vault::{PartyId, PartyKeys, Role};

#[path = "../e2e/moto.rs"]
#[allow(dead_code, unreachable_pub)]
mod moto;
#[path = "../../vault/tests/support/pg_cluster.rs"]
mod pg_cluster;

mod bucket;
mod frontends;
mod quorum;

const ORIGIN: &str = "tradeledger.example/log";
const BIN: &str = env!("CARGO_BIN_EXE_tradeledger");
const USMCA: &str = include_str!("../../docs/examples/usmca.json");

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
async fn start_service(data: &Path, operator: &PartyKeys, policy: &Path) -> LocalServer {
    start_service_with(data, operator, policy, |_| {}).await
}

/// [`start_service`], with `configure` changing the configuration first.
async fn start_service_with(
    data: &Path,
    operator: &PartyKeys,
    policy: &Path,
    configure: impl FnOnce(&mut ServeConfig),
) -> LocalServer {
    let mut config = ServeConfig::new(data.to_owned(), operator.public());
    config.witness_policy = Some(policy.to_owned());
    config.cosign_interval = Duration::from_millis(100);
    configure(&mut config);
    LocalServer::start(config).await.unwrap()
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

/// A log key written into `data` and three running witnesses under a 2-of-3 policy, written to
/// ROOT/policy.txt: what every test here starts from.
struct Witnessed {
    signer: NoteSigner,
    vkey: String,
    witnesses: Vec<WitnessProc>,
    policy_path: std::path::PathBuf,
    policy: Policy,
}

async fn witnessed_log(root: &Path, data: &Path) -> Witnessed {
    let signer = NoteSigner::generate(ORIGIN).unwrap();
    let vkey = signer.verifier().to_vkey();
    make_log_key(data, &signer);
    let mut witnesses = Vec::new();
    for i in 1..=3 {
        let mut w = WitnessProc::new(i).await;
        w.start(&vkey).await;
        witnesses.push(w);
    }
    let policy_path = root.join("policy.txt");
    let policy = write_policy(&policy_path, &vkey, "http://log.invalid", &witnesses);
    Witnessed {
        signer,
        vkey,
        witnesses,
        policy_path,
        policy,
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
