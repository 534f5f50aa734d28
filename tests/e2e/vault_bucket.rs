//! `serve --postgres --bucket`: certificate ciphertexts are blobs under the bucket's private prefix
//! (`private/PREFIX/`), envelopes and the index in PostgreSQL. Against moto and a throwaway PostgreSQL: the
//! vault contract, the whole story with what the bucket holds checked (ciphertext only, nothing under the
//! public prefix, purge deletes the blob), a bucket outage (503, then recovery without loss), and a frontend
//! killed between its PUT and its commit (an orphan blob, no row; the sweep deletes it).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use base64::Engine as _;
use rand::Rng as _;
use tradeledger::api::Sealed;
use tradeledger::bucket::{BucketLocation, S3Blobs};
use tradeledger::client::{ClientError, ops};
use tradeledger::server::{PostgresUrl, ServeConfig};
use vault::{PgPool, PgVaultStore, VaultStore};

use crate::moto::Moto;
use crate::pg_cluster;
use crate::support::{World, example, log_key_file, save_keys};

#[path = "../../vault/tests/support/contract.rs"]
mod contract;

/// A vault on a fresh database with its blobs under `location`'s private prefix.
fn bucket_vault(location: &BucketLocation, runtime: tokio::runtime::Handle) -> PgVaultStore {
    let db = pg_cluster::fresh_database();
    let blobs = S3Blobs::new(location, runtime).unwrap();
    PgVaultStore::with_blobs(PgPool::connect(&db, 16).unwrap(), Arc::new(blobs)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vault_contract_holds_with_the_ciphertexts_in_a_real_s3_server() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    moto.bucket("tl-vault-contract", "").await;
    let cases: [fn(&dyn VaultStore); 8] = [
        contract::put_then_get,
        contract::put_refuses_an_existing_id,
        contract::a_refused_put_leaves_nothing,
        contract::batch_put_stores_all,
        contract::grant_and_revoke,
        contract::purge_removes_everything,
        contract::list_ids_pages_through_live_and_purged_in_order,
        contract::put_purged_records_a_tombstone,
    ];
    for (n, case) in cases.into_iter().enumerate() {
        let location = moto.location("tl-vault-contract", &format!("case{n}"));
        let runtime = tokio::runtime::Handle::current();
        tokio::task::spawn_blocking(move || case(&bucket_vault(&location, runtime)))
            .await
            .unwrap_or_else(|e| panic!("contract case {n}: {e}"));
    }
    let location = moto.location("tl-vault-contract", "concurrent");
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        contract::concurrent_writers(Arc::new(bucket_vault(&location, runtime)))
    })
    .await
    .unwrap();
    // Every blob went under the private prefixes, none beside them; the concurrent case leaves
    // 8 × 39 live bodies (8 × 40 put, one purged per thread).
    let all = moto.keys("tl-vault-contract", "").await;
    assert!(
        all.iter()
            .all(|k| k.starts_with("private/case") || k.starts_with("private/concurrent/")),
        "{all:?}"
    );
    assert_eq!(
        moto.keys("tl-vault-contract", "private/concurrent/")
            .await
            .len(),
        8 * 39
    );
}

/// A server over a fresh database and `location`, with the usual parties enrolled.
async fn world_on(location: BucketLocation, configure: impl FnOnce(&mut ServeConfig)) -> World {
    let db = tokio::task::spawn_blocking(pg_cluster::fresh_database)
        .await
        .unwrap();
    let keys = tempfile::tempdir().unwrap().keep();
    let log_key = log_key_file(&keys);
    World::new_with(move |c| {
        c.postgres = Some(PostgresUrl::new(db));
        c.log_key = Some(log_key);
        c.bucket = Some(Arc::new(location));
        configure(c);
    })
    .await
}

/// A certificate body carrying a random marker, and the marker.
fn marked_body() -> (serde_json::Value, String) {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let marker = hex::encode(bytes);
    let mut body = example("usmca.json");
    body["goods"][0]["description"] = format!("Disc brake pads, lot {marker}").into();
    (body, marker)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_keeps_only_ciphertexts_in_the_private_prefix_and_purge_deletes_the_blob() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    moto.bucket("tl-private", "").await;
    let w = world_on(moto.location("tl-private", "log"), |_| {}).await;
    let vkey = w.vkey().to_owned();
    let (body, marker) = marked_body();
    let (kept, kept_index) = w.register(&body, &[&w.cbp]).await;
    let (purged, _) = w.register(&example("usmca.json"), &[&w.cbp]).await;
    assert_eq!(w.open(&w.cbp, &kept).await.unwrap().body, body);
    ops::grant(&w.importer.actor(&vkey), &kept, w.broker.id())
        .await
        .unwrap();
    w.open(&w.broker, &kept).await.unwrap();
    ops::revoke(&w.importer.actor(&vkey), &kept, w.broker.id())
        .await
        .unwrap();
    assert!(w.open(&w.broker, &kept).await.is_err(), "revoked");

    // The bucket's private prefix holds exactly the two ciphertexts, byte for byte what a reader gets.
    let sealed = |id: vault::CertId| {
        let cbp = &w.cbp;
        async move {
            let sealed: Sealed = cbp
                .client
                .get_signed(&format!("/v1/certificates/{id}/sealed"))
                .await
                .unwrap();
            sealed
        }
    };
    let (kept_sealed, purged_sealed) = (sealed(kept).await, sealed(purged).await);
    let private = moto.keys("tl-private", "private/log/").await;
    assert_eq!(private.len(), 2, "{private:?}");
    let mut stored = Vec::new();
    for key in &private {
        stored.push(moto.object("tl-private", key).await);
    }
    assert!(stored.contains(&kept_sealed.ciphertext.0));
    assert!(stored.contains(&purged_sealed.ciphertext.0));

    // Nothing secret in any object of the bucket, public or private: not the plaintext, not the master salt
    // or the data key (raw, hex or base64), not an envelope.
    let entry = w.server.client().get_entry(kept_index).await.unwrap();
    let commitment = match ledger::SignedEntry::decode(&entry).unwrap().entry() {
        ledger::Entry::Registration { commitment, .. } => *commitment,
        other => panic!("not a registration: {other:?}"),
    };
    let secrets = vault::open_certificate(
        &kept,
        &commitment,
        &w.cbp.keys,
        &kept_sealed.envelope.0,
        &kept_sealed.ciphertext.0,
    )
    .unwrap();
    let mut needles: Vec<(&str, Vec<u8>)> = vec![
        ("the marker", marker.clone().into_bytes()),
        ("an envelope", kept_sealed.envelope.0.clone()),
    ];
    for (name, secret) in [
        (
            "the master salt",
            secrets.master_salt.expose_secret().to_vec(),
        ),
        ("the data key", secrets.data_key.expose_secret().to_vec()),
    ] {
        needles.push((name, secret.clone()));
        needles.push((name, hex::encode(&secret).into_bytes()));
        needles.push((
            name,
            base64::engine::general_purpose::STANDARD
                .encode(&secret)
                .into_bytes(),
        ));
    }
    let size = w.server.size().await;
    crate::bucket::wait_for_bucket(&moto.bucket("tl-private", "log").await, size).await;
    let everything = moto.keys("tl-private", "").await;
    for key in &everything {
        let bytes = moto.object("tl-private", key).await;
        for (name, needle) in &needles {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_slice()),
                "{name} found in {key}"
            );
        }
        // The public prefix holds the log only: the checkpoint, tiles and bundles, no ciphertext.
        if key.starts_with("log/") {
            assert!(
                key == "log/checkpoint" || key.starts_with("log/tile/"),
                "{key}"
            );
            assert!(
                !stored.contains(&bytes),
                "a ciphertext under the public prefix: {key}"
            );
        } else {
            assert!(key.starts_with("private/log/"), "{key}");
        }
    }
    assert!(everything.iter().any(|k| k.starts_with("log/tile/")));

    // Purge: the blob is gone from the bucket, the other stays.
    ops::purge(&w.importer.actor(&vkey), &purged).await.unwrap();
    let private = moto.keys("tl-private", "private/log/").await;
    assert_eq!(private.len(), 1, "{private:?}");
    assert_eq!(
        moto.object("tl-private", &private[0]).await,
        kept_sealed.ciphertext.0
    );
    assert!(w.open(&w.cbp, &purged).await.is_err(), "purged");
    assert_eq!(w.open(&w.cbp, &kept).await.unwrap().body, body);
    w.stop().await;
}

/// A TCP gate in front of moto: open, it forwards; closed, it cuts every connection and refuses new ones,
/// while moto keeps what it holds (a bucket outage that loses nothing, unlike killing moto).
struct Gate {
    endpoint: String,
    open: Arc<AtomicBool>,
    cut: Arc<std::sync::Mutex<Vec<tokio::task::AbortHandle>>>,
}

impl Gate {
    async fn start(upstream_port: u16) -> Gate {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let open = Arc::new(AtomicBool::new(true));
        let cut = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (gate_open, connections) = (open.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                if !gate_open.load(Ordering::SeqCst) {
                    continue;
                }
                let task = tokio::spawn(async move {
                    if let Ok(mut outbound) =
                        tokio::net::TcpStream::connect(("127.0.0.1", upstream_port)).await
                    {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
                connections.lock().unwrap().push(task.abort_handle());
            }
        });
        Gate {
            endpoint,
            open,
            cut,
        }
    }

    fn set_open(&self, open: bool) {
        self.open.store(open, Ordering::SeqCst);
        if !open {
            for task in self.cut.lock().unwrap().drain(..) {
                task.abort();
            }
        }
    }
}

fn is_503(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<ClientError>(),
        Some(ClientError::Api { status: 503, .. })
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_outage_is_503_on_register_and_open_then_recovers_with_nothing_lost() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    moto.bucket("tl-outage", "").await;
    let gate = Gate::start(moto.port).await;
    let through_gate = BucketLocation::from_vars("s3://tl-outage/log", |var| match var {
        "AWS_ENDPOINT_URL" => Some(gate.endpoint.clone()),
        "AWS_ACCESS_KEY_ID" => Some(crate::moto::ACCESS_KEY.to_owned()),
        "AWS_SECRET_ACCESS_KEY" => Some(crate::moto::SECRET.to_owned()),
        _ => None,
    })
    .unwrap();
    let w = world_on(through_gate, |_| {}).await;
    let vkey = w.vkey().to_owned();
    let (before, _) = w.register(&example("usmca.json"), &[&w.cbp]).await;

    gate.set_open(false);
    let refused = ops::register(
        &w.importer.actor(&vkey),
        &example("usmca.json"),
        &[w.cbp.id().clone()],
    )
    .await
    .unwrap_err();
    assert!(is_503(&refused), "{refused:#}");
    let refused = w.open(&w.cbp, &before).await.unwrap_err();
    assert!(is_503(&refused), "{refused:#}");

    gate.set_open(true);
    let (after, _) = w.register(&example("usmca.json"), &[&w.cbp]).await;
    w.open(&w.cbp, &before).await.unwrap();
    w.open(&w.cbp, &after).await.unwrap();
    // The refused registration left no blob: the two in the bucket are the acknowledged ones.
    assert_eq!(moto.keys("tl-outage", "private/log/").await.len(), 2);
    w.stop().await;
}

/// The number of rows in `table` (the sync client on a blocking thread: it runs a runtime of its own).
async fn count(db: &str, table: &str) -> i64 {
    let (db, sql) = (db.to_owned(), format!("SELECT count(*) FROM {table}"));
    tokio::task::spawn_blocking(move || {
        let mut admin = postgres::Client::connect(&db, postgres::NoTls).unwrap();
        admin.query_one(&sql, &[]).unwrap().get(0)
    })
    .await
    .unwrap()
}

/// A frontend killed (SIGKILL) after its blob PUT and before its commit: the blob is an orphan, no row names
/// it, the id was never taken, and another frontend's sweep deletes it once past the grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frontend_killed_between_put_and_commit_leaves_an_orphan_the_sweep_deletes() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    moto.bucket("tl-orphan", "").await;
    let db = tokio::task::spawn_blocking(pg_cluster::fresh_database)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log_key = log_key_file(dir.path());
    let operator = vault::PartyKeys::generate(
        vault::PartyId::new("operator").unwrap(),
        vault::Role::Operator,
    );
    save_keys(dir.path(), &operator);
    let env = [
        ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
        ("AWS_ACCESS_KEY_ID", crate::moto::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", crate::moto::SECRET),
    ];
    let spawned = crate::spawned::Spawned::start_with_env(
        &dir.path().join("a"),
        &dir.path().join("operator.key.pub"),
        &[
            "--postgres",
            &db,
            "--bucket",
            "s3://tl-orphan/log",
            "--log-key-file",
            log_key.to_str().unwrap(),
        ],
        None,
        &env,
    )
    .await;
    let op = crate::support::Party::with_keys(operator, &spawned.url);
    let importer = crate::support::Party::new("acme-imports", vault::Role::Importer, &spawned.url);
    let cbp = crate::support::Party::new("cbp", vault::Role::Customs, &spawned.url);
    for party in [&importer, &cbp] {
        ops::enroll(&op.client, &op.keys, &party.keys.public())
            .await
            .unwrap();
    }
    let vkey = std::fs::read_to_string(dir.path().join("a/log.vkey")).unwrap();
    let vkey = vkey.trim_end().to_owned();

    // Hold the envelope table: the registration puts its blob, then waits inside its transaction.
    let admin_db = db.clone();
    let (held, holding) = std::sync::mpsc::channel::<()>();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let mut admin = postgres::Client::connect(&admin_db, postgres::NoTls).unwrap();
        let mut tx = admin.transaction().unwrap();
        tx.batch_execute("LOCK TABLE vault_envelopes IN ACCESS EXCLUSIVE MODE")
            .unwrap();
        held.send(()).unwrap();
        // Until the frontend is dead.
        let _ = released.recv_timeout(Duration::from_secs(60));
        tx.rollback().unwrap();
    });
    holding.recv().unwrap();
    let registering = {
        let (importer_keys, url, vkey, cbp_id) = (
            crate::support::copy_keys(&importer.keys),
            spawned.url.clone(),
            vkey.clone(),
            cbp.id().clone(),
        );
        tokio::spawn(async move {
            let importer = crate::support::Party::with_keys(importer_keys, &url);
            ops::register(&importer.actor(&vkey), &example("usmca.json"), &[cbp_id]).await
        })
    };
    let mut waited = 0;
    while moto.keys("tl-orphan", "private/log/").await.is_empty() {
        waited += 1;
        assert!(waited < 300, "the registration never put its blob");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    spawned.kill9().await;
    // The dead frontend's transaction goes on once the table is free, then finds its client gone before COMMIT.
    release.send(()).unwrap();
    tokio::task::spawn_blocking(move || holder.join().unwrap())
        .await
        .unwrap();
    assert!(registering.await.unwrap().is_err(), "never acknowledged");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        moto.keys("tl-orphan", "private/log/").await.len(),
        1,
        "the orphan blob"
    );
    assert_eq!(count(&db, "vault_body_objects").await, 0, "no row names it");
    assert_eq!(
        count(&db, "vault_certificates").await,
        0,
        "the id was never taken"
    );
    assert_eq!(
        count(&db, "vault_pending_objects").await,
        1,
        "its pending row finds it"
    );

    // Another frontend on the same database and bucket sweeps it (grace 0 here; 10 minutes by default).
    let location = Arc::new(moto.location("tl-orphan", "log"));
    let survivor_dir = dir.path().join("b");
    let on_both = |c: &mut ServeConfig| {
        c.postgres = Some(PostgresUrl::new(db.clone()));
        c.log_key = Some(log_key.clone());
        c.bucket = Some(location.clone());
    };
    let sweeper = crate::support::Server::start_with(&survivor_dir, &op.keys.public(), |c| {
        on_both(c);
        c.orphan_grace = Duration::ZERO;
        c.sweep_every = Duration::from_millis(200);
    })
    .await;
    let mut waited = 0;
    while !moto.keys("tl-orphan", "private/log/").await.is_empty() {
        waited += 1;
        assert!(waited < 100, "the orphan was not swept within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(count(&db, "vault_pending_objects").await, 0);
    // With a grace of 0 the sweep may also take a put's blob between its PUT and its commit (that put fails, a
    // 503 to retry): so it is restarted with the default grace, then registers and opens as usual.
    sweeper.stop().await;
    let survivor =
        crate::support::Server::start_with(&survivor_dir, &op.keys.public(), on_both).await;
    let importer =
        crate::support::Party::with_keys(crate::support::copy_keys(&importer.keys), &survivor.url);
    let cbp = crate::support::Party::with_keys(crate::support::copy_keys(&cbp.keys), &survivor.url);
    let reg = ops::register(
        &importer.actor(&vkey),
        &example("usmca.json"),
        &[cbp.id().clone()],
    )
    .await
    .unwrap();
    ops::open(
        &cbp.actor(&vkey),
        &ops::parse_cert_id(&reg.cert_id).unwrap(),
    )
    .await
    .unwrap();
    survivor.stop().await;
}

/// Durable vault puts per second with the bodies as rows in PostgreSQL, and as blobs in moto with the PUTs of
/// a group one at a time and 16 at once: 4 KiB bodies, two envelopes, groups of 64 (as the registrar commits
/// under load), and one at a time from 8 threads. A measurement, not a check. Run:
/// `cargo test -p tradeledger --test e2e measure_bucket_vault_put_rate -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn measure_bucket_vault_put_rate() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    moto.bucket("tl-measure", "").await;
    let runtime = tokio::runtime::Handle::current();
    for (name, parallel) in [
        ("rows in PostgreSQL", 0),
        ("blobs, 1 PUT at a time", 1),
        ("blobs, 16 PUTs at once", 16),
    ] {
        let location = moto.location("tl-measure", &format!("p{parallel}"));
        let runtime = runtime.clone();
        let (batched, singles) = tokio::task::spawn_blocking(move || {
            let pool = PgPool::connect(&pg_cluster::fresh_database(), 16).unwrap();
            let store = Arc::new(if parallel == 0 {
                PgVaultStore::with_pool(pool).unwrap()
            } else {
                let blobs = S3Blobs::new(&location, runtime)
                    .unwrap()
                    .with_parallel_puts(parallel);
                PgVaultStore::with_blobs(pool, Arc::new(blobs)).unwrap()
            });
            let ciphertext = vec![0x5Au8; 4096];
            let envelope = [7u8; 110];
            let envelopes: [(&str, &[u8]); 2] = [("importer", &envelope), ("customs", &envelope)];
            let groups = 10u32;
            let started = std::time::Instant::now();
            for g in 0..groups {
                let batch: Vec<vault::NewCertificate<'_>> = (0..64u32)
                    .map(|i| vault::NewCertificate {
                        cert_id: contract::id(g * 64 + i),
                        ciphertext: &ciphertext,
                        envelopes: &envelopes,
                    })
                    .collect();
                store.put_certificates(&batch).unwrap();
            }
            let batched = f64::from(groups * 64) / started.elapsed().as_secs_f64();
            let started = std::time::Instant::now();
            let threads: Vec<_> = (0..8u32)
                .map(|t| {
                    let store = Arc::clone(&store);
                    let ciphertext = ciphertext.clone();
                    std::thread::spawn(move || {
                        for i in 0..40u32 {
                            let env: [(&str, &[u8]); 2] =
                                [("importer", &envelope), ("customs", &envelope)];
                            store
                                .put_certificate(
                                    contract::id(100_000 + t * 1000 + i),
                                    &ciphertext,
                                    &env,
                                )
                                .unwrap();
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let singles = f64::from(8 * 40) / started.elapsed().as_secs_f64();
            (batched, singles)
        })
        .await
        .unwrap();
        println!(
            "{name}: {batched:.0} puts/s in groups of 64, {singles:.0} puts/s one at a time from 8 threads"
        );
    }
}
