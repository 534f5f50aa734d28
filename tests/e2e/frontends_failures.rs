//! Two frontends on one database under failure: `kill -9` of one frontend under load (spawned processes, as
//! an operator runs them), and a database outage mid-load. Nothing acknowledged is lost, the survivors keep
//! serving, and the log stays one contiguous log.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tradeledger::client::{Client, LogView, ops};
use tradeledger::httpsig::unix_now;
use vault::{PartyId, PartyKeys, Role};

use crate::frontends::{Pair, at};
use crate::pg_cluster;
use crate::spawned::Spawned;
use crate::support::{Party, copy_keys, example, log_key_file, save_keys, send, sign};

/// The published checkpoint's size at `url`, verified with `vkey`; `None` if it cannot be had.
pub async fn size(url: &str, vkey: &str) -> Option<u64> {
    let client = Client::new(url).ok()?;
    Some(LogView::fetch(&client, vkey).await.ok()?.checkpoint().size)
}

/// Registers through `url` until `stop`, pausing after failures; returns the acknowledged certificate ids
/// and how many attempts failed.
pub fn load(
    importer: &PartyKeys,
    cbp: &PartyId,
    url: &str,
    vkey: &str,
    stop: &Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(Vec<String>, usize)> {
    let (party, vkey, to, stop) = (
        Party::with_keys(copy_keys(importer), url),
        vkey.to_owned(),
        cbp.clone(),
        stop.clone(),
    );
    tokio::spawn(async move {
        let (mut acked, mut failed) = (Vec::new(), 0);
        while !stop.load(Ordering::Relaxed) {
            let to = [to.clone()];
            match ops::register(&party.actor(&vkey), &example("usmca.json"), &to).await {
                Ok(reg) => acked.push(reg.cert_id),
                Err(_) => {
                    failed += 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        (acked, failed)
    })
}

/// Opens every certificate in `ids` as `cbp` through `url`.
pub async fn open_all(cbp: &PartyKeys, url: &str, vkey: &str, ids: &[String]) {
    let reader = Party::with_keys(copy_keys(cbp), url);
    for id in ids {
        let cert_id = ops::parse_cert_id(id).unwrap();
        if let Err(e) = ops::open(&reader.actor(vkey), &cert_id).await {
            panic!("acknowledged certificate {id} does not open through {url}: {e:#}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_frontend_under_load_loses_nothing_acknowledged() {
    let db = tokio::task::spawn_blocking(pg_cluster::fresh_database)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    save_keys(dir.path(), &operator);
    let operator_pub = dir.path().join("operator.key.pub");
    let log_key = log_key_file(dir.path());
    let args = [
        "--postgres",
        &db,
        "--log-key-file",
        log_key.to_str().unwrap(),
    ];
    let (data_a, data_b) = (dir.path().join("a"), dir.path().join("b"));
    let a = Spawned::start(&data_a, &operator_pub, &args, None).await;
    let b = Spawned::start(&data_b, &operator_pub, &args, None).await;
    let vkey = std::fs::read_to_string(data_a.join("log.vkey")).unwrap();
    let vkey = vkey.trim_end().to_owned();
    let op = Party::with_keys(copy_keys(&operator), &a.url);
    let importer = PartyKeys::generate(PartyId::new("acme-imports").unwrap(), Role::Importer);
    let cbp = PartyKeys::generate(PartyId::new("cbp").unwrap(), Role::Customs);
    for party in [&importer, &cbp] {
        ops::enroll(&op.client, &op.keys, &party.public())
            .await
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let load_a = load(&importer, cbp.id(), &a.url, &vkey, &stop);
    let load_b = load(&importer, cbp.id(), &b.url, &vkey, &stop);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let url_a = a.url.clone();
    a.kill9().await;
    let killed = Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let (acked_a, _) = load_a.await.unwrap();
    let (acked_b, failed_b) = load_b.await.unwrap();
    assert!(!acked_a.is_empty() && !acked_b.is_empty(), "both served");
    assert_eq!(failed_b, 0, "the survivor kept serving");
    // The survivor's published checkpoint covers everything acknowledged by then, within seconds of the kill.
    let size_b = size(&b.url, &vkey).await.unwrap();
    let acked = acked_a.len() + acked_b.len();
    assert!(
        size_b >= 3 + acked as u64,
        "size {size_b}, {acked} acknowledged"
    );
    assert!(killed.elapsed() < Duration::from_secs(10));
    // Nothing acknowledged is lost: every certificate either frontend acknowledged opens through the survivor.
    let all: Vec<String> = acked_a.iter().chain(&acked_b).cloned().collect();
    open_all(&cbp, &b.url, &vkey, &all).await;
    // The killed frontend restarts over its data directory and catches up with the shared log.
    let a = Spawned::start(&data_a, &operator_pub, &args, None).await;
    assert_ne!(a.url, url_a, "a new port");
    let target = size(&b.url, &vkey).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while size(&a.url, &vkey).await.unwrap() < target {
        assert!(
            Instant::now() < deadline,
            "the restarted frontend did not catch up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    open_all(&cbp, &a.url, &vkey, &all[..all.len().min(10)]).await;
    a.terminate(Duration::from_secs(10)).await;
    b.terminate(Duration::from_secs(10)).await;
}

/// A signed GET any enrolled party may send: authenticated (its nonce claimed in the database) first.
const SIGNED_GET: &str = "/v1/certificates/00000000000000000000000000000000/grants";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_mid_load_is_503s_then_recovery_with_nothing_lost() {
    let pair = Pair::start().await;
    let vkey = pair.a.vkey.clone();
    let importer = pair.enroll("acme-imports", Role::Importer).await;
    let cbp = pair.enroll("cbp", Role::Customs).await;
    let name = pair.db.rsplit("dbname=").next().unwrap().trim().to_owned();
    let admin = move |sql: String| {
        tokio::task::spawn_blocking(move || {
            let settings = pg_cluster::cluster().settings("postgres");
            let mut client = postgres::Client::connect(&settings, postgres::NoTls).unwrap();
            client.batch_execute(&sql).unwrap();
        })
    };
    let stop = Arc::new(AtomicBool::new(false));
    let load_a = load(&importer, cbp.id(), &pair.a.url, &vkey, &stop);
    let load_b = load(&importer, cbp.id(), &pair.b.url, &vkey, &stop);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    // The database goes away: no new connections, every open one cut. The refusal is committed on its own
    // before any connection is cut (statements of one batch share a transaction, and a service reconnecting
    // before it commits would keep a live connection), and each cut waits until its backend has exited.
    admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"))
        .await
        .unwrap();
    admin(format!(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = '{name}'"
    ))
    .await
    .unwrap();
    let cbp_signing = copy_keys(&cbp);
    for server in [&pair.a, &pair.b] {
        let headers = sign(
            "GET",
            SIGNED_GET,
            b"",
            cbp.id().as_str(),
            cbp_signing.signing_key(),
            unix_now(),
        );
        send(&server.url, "GET", SIGNED_GET, &headers, Vec::new())
            .await
            .assert_error(503, "unavailable", "");
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let back = Instant::now();
    tokio::time::sleep(Duration::from_millis(2000)).await;
    stop.store(true, Ordering::Relaxed);
    let (acked_a, failed_a) = load_a.await.unwrap();
    let (acked_b, failed_b) = load_b.await.unwrap();
    assert!(failed_a + failed_b > 0, "the outage was felt");
    // Both frontends recovered by themselves: they acknowledged registrations after the database came back.
    let after = ops::register(
        &at(&importer, &pair.a).actor(&vkey),
        &example("usmca.json"),
        &[cbp.id().clone()],
    )
    .await
    .unwrap();
    assert!(back.elapsed() < Duration::from_secs(30));
    let all: Vec<String> = acked_a
        .iter()
        .chain(&acked_b)
        .chain([&after.cert_id])
        .cloned()
        .collect();
    open_all(&cbp, &pair.b.url, &vkey, &all).await;
    let size = pair.settled_size().await;
    assert!(
        size >= 3 + all.len() as u64,
        "size {size}, {} acknowledged",
        all.len()
    );
    pair.stop().await;
}
