//! `serve --postgres`: the log, the vault and the replay-nonce store in PostgreSQL (a throwaway cluster of this test
//! binary, tests/support via vault/tests/support/pg_cluster.rs). Two frontends on one database refuse each
//! other's replays; the binary, as a user starts it, keeps certificate bodies in the database and none on disk.

use tradeledger::client::ops;
use tradeledger::httpsig::unix_now;
use tradeledger::server::{PostgresUrl, ServeConfig};
use vault::{PartyId, PartyKeys, Role};

use crate::pg_cluster;
use crate::spawned::SpawnedWorld;
use crate::support::{Party, Server, copy_keys, example, log_key_file, send, sign};

/// A signed GET any enrolled party may send: authenticated (its nonce claimed) before the certificate is
/// found missing.
const SIGNED_GET: &str = "/v1/certificates/00000000000000000000000000000000/grants";

/// The rows of `table`. (The blocking client runs its own runtime: not on an async worker.)
async fn count(db: &str, table: &str) -> i64 {
    let (db, sql) = (db.to_owned(), format!("SELECT count(*) FROM {table}"));
    tokio::task::spawn_blocking(move || {
        let mut client = postgres::Client::connect(&db, postgres::NoTls).unwrap();
        client.query_one(&sql, &[]).unwrap().get(0)
    })
    .await
    .unwrap()
}

/// A fresh database on this binary's cluster (started on first use).
async fn fresh_database() -> String {
    tokio::task::spawn_blocking(pg_cluster::fresh_database)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_accepted_by_one_frontend_is_refused_by_another() {
    let db = fresh_database().await;
    let dir = tempfile::tempdir().unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let log_key = log_key_file(dir.path());
    let on_postgres = |c: &mut ServeConfig| {
        c.postgres = Some(PostgresUrl::new(db.clone()));
        c.log_key = Some(log_key.clone());
    };
    let a = Server::start_with(&dir.path().join("a"), &operator.public(), on_postgres).await;
    let b = Server::start_with(&dir.path().join("b"), &operator.public(), on_postgres).await;
    // The frontends share the log: enrolled through one, the party is known to both.
    let cbp = Party::new("cbp", Role::Customs, &a.url);
    let op = Party::with_keys(copy_keys(&operator), &a.url);
    ops::enroll(&op.client, &op.keys, &cbp.keys.public())
        .await
        .unwrap();
    let signed = |now| sign("GET", SIGNED_GET, b"", cbp.name(), cbp.signing_key(), now);
    let headers = signed(unix_now());
    let first = send(&a.url, "GET", SIGNED_GET, &headers, Vec::new()).await;
    assert_eq!(
        first.status, 404,
        "authenticated, then not found: {first:?}"
    );
    send(&b.url, "GET", SIGNED_GET, &headers, Vec::new())
        .await
        .assert_error(401, "replayed_request", "replayed");
    // And the other way round, for a request dated ahead of the clock (the case a restart floor misses).
    let ahead = signed(unix_now() + 200);
    let first = send(&b.url, "GET", SIGNED_GET, &ahead, Vec::new()).await;
    assert_eq!(first.status, 404, "{first:?}");
    send(&a.url, "GET", SIGNED_GET, &ahead, Vec::new())
        .await
        .assert_error(401, "replayed_request", "replayed");
    // Fresh requests are served by both.
    for server in [&a, &b] {
        let fresh = send(
            &server.url,
            "GET",
            SIGNED_GET,
            &signed(unix_now()),
            Vec::new(),
        )
        .await;
        assert_eq!(fresh.status, 404, "{fresh:?}");
    }
    assert!(count(&db, "replay_nonces").await >= 4);
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_postgres_keeps_the_vault_in_the_database() {
    let db = fresh_database().await;
    let world = SpawnedWorld::start(&["--postgres", &db], None).await;
    let vkey = world.vkey();
    let body = example("usmca.json");
    let reg = ops::register(
        &world.importer.actor(&vkey),
        &body,
        &[world.cbp.id().clone()],
    )
    .await
    .unwrap();
    let cert_id = ops::parse_cert_id(&reg.cert_id).unwrap();
    let opened = ops::open(&world.cbp.actor(&vkey), &cert_id).await.unwrap();
    assert_eq!(opened.body, body);
    assert_eq!(count(&db, "vault_bodies").await, 1);
    assert_eq!(
        count(&db, "vault_envelopes").await,
        2,
        "importer and customs"
    );
    assert!(
        !world.data.join("vault").exists(),
        "no vault in the data directory with --postgres"
    );
    ops::purge(&world.importer.actor(&vkey), &cert_id)
        .await
        .unwrap();
    assert_eq!(count(&db, "vault_bodies").await, 0);
    assert!(ops::open(&world.cbp.actor(&vkey), &cert_id).await.is_err());
    world
        .server
        .terminate(std::time::Duration::from_secs(10))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_a_clean_503_and_the_service_resumes() {
    let db = fresh_database().await;
    let name = db.rsplit("dbname=").next().unwrap().trim().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let server = Server::start_with(&dir.path().join("data"), &operator.public(), |c| {
        c.postgres = Some(PostgresUrl::new(db.clone()));
    })
    .await;
    let op = Party::with_keys(operator, &server.url);
    let cbp = Party::new("cbp", Role::Customs, &server.url);
    ops::enroll(&op.client, &op.keys, &cbp.keys.public())
        .await
        .unwrap();
    let admin = move |sql: String| {
        tokio::task::spawn_blocking(move || {
            let settings = pg_cluster::cluster().settings("postgres");
            let mut client = postgres::Client::connect(&settings, postgres::NoTls).unwrap();
            client.batch_execute(&sql).unwrap();
        })
    };
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
    let signed = || {
        sign(
            "GET",
            SIGNED_GET,
            b"",
            cbp.name(),
            cbp.signing_key(),
            unix_now(),
        )
    };
    send(&server.url, "GET", SIGNED_GET, &signed(), Vec::new())
        .await
        .assert_error(503, "unavailable", "");
    // It comes back: the next request is served, with no restart.
    admin(format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let answer = send(&server.url, "GET", SIGNED_GET, &signed(), Vec::new()).await;
    assert_eq!(answer.status, 404, "{answer:?}");
    server.stop().await;
}
