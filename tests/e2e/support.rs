//! What every end-to-end test needs: a real server on 127.0.0.1 over a temporary store, its captured logs,
//! enrolled parties with clients, raw signed requests, and the CLI binary run as a user types it.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ed25519_dalek::SigningKey;
use serde_json::Value;
use tradeledger::client::Client;
use tradeledger::client::ops::{self, Actor};
use tradeledger::server::{LocalServer, ServeConfig};
use vault::{CertId, PartyId, PartyKeys, PartyPublic, Role};

/// The example certificates of docs/examples, by file name.
pub const EXAMPLES: [(&str, &str); 3] = [
    ("usmca.json", include_str!("../../docs/examples/usmca.json")),
    (
        "cafta-dr.json",
        include_str!("../../docs/examples/cafta-dr.json"),
    ),
    (
        "nafta-434.json",
        include_str!("../../docs/examples/nafta-434.json"),
    ),
];

/// An example certificate body.
pub fn example(name: &str) -> Value {
    let (_, text) = EXAMPLES
        .iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no example {name}"));
    serde_json::from_str(text).unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// Captured logs.

/// Everything the process logged through `tracing` (server and client code alike), since the first server
/// started. One subscriber for the whole test binary, at TRACE for our crates and DEBUG for the rest.
static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = buffer.clone();
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(
                "debug,tradeledger=trace,ledger=trace,vault=trace",
            ))
            .with_ansi(false)
            .with_writer(move || LogWriter(writer.clone()))
            .try_init()
            .expect("no other subscriber in the e2e binary");
        buffer
    });
}

/// A copy of the captured logs so far.
pub fn captured_logs() -> Vec<u8> {
    LOGS.get()
        .map(|b| {
            b.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------------------
// The server.

/// A server running in this process on an ephemeral port.
pub struct Server {
    /// Its base URL.
    pub url: String,
    /// The log's verifier key, as written to `DATA/log.vkey`.
    pub vkey: String,
    /// The data directory.
    pub data: PathBuf,
    running: LocalServer,
}

/// Largest request body the test servers accept: small, so the oversize test sends little.
pub const MAX_BODY: usize = 256 * 1024;

impl Server {
    /// Starts a server over `data` (created if needed) with `operator`.
    pub async fn start(data: &Path, operator: &PartyPublic) -> Server {
        Server::start_with(data, operator, |_| {}).await
    }

    /// [`Server::start`], with `configure` changing the configuration first.
    pub async fn start_with(
        data: &Path,
        operator: &PartyPublic,
        configure: impl FnOnce(&mut ServeConfig),
    ) -> Server {
        capture_logs();
        let mut config = ServeConfig::new(data.to_owned(), operator.clone());
        config.max_body_bytes = MAX_BODY;
        configure(&mut config);
        let running = LocalServer::start(config)
            .await
            .unwrap_or_else(|e| panic!("the server did not start: {e:#}"));
        Server {
            url: running.url.clone(),
            vkey: running.vkey.clone(),
            data: data.to_owned(),
            running,
        }
    }

    /// Stops the server through its shutdown future and waits until it has flushed and closed its stores.
    pub async fn stop(self) {
        if let Err(e) = self.running.stop().await {
            panic!("the server did not stop cleanly: {e:#}");
        }
    }

    /// An anonymous client.
    pub fn client(&self) -> Client {
        Client::new(&self.url).unwrap()
    }

    /// The size of the latest checkpoint, verified with the log key.
    pub async fn size(&self) -> u64 {
        let client = self.client();
        tradeledger::client::LogView::fetch(&client, &self.vkey)
            .await
            .unwrap()
            .checkpoint()
            .size
    }

    /// A plain GET: status and body.
    pub async fn get(&self, path: &str) -> (u16, Vec<u8>) {
        let response = reqwest::get(format!("{}{path}", self.url)).await.unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap().to_vec())
    }
}

// ---------------------------------------------------------------------------------------------------------
// Parties.

/// A party: its keys, a client signing as it, and its own client state directory.
pub struct Party {
    /// Its keys.
    pub keys: PartyKeys,
    /// A client of the server, signing as this party.
    pub client: Client,
    /// Its `$TRADELEDGER_HOME`.
    pub home: tempfile::TempDir,
}

impl Party {
    /// A new party with fresh keys.
    pub fn new(id: &str, role: Role, url: &str) -> Party {
        Party::with_keys(PartyKeys::generate(PartyId::new(id).unwrap(), role), url)
    }

    /// A party with the given keys.
    pub fn with_keys(keys: PartyKeys, url: &str) -> Party {
        let client = Client::new(url)
            .unwrap()
            .with_identity(keys.id(), keys.signing_key());
        Party {
            keys,
            client,
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// The party acting with `vkey` as its trusted log key.
    pub fn actor<'a>(&'a self, vkey: &'a str) -> Actor<'a> {
        Actor {
            client: &self.client,
            keys: &self.keys,
            log_key: vkey,
            home: self.home.path(),
        }
    }

    /// Its id.
    pub fn id(&self) -> &PartyId {
        self.keys.id()
    }

    /// Its id as text.
    pub fn name(&self) -> &str {
        self.keys.id().as_str()
    }

    /// Its signing key.
    pub fn signing_key(&self) -> &SigningKey {
        self.keys.signing_key()
    }
}

/// A server with the story's five parties, all enrolled.
pub struct World {
    /// The data directory's owner; dropped last.
    pub server: Server,
    /// The operator.
    pub operator: Party,
    /// acme-imports, an importer.
    pub importer: Party,
    /// cbp, customs.
    pub cbp: Party,
    /// swift-brokers, a broker.
    pub broker: Party,
    /// audit-co, an auditor.
    pub auditor: Party,
    _dir: tempfile::TempDir,
}

impl World {
    /// Starts a server over a fresh temporary store and enrolls the parties.
    pub async fn new() -> World {
        World::new_with(|_| {}).await
    }

    /// [`World::new`], with `configure` changing the server's configuration first.
    pub async fn new_with(configure: impl FnOnce(&mut ServeConfig)) -> World {
        let dir = tempfile::tempdir().unwrap();
        let operator_keys = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
        let server =
            Server::start_with(&dir.path().join("data"), &operator_keys.public(), configure).await;
        let operator = Party::with_keys(operator_keys, &server.url);
        let importer = Party::new("acme-imports", Role::Importer, &server.url);
        let cbp = Party::new("cbp", Role::Customs, &server.url);
        let broker = Party::new("swift-brokers", Role::Broker, &server.url);
        let auditor = Party::new("audit-co", Role::Auditor, &server.url);
        for (expected, party) in [&importer, &cbp, &broker, &auditor].into_iter().enumerate() {
            let index = ops::enroll(&operator.client, &operator.keys, &party.keys.public())
                .await
                .unwrap();
            assert_eq!(index, expected as u64 + 1, "enrollment of {}", party.name());
        }
        World {
            server,
            operator,
            importer,
            cbp,
            broker,
            auditor,
            _dir: dir,
        }
    }

    /// Stops the server (its data directory stays until the returned directory is dropped).
    pub async fn stop(self) -> tempfile::TempDir {
        let World { server, _dir, .. } = self;
        server.stop().await;
        _dir
    }

    /// The log key every party trusts.
    pub fn vkey(&self) -> &str {
        &self.server.vkey
    }

    /// The importer registers `body` for `to`; returns the certificate id and the registration's index.
    pub async fn register(&self, body: &Value, to: &[&Party]) -> (CertId, u64) {
        let to: Vec<PartyId> = to.iter().map(|p| p.id().clone()).collect();
        let reg = ops::register(&self.importer.actor(self.vkey()), body, &to)
            .await
            .unwrap();
        (ops::parse_cert_id(&reg.cert_id).unwrap(), reg.index)
    }

    /// `party` opens `cert_id` through the client (every check included).
    pub async fn open(&self, party: &Party, cert_id: &CertId) -> anyhow::Result<ops::Opened> {
        ops::open(&party.actor(self.vkey()), cert_id).await
    }
}

// ---------------------------------------------------------------------------------------------------------
// Raw requests.

/// A server's answer, with the error code and message if it is an error.
#[derive(Debug)]
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// `error.code` of a JSON error body, or "" if the body is not one.
    pub code: String,
    /// `error.message` of a JSON error body.
    pub message: String,
}

impl Answer {
    /// Asserts the answer is the error `status`/`code`, with a message containing `needle`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, code: &str, needle: &str) {
        assert_eq!(
            (self.status, self.code.as_str()),
            (status, code),
            "answer: {}",
            String::from_utf8_lossy(&self.body)
        );
        assert!(
            self.message.contains(needle) && self.message.len() < 200,
            "message {:?} should contain {needle:?}",
            self.message
        );
        assert_documented(status, code);
    }
}

/// Asserts docs/api.md's "Error codes" table lists `code` with `status`.
#[track_caller]
pub fn assert_documented(status: u16, code: &str) {
    let api = include_str!("../../docs/api.md");
    let table = api
        .split_once("## Error codes")
        .expect("docs/api.md has an Error codes section")
        .1;
    let row = table
        .lines()
        .find(|l| l.starts_with(&format!("| `{code}` |")))
        .unwrap_or_else(|| panic!("code {code} is not in docs/api.md's Error codes table"));
    let statuses = row.split('|').nth(2).unwrap_or("");
    assert!(
        statuses.contains(&status.to_string()),
        "docs/api.md lists {code} with status {statuses}, the server answered {status}"
    );
}

/// Headers signing a request as `party` at `created` (Unix seconds).
pub fn sign(
    method: &str,
    target: &str,
    body: &[u8],
    party: &str,
    key: &SigningKey,
    created: u64,
) -> Vec<(http::HeaderName, String)> {
    tradeledger::httpsig::sign_request(method, target, body, party, key, created).unwrap()
}

/// Sends a request with exactly these headers and body.
pub async fn send(
    url: &str,
    method: &str,
    target: &str,
    headers: &[(http::HeaderName, String)],
    body: Vec<u8>,
) -> Answer {
    let client = reqwest::Client::new();
    let mut request = client.request(
        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
        format!("{url}{target}"),
    );
    for (name, value) in headers {
        request = request.header(name.as_str(), value);
    }
    if !body.is_empty() {
        request = request
            .header("content-type", "application/json")
            .body(body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let body = response.bytes().await.unwrap().to_vec();
    let (code, message) = match serde_json::from_slice::<Value>(&body) {
        Ok(v) => (
            v["error"]["code"].as_str().unwrap_or("").to_owned(),
            v["error"]["message"].as_str().unwrap_or("").to_owned(),
        ),
        Err(_) => (String::new(), String::new()),
    };
    Answer {
        status,
        body,
        code,
        message,
    }
}

/// Sends a request signed now by `party`.
pub async fn send_signed(
    url: &str,
    party: &Party,
    method: &str,
    target: &str,
    body: Vec<u8>,
) -> Answer {
    let headers = sign(
        method,
        target,
        &body,
        party.name(),
        party.signing_key(),
        tradeledger::httpsig::unix_now(),
    );
    send(url, method, target, &headers, body).await
}

/// Milliseconds since the Unix epoch, as entries carry them.
pub fn now_ms() -> u64 {
    u64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

// ---------------------------------------------------------------------------------------------------------
// The CLI.

/// The `tradeledger` binary with `TRADELEDGER_HOME=home` and none of the other variables of the caller.
pub fn cli(home: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_tradeledger"));
    cmd.env("TRADELEDGER_HOME", home)
        .env_remove("TRADELEDGER_SERVER")
        .env_remove("TRADELEDGER_KEY")
        .env_remove("TRADELEDGER_LOG_KEY")
        .env_remove("RUST_LOG")
        .kill_on_drop(true);
    cmd
}

/// A finished CLI run.
#[derive(Debug)]
pub struct Run {
    /// Exit success.
    pub ok: bool,
    /// Stdout, as text.
    pub stdout: String,
    /// Stderr, as text.
    pub stderr: String,
}

/// Runs the CLI with `args` as a user types them (`TRADELEDGER_HOME=home`).
pub async fn run_cli(home: &Path, args: &[&str]) -> Run {
    let out = cli(home).args(args).output().await.unwrap();
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

impl Run {
    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn success(self) -> String {
        assert!(self.ok, "command failed: {}\n{}", self.stderr, self.stdout);
        self.stdout
    }

    /// Asserts a failure with exactly one `error: ` line on stderr and returns it.
    #[track_caller]
    pub fn failure(self) -> String {
        assert!(!self.ok, "command should have failed: {}", self.stdout);
        assert!(
            self.stderr.starts_with("error: ") && self.stderr.lines().count() == 1,
            "stderr: {}",
            self.stderr
        );
        self.stderr
    }
}

/// Writes a party's key files to `dir` (`ID.key`, `ID.key.pub`) and returns the secret key's path.
pub fn save_keys(dir: &Path, party: &PartyKeys) -> PathBuf {
    let path = dir.join(format!("{}.key", party.id()));
    party.save(&path).unwrap();
    party
        .public()
        .save(&dir.join(format!("{}.key.pub", party.id())))
        .unwrap();
    path
}

/// A copy of a party's keys (the type is deliberately not `Clone`).
pub fn copy_keys(keys: &PartyKeys) -> PartyKeys {
    PartyKeys::from_secret_bytes(
        keys.id().clone(),
        keys.role(),
        &keys.signing_key().to_bytes(),
        keys.encryption_secret().to_bytes(),
    )
}

/// A log key file (C2SP signer key, mode 0600) for the default origin, to share among frontends of one
/// database (`serve --log-key-file`).
pub fn log_key_file(dir: &Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt as _;
    let signer = ledger::NoteSigner::generate("tradeledger.example/log").unwrap();
    let path = dir.join("shared-log.key");
    std::fs::write(&path, format!("{}\n", signer.to_signer_key().as_str())).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}
