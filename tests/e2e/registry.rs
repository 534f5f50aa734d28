//! The registry lives in a store (issue 10 item 5): a restart reads its watermark and parties and applies only
//! the entries after it, a removed registry is rebuilt from the log, and a frontend started beside others on
//! one PostgreSQL database begins where they got to. `tradeledger_registry_entries_read_total` in `/metrics`
//! counts the log entries a server read back to apply: what a start replays.

use tradeledger::client::ops;
use vault::{PartyId, PartyKeys, Role};

use crate::frontends::{Pair, at};
use crate::support::{Party, Server, copy_keys, example};

/// `tradeledger_registry_entries_read_total` of `server`.
async fn entries_read(server: &Server) -> u64 {
    let (status, body) = server.get("/metrics").await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix("tradeledger_registry_entries_read_total "))
        .expect("the registry counter in /metrics")
        .parse()
        .unwrap()
}

/// The registry's view of `cert_id` at `server`: HTTP status and body.
async fn certificate(server: &Server, cert_id: &str) -> (u16, serde_json::Value) {
    let (status, body) = server.get(&format!("/v1/certificates/{cert_id}")).await;
    (status, serde_json::from_slice(&body).unwrap_or_default())
}

/// Enrolls `id` with `role` through `server`, signed by `operator`.
async fn enroll(server: &Server, operator: &PartyKeys, id: &str, role: Role) -> PartyKeys {
    let keys = PartyKeys::generate(PartyId::new(id).unwrap(), role);
    let op = Party::with_keys(copy_keys(operator), &server.url);
    ops::enroll(&op.client, &op.keys, &keys.public())
        .await
        .unwrap();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_applies_nothing_it_applied_before_and_a_removed_registry_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let server = Server::start(&data, &operator.public()).await;
    let importer = enroll(&server, &operator, "acme-imports", Role::Importer).await;
    let cbp = enroll(&server, &operator, "cbp", Role::Customs).await;
    let vkey = server.vkey.clone();
    let mut registered = Vec::new();
    for _ in 0..5 {
        let reg = ops::register(
            &at(&importer, &server).actor(&vkey),
            &example("usmca.json"),
            &[cbp.id().clone()],
        )
        .await
        .unwrap();
        registered.push(reg);
    }
    let opened = ops::parse_cert_id(&registered[0].cert_id).unwrap();
    ops::open(&at(&cbp, &server).actor(&vkey), &opened)
        .await
        .unwrap();
    let size = server.size().await;
    server.stop().await;

    // The start reads the watermark and the parties: not one entry of the log.
    let server = Server::start(&data, &operator.public()).await;
    assert_eq!(entries_read(&server).await, 0, "a restart replays nothing");
    for reg in &registered {
        let (status, body) = certificate(&server, &reg.cert_id).await;
        assert_eq!(status, 200);
        assert_eq!(body["registration_index"], reg.index);
    }
    assert_eq!(
        certificate(&server, &registered[0].cert_id).await.1["accesses"],
        1
    );
    // The parties came back from the store: both still sign requests and open.
    ops::open(&at(&cbp, &server).actor(&vkey), &opened)
        .await
        .unwrap();
    server.stop().await;

    // The registry is derived: removed, it is rebuilt from the whole log at the next start.
    std::fs::remove_dir_all(data.join("registry")).unwrap();
    let server = Server::start(&data, &operator.public()).await;
    assert_eq!(
        entries_read(&server).await,
        size + 1,
        "every entry replayed once"
    );
    assert_eq!(
        certificate(&server, &registered[0].cert_id).await.1["accesses"],
        2
    );
    for reg in &registered {
        assert_eq!(certificate(&server, &reg.cert_id).await.0, 200);
    }
    server.stop().await;
}

/// `AppState::open` on `data`, which must fail: its error, in full.
async fn refused_start(data: &std::path::Path, operator: &PartyKeys) -> String {
    let config = tradeledger::server::ServeConfig::new(data.to_owned(), operator.public());
    let refused = tokio::task::spawn_blocking(move || {
        tradeledger::server::AppState::open(config).err().unwrap()
    })
    .await
    .unwrap();
    format!("{refused:#}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_ahead_of_its_log_or_of_another_log_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let (data, other) = (dir.path().join("data"), dir.path().join("other"));
    let server = Server::start(&data, &operator.public()).await;
    server.stop().await;
    // The log as an old backup holds it (one entry), then the deployment goes on.
    let old_log = dir.path().join("old-log");
    std::fs::rename(data.join("log"), &old_log).unwrap();
    copy_dir(&old_log, &data.join("log"));
    let server = Server::start(&data, &operator.public()).await;
    enroll(&server, &operator, "acme-imports", Role::Importer).await;
    server.stop().await;
    // The log is restored from the backup, the newer registry left in place.
    std::fs::remove_dir_all(data.join("log")).unwrap();
    std::fs::rename(&old_log, data.join("log")).unwrap();
    let message = refused_start(&data, &operator).await;
    assert!(
        message.contains("the registry has applied 2 log entries but the log holds 1")
            && message.contains("DATA/registry"),
        "{message}"
    );
    // Another deployment's registry: its first enrollment is not this log's.
    let server = Server::start(&other, &operator.public()).await;
    server.stop().await;
    std::fs::remove_dir_all(other.join("registry")).unwrap();
    copy_dir(&data.join("registry"), &other.join("registry"));
    let message = refused_start(&other, &operator).await;
    assert!(
        message.contains("the party entry at index 0 is not the log's"),
        "{message}"
    );
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frontend_started_beside_others_begins_from_the_shared_registry() {
    let pair = Pair::start().await;
    let vkey = pair.a.vkey.clone();
    let importer = pair.enroll("acme-imports", Role::Importer).await;
    let cbp = pair.enroll("cbp", Role::Customs).await;
    let reg = ops::register(
        &at(&importer, &pair.a).actor(&vkey),
        &example("usmca.json"),
        &[cbp.id().clone()],
    )
    .await
    .unwrap();
    let size = pair.settled_size().await;
    // A third frontend, with a data directory of its own, started after the registration.
    let dir = tempfile::tempdir().unwrap();
    let (db, log_key) = (pair.db.clone(), pair._dir.path().join("shared-log.key"));
    let c = Server::start_with(&dir.path().join("c"), &pair.operator.public(), |config| {
        config.postgres = Some(tradeledger::server::PostgresUrl::new(db));
        config.log_key = Some(log_key);
    })
    .await;
    assert_eq!(c.size().await, size);
    // A applied everything before acknowledging it, so C starts at the shared watermark.
    assert_eq!(entries_read(&c).await, 0, "a new frontend replays nothing");
    let (status, body) = certificate(&c, &reg.cert_id).await;
    assert_eq!(status, 200);
    assert_eq!(body["registration_index"], reg.index);
    let cert_id = ops::parse_cert_id(&reg.cert_id).unwrap();
    ops::open(&at(&cbp, &c).actor(&vkey), &cert_id)
        .await
        .unwrap();
    // A registration through C is found at A and B.
    let second = ops::register(
        &at(&importer, &c).actor(&vkey),
        &example("usmca.json"),
        &[cbp.id().clone()],
    )
    .await
    .unwrap();
    for server in [&pair.a, &pair.b] {
        assert_eq!(certificate(server, &second.cert_id).await.0, 200);
    }
    c.stop().await;
    pair.stop().await;
}
