//! A `tradeledger serve` process, as an operator runs it: for what only a separate process shows (its memory,
//! its file-descriptor limit, its exit after SIGTERM), with raw-TCP helpers for the connection-level tests.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, AsyncReadExt as _, AsyncWriteExt as _};
use vault::{PartyId, PartyKeys, Role};

use crate::support::{Party, save_keys};

/// A running `tradeledger serve` child process over a data directory it does not own.
pub struct Spawned {
    /// Its base URL.
    pub url: String,
    /// `host:port`.
    pub addr: String,
    child: tokio::process::Child,
}

impl Spawned {
    /// Starts `tradeledger serve` over `data` with the operator's public identity, on 127.0.0.1:0, with
    /// `extra` flags; with `nofile`, under `prlimit --nofile=N:N`.
    pub async fn start(
        data: &Path,
        operator_pub: &Path,
        extra: &[&str],
        nofile: Option<u32>,
    ) -> Spawned {
        Spawned::start_with_env(data, operator_pub, extra, nofile, &[]).await
    }

    /// [`Spawned::start`] with `env` added to the process's environment (e.g. the bucket's AWS_* settings).
    pub async fn start_with_env(
        data: &Path,
        operator_pub: &Path,
        extra: &[&str],
        nofile: Option<u32>,
        env: &[(&str, &str)],
    ) -> Spawned {
        let bin = env!("CARGO_BIN_EXE_tradeledger");
        let mut cmd = match nofile {
            Some(n) => {
                let mut c = tokio::process::Command::new("prlimit");
                c.arg(format!("--nofile={n}:{n}")).arg(bin);
                c
            }
            None => tokio::process::Command::new(bin),
        };
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .arg("--operator")
            .arg(operator_pub)
            .args(extra)
            .env("RUST_LOG", "warn")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true);
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the server did not start within 20 s")
            .unwrap()
            .expect("the server exited before listening");
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        // Keep draining stdout so the child never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let addr = url.trim_start_matches("http://").to_owned();
        Spawned { url, addr, child }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the server is running")
    }

    /// The server's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/PID/status")
    }

    /// How many file descriptors the server holds open.
    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid()))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Sends SIGKILL (`kill -9`: no shutdown, no flush) and waits for the process to be gone.
    pub async fn kill9(mut self) {
        self.child.start_kill().unwrap();
        let status = self.child.wait().await.unwrap();
        assert!(!status.success(), "killed, not exited: {status:?}");
    }

    /// Sends SIGTERM and waits at most `bound` for the process to exit; returns how long it took.
    pub async fn terminate(mut self, bound: Duration) -> Duration {
        let started = Instant::now();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        match tokio::time::timeout(bound, self.child.wait()).await {
            Ok(status) => assert!(status.unwrap().success(), "the server did not exit cleanly"),
            Err(_) => panic!("the server was still running {bound:?} after SIGTERM"),
        }
        started.elapsed()
    }
}

/// A spawned server with an enrolled importer and customs party.
pub struct SpawnedWorld {
    pub server: Spawned,
    pub importer: Party,
    pub cbp: Party,
    pub data: PathBuf,
    pub operator_pub: PathBuf,
    pub _dir: tempfile::TempDir,
}

impl SpawnedWorld {
    /// Starts a server over a fresh store with `extra` flags (and `nofile`), enrolls an importer and CBP.
    pub async fn start(extra: &[&str], nofile: Option<u32>) -> SpawnedWorld {
        let dir = tempfile::tempdir().unwrap();
        let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
        save_keys(dir.path(), &operator);
        let operator_pub = dir.path().join("operator.key.pub");
        let data = dir.path().join("data");
        let server = Spawned::start(&data, &operator_pub, extra, nofile).await;
        let operator = Party::with_keys(operator, &server.url);
        let importer = Party::new("acme-imports", Role::Importer, &server.url);
        let cbp = Party::new("cbp", Role::Customs, &server.url);
        for party in [&importer, &cbp] {
            tradeledger::client::ops::enroll(
                &operator.client,
                &operator.keys,
                &party.keys.public(),
            )
            .await
            .unwrap();
        }
        SpawnedWorld {
            server,
            importer,
            cbp,
            data,
            operator_pub,
            _dir: dir,
        }
    }

    /// The log key, as the server wrote it.
    pub fn vkey(&self) -> String {
        std::fs::read_to_string(self.data.join("log.vkey"))
            .unwrap()
            .trim_end()
            .to_owned()
    }
}

/// One raw HTTP exchange: sends `request` (ignoring write errors: the server may close first) and reads until
/// the server closes or `wait` passes. Returns the bytes read and whether the server closed the connection.
pub async fn exchange(addr: &str, request: &[u8], wait: Duration) -> (String, bool) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let _ = stream.write_all(request).await;
    read_answer(&mut stream, wait).await
}

/// Reads until the peer closes or `wait` passes; returns the text and whether the peer closed.
pub async fn read_answer(stream: &mut tokio::net::TcpStream, wait: Duration) -> (String, bool) {
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(wait, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&answer).into_owned(), closed)
}

/// The status and JSON error code of a raw answer; panics if the answer is not a JSON error.
#[track_caller]
pub fn json_error(answer: &str) -> (u16, String) {
    let status: u16 = answer
        .strip_prefix("HTTP/1.1 ")
        .and_then(|rest| rest.get(..3))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP/1.1 answer: {answer:.300}"));
    let (head, body) = answer
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end: {answer:.300}"));
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "not JSON: {answer:.300}"
    );
    let value: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {answer:.300}"));
    let code = value["error"]["code"].as_str().unwrap_or("").to_owned();
    assert!(!code.is_empty(), "no error code: {answer:.300}");
    crate::support::assert_documented(status, &code);
    (status, code)
}

/// `GET /healthz` on a fresh connection: how long until `ok` came back, or `None` if it did not within `wait`.
pub async fn healthz(addr: &str, wait: Duration) -> Option<Duration> {
    let started = Instant::now();
    let probe = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .ok()?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.ok()?;
        let answer = String::from_utf8_lossy(&answer).into_owned();
        (answer.starts_with("HTTP/1.1 200") && answer.ends_with("ok\n")).then_some(())
    };
    match tokio::time::timeout(wait, probe).await {
        Ok(Some(())) => Some(started.elapsed()),
        _ => None,
    }
}
