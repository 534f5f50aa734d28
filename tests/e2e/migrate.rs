//! `tradeledger migrate`: an embedded deployment moved into PostgreSQL (a throwaway cluster of this test
//! binary). The whole story served, stopped, migrated as a user types it, and served from the database; an
//! interrupted migration resumed; databases that are not an earlier copy of this log refused.

use std::path::Path;

use ledger::{FsStore, Log, NoteSigner, PgStore};
use serde_json::Value;
use tradeledger::api::Sealed;
use tradeledger::client::ops;
use tradeledger::server::{PostgresUrl, migrate};
use vault::{FsVaultStore, PartyId, PartyKeys, Role, VaultStore};

use crate::pg_cluster;
use crate::support::{Party, Server, copy_keys, example, run_cli};

/// The log key of a data directory, as `serve` wrote it.
fn signer(data: &Path) -> NoteSigner {
    let text = std::fs::read_to_string(data.join("log.key")).unwrap();
    NoteSigner::from_signer_key(text.trim_end()).unwrap()
}

/// Runs SQL on `db` (blocking).
fn sql(db: &str, statements: &str) {
    let mut client = postgres::Client::connect(db, postgres::NoTls).unwrap();
    client.batch_execute(statements).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_deployment_is_migrated_and_served_from_postgres_and_a_second_run_is_a_no_op() {
    let db = tokio::task::spawn_blocking(pg_cluster::fresh_database)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (data, home) = (dir.path().join("data"), dir.path().join("home"));
    let data_arg = data.to_str().unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let server = Server::start(&data, &operator.public()).await;
    let vkey = server.vkey.clone();
    let op = Party::with_keys(copy_keys(&operator), &server.url);
    let importer = Party::new("acme-imports", Role::Importer, &server.url);
    let cbp = Party::new("cbp", Role::Customs, &server.url);
    let broker = Party::new("swift-brokers", Role::Broker, &server.url);
    for party in [&importer, &cbp, &broker] {
        ops::enroll(&op.client, &op.keys, &party.keys.public())
            .await
            .unwrap();
    }
    let mut certs = Vec::new();
    for name in ["usmca.json", "cafta-dr.json", "nafta-434.json"] {
        let reg = ops::register(&importer.actor(&vkey), &example(name), &[cbp.id().clone()])
            .await
            .unwrap();
        certs.push((name, ops::parse_cert_id(&reg.cert_id).unwrap()));
    }
    let (revoked, granted, purged) = (certs[0].1, certs[1].1, certs[2].1);
    ops::grant(&importer.actor(&vkey), &revoked, broker.id())
        .await
        .unwrap();
    ops::open(&broker.actor(&vkey), &revoked).await.unwrap();
    ops::revoke(&importer.actor(&vkey), &revoked, broker.id())
        .await
        .unwrap();
    ops::grant(&importer.actor(&vkey), &granted, broker.id())
        .await
        .unwrap();
    ops::purge(&importer.actor(&vkey), &purged).await.unwrap();
    let before = ops::audit(&cbp.client, &vkey, None).await.unwrap();
    assert!(before.problems.is_empty(), "{:?}", before.problems);

    // While the service runs, the data directory is refused.
    let refused = run_cli(&home, &["migrate", "--data", data_arg, "--postgres", &db])
        .await
        .failure();
    assert!(
        refused.contains("in use by another tradeledger process"),
        "{refused}"
    );
    server.stop().await;

    let run = run_cli(
        &home,
        &["migrate", "--data", data_arg, "--postgres", &db, "--json"],
    )
    .await;
    assert!(
        run.stderr.contains("; 0 already in PostgreSQL"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("log verified in PostgreSQL"),
        "{}",
        run.stderr
    );
    let report: Value = serde_json::from_str(&run.success()).unwrap();
    assert_eq!(report["log_size"], before.size);
    assert_eq!(report["log_root"], before.root.as_str());
    assert_eq!(report["entries_copied"], before.size);
    assert_eq!(
        (&report["certificates_copied"], &report["tombstones_copied"]),
        (&Value::from(2), &Value::from(1))
    );
    assert_eq!(report["certificates_verified"], 3);

    // Independently of migrate's own checks: the log in PostgreSQL opens with the log key at the same size,
    // root and checkpoint as the one in the data directory.
    let (db2, data2) = (db.clone(), data.clone());
    tokio::task::spawn_blocking(move || {
        let pg = Log::open(PgStore::connect(&db2, 2).unwrap(), signer(&data2), ORIGIN).unwrap();
        let fs_store = FsStore::open(data2.join("log")).unwrap();
        let fs = Log::open(fs_store, signer(&data2), ORIGIN).unwrap();
        assert_eq!(pg.size(), fs.size());
        assert_eq!(pg.root(pg.size()).unwrap(), fs.root(fs.size()).unwrap());
        assert_eq!(pg.checkpoint(), fs.checkpoint());
        pg.check_integrity().unwrap();
        pg.close().unwrap();
        fs.close().unwrap();
    })
    .await
    .unwrap();

    // A second run finds everything there and copies nothing.
    let again: Value = serde_json::from_str(
        &run_cli(
            &home,
            &["migrate", "--data", data_arg, "--postgres", &db, "--json"],
        )
        .await
        .success(),
    )
    .unwrap();
    assert_eq!(again["entries_copied"], 0);
    assert_eq!(again["entries_present"], before.size);
    assert_eq!(
        (
            &again["certificates_copied"],
            &again["tombstones_copied"],
            &again["certificates_present"]
        ),
        (&Value::from(0), &Value::from(0), &Value::from(3))
    );
    assert_eq!(again["log_root"], before.root.as_str());

    // A frontend on the migrated database, with the same log key and a data directory of its own: the log,
    // the vault and the nonces all come from PostgreSQL.
    let front = dir.path().join("front");
    let server = Server::start_with(&front, &operator.public(), |c| {
        c.postgres = Some(PostgresUrl::new(db.clone()));
        c.log_key = Some(data.join("log.key"));
    })
    .await;
    assert!(!front.join("log").exists() && !front.join("vault").exists());
    let on = |p: &Party| Party::with_keys(copy_keys(&p.keys), &server.url);
    let (importer, cbp, broker) = (on(&importer), on(&cbp), on(&broker));
    let after = ops::audit(&cbp.client, &vkey, None).await.unwrap();
    assert!(after.problems.is_empty(), "{:?}", after.problems);
    assert_eq!((after.size, &after.root), (before.size, &before.root));
    for (name, cert_id) in &certs[..2] {
        for reader in [&importer, &cbp] {
            let opened = ops::open(&reader.actor(&vkey), cert_id).await.unwrap();
            assert_eq!(opened.body, example(name), "{name} for {}", reader.name());
        }
    }
    ops::open(&broker.actor(&vkey), &granted).await.unwrap();
    let err = ops::open(&broker.actor(&vkey), &revoked).await.unwrap_err();
    assert!(format!("{err:#}").contains("forbidden"), "{err:#}");
    for reader in [&importer, &cbp] {
        assert!(ops::open(&reader.actor(&vkey), &purged).await.is_err());
    }
    let info = server.client().get_certificate(&purged).await.unwrap();
    assert!(info.purged);
    server.stop().await;
}

/// A data directory as `serve` leaves it, written through the libraries: the log key `key`, a log of
/// `size` entries (70,000 give tile levels 0, 1 and 2), and a vault of 40 certificates, every seventh purged.
fn embedded_deployment(data: &Path, key: NoteSigner, size: u64, tag: &str) {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::create_dir_all(data).unwrap();
    std::fs::write(data.join("log.key"), key.to_signer_key().as_bytes()).unwrap();
    std::fs::set_permissions(data.join("log.key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let log = Log::open(FsStore::open(data.join("log")).unwrap(), key, ORIGIN).unwrap();
    let mut next = 0;
    while next < size {
        let n = (size - next).min(5000);
        let batch = (next..next + n).map(|i| format!("{tag} {i}").into_bytes());
        log.append_batch(batch.collect()).unwrap();
        next += n;
    }
    log.close().unwrap();
    let vault = FsVaultStore::open(&data.join("vault")).unwrap();
    for n in 0u8..40 {
        let id = vault::CertId([n; 16]);
        let envelopes: [(&str, &[u8]); 2] = [("importer", &[n; 3]), ("customs", &[n, 1])];
        vault.put_certificate(id, &[n; 100], &envelopes).unwrap();
        if n % 7 == 0 {
            vault.purge(id).unwrap();
        }
    }
}

const ORIGIN: &str = "tradeledger.example/log";

fn new_key() -> NoteSigner {
    NoteSigner::generate(ORIGIN).unwrap()
}

#[test]
fn an_interrupted_migration_resumes_and_foreign_databases_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    embedded_deployment(&data, new_key(), 70_000, "entry");
    let db = pg_cluster::fresh_database();
    let mut lines = Vec::new();
    let first = migrate(&data, &db, None, &mut |l| lines.push(l.to_owned())).unwrap();
    assert_eq!((first.log_size, first.entries_copied), (70_000, 70_000));
    assert_eq!(
        (first.certificates_copied, first.tombstones_copied),
        (34, 6)
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "log: 4096/70000 entries in PostgreSQL"),
        "{lines:?}"
    );

    // As a run killed after its second chunk of entries (each chunk is one transaction, the checkpoint is
    // stored after the last) and during the vault's pages: the database keeps entries 0..8192 with the tile
    // hashes they complete, and certificates 0x00.. to 0x10.. (3 of them tombstones).
    sql(
        &db,
        "DELETE FROM ledger_entries WHERE idx >= 8192; \
         DELETE FROM ledger_tiles WHERE (level = 1 AND idx >= 32) OR level = 2; \
         UPDATE ledger_sequence SET size = 8192; \
         UPDATE ledger_checkpoint SET size = NULL, note = NULL; \
         DELETE FROM vault_envelopes WHERE cert_id > '\\x10101010101010101010101010101010'; \
         DELETE FROM vault_bodies WHERE cert_id > '\\x10101010101010101010101010101010'; \
         DELETE FROM vault_certificates WHERE cert_id > '\\x10101010101010101010101010101010'",
    );
    let resumed = migrate(&data, &db, None, &mut |_| {}).unwrap();
    assert_eq!(
        (resumed.entries_present, resumed.entries_copied),
        (8192, 70_000 - 8192)
    );
    assert_eq!(resumed.log_root, first.log_root);
    assert_eq!(resumed.certificates_present, 17);
    assert_eq!(
        (resumed.certificates_copied, resumed.tombstones_copied),
        (34 - 14, 3)
    );
    assert_eq!(resumed.certificates_verified, 40);

    // A longer log, another key, or other entries under the same key: refused before anything is written.
    let short = dir.path().join("short");
    embedded_deployment(&short, new_key(), 10, "entry");
    let err = format!("{:#}", migrate(&short, &db, None, &mut |_| {}).unwrap_err());
    assert!(err.contains("more than the 10"), "{err}");
    let other_db = pg_cluster::fresh_database();
    migrate(&short, &other_db, None, &mut |_| {}).unwrap();
    let err = format!(
        "{:#}",
        migrate(&data, &other_db, None, &mut |_| {}).unwrap_err()
    );
    assert!(err.contains("another key or origin"), "{err}");
    let forked = dir.path().join("forked");
    embedded_deployment(&forked, signer(&data), 10, "forked");
    let forked_db = pg_cluster::fresh_database();
    migrate(&forked, &forked_db, None, &mut |_| {}).unwrap();
    let err = format!(
        "{:#}",
        migrate(&data, &forked_db, None, &mut |_| {}).unwrap_err()
    );
    assert!(
        err.contains("differs from") && err.contains("within entries 0..10"),
        "{err}"
    );

    // Served with --postgres, a data directory keeps no vault: only the log is copied, and none is created.
    let log_only = dir.path().join("log-only");
    embedded_deployment(&log_only, new_key(), 5, "entry");
    std::fs::remove_dir_all(log_only.join("vault")).unwrap();
    let report = migrate(&log_only, &pg_cluster::fresh_database(), None, &mut |_| {}).unwrap();
    assert_eq!((report.log_size, report.certificates_verified), (5, 0));
    assert!(!log_only.join("vault").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_with_a_bucket_publishes_the_migrated_log_and_it_audits_from_the_bucket_alone() {
    let moto = tokio::task::spawn_blocking(crate::moto::Moto::start)
        .await
        .unwrap();
    moto.bucket("tl-migrate", "").await;
    let db = tokio::task::spawn_blocking(pg_cluster::fresh_database)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (data, home) = (dir.path().join("data"), dir.path().join("home"));
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let server = Server::start(&data, &operator.public()).await;
    let vkey = server.vkey.clone();
    let op = Party::with_keys(copy_keys(&operator), &server.url);
    for id in ["acme-imports", "cbp"] {
        let party = PartyKeys::generate(PartyId::new(id).unwrap(), Role::Importer);
        ops::enroll(&op.client, &op.keys, &party.public())
            .await
            .unwrap();
    }
    // Two certificates, one purged: the live one's ciphertext moves to the bucket's private prefix.
    let importer = Party::new("acme-exports", Role::Importer, &server.url);
    let customs = Party::new("cbp-customs", Role::Customs, &server.url);
    for party in [&importer, &customs] {
        ops::enroll(&op.client, &op.keys, &party.keys.public())
            .await
            .unwrap();
    }
    let mut ids = Vec::new();
    for _ in 0..2 {
        let reg = ops::register(
            &importer.actor(&vkey),
            &crate::support::example("usmca.json"),
            &[customs.id().clone()],
        )
        .await
        .unwrap();
        ids.push(ops::parse_cert_id(&reg.cert_id).unwrap());
    }
    ops::purge(&importer.actor(&vkey), &ids[1]).await.unwrap();
    let live: Sealed = customs
        .client
        .get_signed(&format!("/v1/certificates/{}/sealed", ids[0]))
        .await
        .unwrap();
    server.stop().await;
    let out = crate::support::cli(&home)
        .args([
            "migrate",
            "--json",
            "--bucket",
            "s3://tl-migrate/log",
            "--postgres",
            &db,
        ])
        .arg("--data")
        .arg(&data)
        .env("AWS_ENDPOINT_URL", &moto.endpoint)
        .env("AWS_ACCESS_KEY_ID", crate::moto::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", crate::moto::SECRET)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains(crate::moto::SECRET), "{stderr}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["log_size"], 9);
    assert_eq!(report["bucket_size"], 9);
    assert_eq!(report["certificates_verified"], 2);
    // The live body is the one object under the private prefix, byte for byte; the purged one is nowhere.
    let private = moto.keys("tl-migrate", "private/log/").await;
    assert_eq!(private.len(), 1, "{private:?}");
    assert_eq!(
        moto.object("tl-migrate", &private[0]).await,
        live.ciphertext.0
    );
    let url = moto.public_url("tl-migrate", "log");
    let audit = run_cli(
        &home,
        &["audit", "--json", "--tiles", &url, "--log-key", &vkey],
    )
    .await
    .success();
    let audit: Value = serde_json::from_str(audit.lines().last().unwrap()).unwrap();
    assert_eq!(
        (&audit["size"], &audit["root"]),
        (&report["log_size"], &report["log_root"])
    );
    assert_eq!(audit["problems"], serde_json::json!([]));
}
