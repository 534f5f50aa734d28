//! Online backups, as docs/operations.md describes them, taken under load and restored:
//! - embedded: a point-in-time image of the live data directory (what a filesystem snapshot takes), here made
//!   by freezing the serving process (SIGSTOP), copying the directory and resuming it (SIGCONT);
//! - PostgreSQL: one `pg_dump` (one snapshot of the log and the vault together) while appends run.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ledger::pg::PgPool;
use ledger::{Log, NoteSigner, PgStore};
use tradeledger::client::ops;
use vault::{CertId, PartyPublic, PgVaultStore, VaultStore};

use crate::pg_cluster;
use crate::spawned::SpawnedWorld;
use crate::support::{Party, Server, copy_keys, example};

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{name} {pid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_a_point_in_time_image_taken_under_load_restores_every_acknowledged_registration()
{
    let world = SpawnedWorld::start(&[], None).await;
    let vkey = world.vkey();
    let acked: Arc<Mutex<Vec<(CertId, u64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (acked, stop) = (acked.clone(), stop.clone());
        let importer = Party::with_keys(copy_keys(&world.importer.keys), &world.server.url);
        let (cbp, vkey) = (world.cbp.id().clone(), vkey.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let body = example("usmca.json");
                if let Ok(reg) =
                    ops::register(&importer.actor(&vkey), &body, std::slice::from_ref(&cbp)).await
                {
                    let id = ops::parse_cert_id(&reg.cert_id).unwrap();
                    acked.lock().unwrap().push((id, reg.index));
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < 20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Frozen: nothing more reaches the disk. Every registration acknowledged so far was durable before.
    signal(world.server.pid(), "STOP");
    let frozen = Instant::now();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before: Vec<(CertId, u64)> = acked.lock().unwrap().clone();
    let image = world._dir.path().join("image");
    let copied = std::process::Command::new("cp")
        .arg("-a")
        .arg(&world.data)
        .arg(&image)
        .status()
        .unwrap();
    signal(world.server.pid(), "CONT");
    assert!(copied.success());
    eprintln!(
        "writes paused {:?} (SIGSTOP, 200 ms settle, cp -a)",
        frozen.elapsed()
    );
    // The service goes on as if nothing happened.
    let resumed = acked.lock().unwrap().len();
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.lock().unwrap().len() < resumed + 5 {
        assert!(
            Instant::now() < deadline,
            "no registration after the resume"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    world.server.terminate(Duration::from_secs(10)).await;

    // The image restored elsewhere: the log recovers and verifies, every acknowledged registration opens.
    let _ = std::fs::remove_file(image.join("lock"));
    let operator = PartyPublic::load(&world.operator_pub).unwrap();
    let server = Server::start(&image, &operator).await;
    let cbp = Party::with_keys(copy_keys(&world.cbp.keys), &server.url);
    let report = ops::audit(&cbp.client, &vkey, None).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let highest = before.iter().map(|a| a.1).max().unwrap();
    assert!(report.size > highest, "{} <= {highest}", report.size);
    for (cert_id, _) in &before {
        let opened = ops::open(&cbp.actor(&vkey), cert_id).await.unwrap();
        assert_eq!(opened.body, example("usmca.json"));
    }
    server.stop().await;
}

const ORIGIN: &str = "tradeledger.example/log";

/// `pg_dump -Fc` of `db` into `file`, or `pg_restore` of it into `db`.
fn pg_tool(tool: &str, db: &str, file: &Path) {
    let bin = pg_cluster::cluster().bin().join(tool);
    let mut cmd = std::process::Command::new(&bin);
    match tool {
        "pg_dump" => cmd
            .args(["--format=custom", "--file"])
            .arg(file)
            .arg(format!("--dbname={db}")),
        _ => cmd
            .args(["--no-owner", &format!("--dbname={db}")])
            .arg(file),
    };
    let status = cmd.status().unwrap();
    assert!(status.success(), "{} failed", bin.display());
}

#[test]
fn postgres_one_pg_dump_taken_while_registrations_run_restores_a_consistent_log_and_vault() {
    let db = pg_cluster::fresh_database();
    let key = NoteSigner::generate(ORIGIN).unwrap();
    let key_text = key.to_signer_key();
    let pool = PgPool::connect(&db, 8).unwrap();
    let log = Arc::new(Log::open(PgStore::open(pool.clone()).unwrap(), key, ORIGIN).unwrap());
    let vault = Arc::new(PgVaultStore::with_pool(pool).unwrap());
    let acked: Arc<Mutex<Vec<u64>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    // A registration as the service makes one: the body and envelopes into the vault, then the entry that
    // names the certificate onto the log; acknowledged when both returned.
    let writers: Vec<_> = (0..4u8)
        .map(|t| {
            let (log, vault, acked, stop) =
                (log.clone(), vault.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut n = 0u32;
                while !stop.load(Ordering::SeqCst) {
                    let mut id = [t; 16];
                    id[..4].copy_from_slice(&n.to_be_bytes());
                    vault
                        .put_certificate(CertId(id), &[t; 500], &[("cbp", &[1; 110])])
                        .unwrap();
                    let index = log.append(id.to_vec()).unwrap();
                    acked.lock().unwrap().push(index);
                    n += 1;
                }
            })
        })
        .collect();
    while acked.lock().unwrap().len() < 50 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let before = acked.lock().unwrap().len();
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("ledger.dump");
    pg_tool("pg_dump", &db, &dump);
    let after = acked.lock().unwrap().clone();
    assert!(
        after.len() > before,
        "registrations went on during the dump"
    );
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }

    let restored = pg_cluster::fresh_database();
    pg_tool("pg_restore", &restored, &dump);
    let key = NoteSigner::from_signer_key(&key_text).unwrap();
    let pool = PgPool::connect(&restored, 4).unwrap();
    let copy = Log::open(PgStore::open(pool.clone()).unwrap(), key, ORIGIN).unwrap();
    copy.check_integrity().unwrap();
    let size = copy.size();
    assert!(
        size >= before as u64,
        "the dump lost acknowledged entries: {size} < {before}"
    );
    // One snapshot: the entry of every registration in it names a certificate whose body is in it too.
    let vault = PgVaultStore::with_pool(pool).unwrap();
    for index in 0..size {
        let id: [u8; 16] = copy.entry(index).unwrap().try_into().unwrap();
        assert!(
            vault.get_ciphertext(CertId(id)).unwrap().is_some(),
            "entry {index}"
        );
        assert!(
            vault.get_envelope(CertId(id), "cbp").unwrap().is_some(),
            "entry {index}"
        );
    }
    // The same history as the live log at that size.
    assert_eq!(copy.root(size).unwrap(), log.root(size).unwrap());
    copy.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_pg_dump_taken_while_a_frontend_registers_restores_and_every_registration_in_it_opens()
 {
    let db = tokio::task::spawn_blocking(pg_cluster::fresh_database)
        .await
        .unwrap();
    let world = SpawnedWorld::start(&["--postgres", &db], None).await;
    let vkey = world.vkey();
    let acked: Arc<Mutex<Vec<(CertId, u64)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (acked, stop) = (acked.clone(), stop.clone());
        let importer = Party::with_keys(copy_keys(&world.importer.keys), &world.server.url);
        let (cbp, vkey) = (world.cbp.id().clone(), vkey.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let body = example("usmca.json");
                let to = std::slice::from_ref(&cbp);
                if let Ok(reg) = ops::register(&importer.actor(&vkey), &body, to).await {
                    let id = ops::parse_cert_id(&reg.cert_id).unwrap();
                    acked.lock().unwrap().push((id, reg.index));
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < 20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let before = acked.lock().unwrap().len();
    let dir = tempfile::tempdir().unwrap();
    let dump = dir.path().join("tradeledger.dump");
    let (db2, dump2) = (db.clone(), dump.clone());
    tokio::task::spawn_blocking(move || pg_tool("pg_dump", &db2, &dump2))
        .await
        .unwrap();
    stop.store(true, Ordering::SeqCst);
    for task in load {
        task.await.unwrap();
    }
    let all = acked.lock().unwrap().clone();
    let restored = tokio::task::spawn_blocking(pg_cluster::fresh_database)
        .await
        .unwrap();
    let (restored2, dump2) = (restored.clone(), dump.clone());
    tokio::task::spawn_blocking(move || pg_tool("pg_restore", &restored2, &dump2))
        .await
        .unwrap();
    world.server.terminate(Duration::from_secs(10)).await;

    // A frontend on the restored database, with the log key: the log verifies, and every registration in the
    // dump (all acknowledged before it began, and any later one that made it in) opens for its reader.
    let operator = PartyPublic::load(&world.operator_pub).unwrap();
    let server = Server::start_with(&dir.path().join("front"), &operator, |c| {
        c.postgres = Some(tradeledger::server::PostgresUrl::new(restored.clone()));
        c.log_key = Some(world.data.join("log.key"));
    })
    .await;
    let cbp = Party::with_keys(copy_keys(&world.cbp.keys), &server.url);
    let report = ops::audit(&cbp.client, &vkey, None).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let in_dump: Vec<_> = all.iter().filter(|a| a.1 < report.size).collect();
    assert!(in_dump.len() >= before, "{} < {before}", in_dump.len());
    for (cert_id, _) in in_dump {
        let opened = ops::open(&cbp.actor(&vkey), cert_id).await.unwrap();
        assert_eq!(opened.body, example("usmca.json"));
    }
    server.stop().await;
}
