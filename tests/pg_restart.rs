//! Two frontends on one PostgreSQL server that is restarted (`pg_ctl restart -m fast`) under load: requests
//! that fail while it is down fail cleanly (503, never 500: a read of the log during the restart was a 500 before
//! this test), both frontends recover by themselves, and nothing acknowledged is lost.
//! A test binary of its own: the restart cuts every connection of the cluster, which other tests would feel.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ledger::NoteSigner;
use tempfile::TempDir;
use tradeledger::client::ops::{self, Actor};
use tradeledger::client::{Client, LogView};
use tradeledger::server::{LocalServer, PostgresUrl, ServeConfig};
use vault::{PartyId, PartyKeys, Role};

#[path = "../vault/tests/support/pg_cluster.rs"]
mod pg_cluster;

const USMCA: &str = include_str!("../docs/examples/usmca.json");

/// A frontend in this process, on the database `db` with the shared log key.
async fn frontend(data: &Path, operator: &PartyKeys, db: &str, log_key: &Path) -> LocalServer {
    let mut config = ServeConfig::new(data.to_owned(), operator.public());
    config.postgres = Some(PostgresUrl::new(db.to_owned()));
    config.log_key = Some(log_key.to_owned());
    LocalServer::start(config).await.unwrap()
}

fn copy(keys: &PartyKeys) -> PartyKeys {
    PartyKeys::from_secret_bytes(
        keys.id().clone(),
        keys.role(),
        &keys.signing_key().to_bytes(),
        keys.encryption_secret().to_bytes(),
    )
}

fn client(keys: &PartyKeys, url: &str) -> Client {
    Client::new(url)
        .unwrap()
        .with_identity(keys.id(), keys.signing_key())
}

/// Restarts the cluster's server (fast shutdown: every connection cut) and waits until it accepts again.
fn restart_cluster() {
    let settings = pg_cluster::cluster().settings("postgres");
    let host = settings
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("host="))
        .unwrap();
    // pg_cluster lays the cluster out as ROOT/sock (the socket directory) and ROOT/data.
    let data: PathBuf = Path::new(host).parent().unwrap().join("data");
    let pg_ctl = pg_cluster::cluster().bin().join("pg_ctl");
    let as_root = std::fs::metadata("/proc/self")
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    let mut command = if as_root {
        let mut c = std::process::Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(&pg_ctl);
        c
    } else {
        std::process::Command::new(&pg_ctl)
    };
    // The new server logs to the cluster's file and holds no pipe of ours (`output()` would wait for it).
    let log = data.with_file_name("server.log");
    let status = command
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(&log)
        .args(["-m", "fast", "-w", "restart"])
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "pg_ctl restart: {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgresql_restart_mid_load_fails_cleanly_and_loses_nothing() {
    let root = TempDir::new().unwrap();
    let db = tokio::task::spawn_blocking(pg_cluster::fresh_database)
        .await
        .unwrap();
    let signer = NoteSigner::generate("tradeledger.example/log").unwrap();
    let vkey = signer.verifier().to_vkey();
    let log_key = root.path().join("log.key");
    std::fs::write(&log_key, format!("{}\n", &*signer.to_signer_key())).unwrap();
    std::fs::set_permissions(&log_key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let a = frontend(&root.path().join("a"), &operator, &db, &log_key).await;
    let b = frontend(&root.path().join("b"), &operator, &db, &log_key).await;
    let importer = PartyKeys::generate(PartyId::new("acme").unwrap(), Role::Importer);
    let cbp = PartyKeys::generate(PartyId::new("cbp").unwrap(), Role::Customs);
    let op = client(&operator, &a.url);
    for party in [&importer, &cbp] {
        ops::enroll(&op, &operator, &party.public()).await.unwrap();
    }
    // Load through both frontends: each loop counts what was acknowledged and what failed.
    let stop = Arc::new(AtomicBool::new(false));
    let mut loads = Vec::new();
    for url in [&a.url, &b.url] {
        let (keys, url, vkey, stop, to) = (
            copy(&importer),
            url.clone(),
            vkey.clone(),
            stop.clone(),
            cbp.id().clone(),
        );
        loads.push(tokio::spawn(async move {
            let (home, client) = (TempDir::new().unwrap(), client(&keys, &url));
            let actor = Actor {
                client: &client,
                keys: &keys,
                log_key: &vkey,
                home: home.path(),
            };
            let body: serde_json::Value = serde_json::from_str(USMCA).unwrap();
            let (mut acked, mut errors) = (Vec::new(), Vec::new());
            while !stop.load(Ordering::Relaxed) {
                match ops::register(&actor, &body, std::slice::from_ref(&to)).await {
                    Ok(reg) => acked.push(reg.cert_id),
                    Err(e) => {
                        errors.push(format!("{e:#}"));
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            (acked, errors)
        }));
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    tokio::task::spawn_blocking(restart_cluster).await.unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    let mut errors = Vec::new();
    for load in loads {
        let (ok, failed) = load.await.unwrap();
        acked.extend(ok);
        errors.extend(failed);
    }
    // The failures were clean refusals (503 from the service, or a connection the restart cut), never a 500.
    for error in &errors {
        assert!(!error.contains("(500)"), "{error}");
    }
    // Both recovered by themselves, and every acknowledged registration opens through either frontend.
    let body: serde_json::Value = serde_json::from_str(USMCA).unwrap();
    let home = TempDir::new().unwrap();
    for url in [&a.url, &b.url] {
        let (imp, reader) = (client(&importer, url), client(&cbp, url));
        let actor = |client, keys| Actor {
            client,
            keys,
            log_key: &vkey,
            home: home.path(),
        };
        let reg = ops::register(&actor(&imp, &importer), &body, &[cbp.id().clone()])
            .await
            .unwrap();
        acked.push(reg.cert_id);
        for id in &acked {
            let cert_id = ops::parse_cert_id(id).unwrap();
            if let Err(e) = ops::open(&actor(&reader, &cbp), &cert_id).await {
                panic!("acknowledged {id} does not open through {url}: {e:#}");
            }
        }
    }
    let size = LogView::fetch(&Client::new(&a.url).unwrap(), &vkey)
        .await
        .unwrap()
        .checkpoint()
        .size;
    assert!(
        size >= 3 + acked.len() as u64,
        "size {size}, {} acknowledged",
        acked.len()
    );
    eprintln!(
        "restart mid-load: {} acknowledged, {} refused while the server was down: {errors:?}",
        acked.len(),
        errors.len()
    );
    for f in [a, b] {
        f.stop().await.unwrap();
    }
}
