//! The replay guard across restarts and under one noisy party: a request dated ahead of the server clock is
//! accepted once, restarts included; a party that uses up its share of the replay memory is refused alone.

use tradeledger::client::ops;
use tradeledger::httpsig::unix_now;
use vault::{PartyId, PartyKeys, Role};

use crate::support::{Answer, Party, Server, World, copy_keys, example, save_keys, send, sign};

/// A signed GET any enrolled party may send: it is authenticated (and its nonce remembered) before the
/// certificate is found missing.
const SIGNED_GET: &str = "/v1/certificates/00000000000000000000000000000000/grants";

async fn signed_get(server: &Server, party: &Party) -> Answer {
    let headers = sign(
        "GET",
        SIGNED_GET,
        b"",
        party.name(),
        party.signing_key(),
        unix_now(),
    );
    send(&server.url, "GET", SIGNED_GET, &headers, Vec::new()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_dated_request_is_not_accepted_again_after_a_restart() {
    let w = World::new().await;
    let (cert_id, _) = w.register(&example("usmca.json"), &[&w.cbp]).await;
    let target = format!("/v1/certificates/{cert_id}/sealed");
    // Signed 250 s ahead of the server clock: inside the allowed skew, and after the next start's floor.
    let headers = sign(
        "GET",
        &target,
        b"",
        w.cbp.name(),
        w.cbp.signing_key(),
        unix_now() + 250,
    );
    let first = send(&w.server.url, "GET", &target, &headers, Vec::new()).await;
    assert_eq!(first.status, 200, "{first:?}");

    let data = w.server.data.clone();
    let operator = w.operator.keys.public();
    let World { server, .. } = w;
    server.stop().await;
    let server = Server::start(&data, &operator).await;
    send(&server.url, "GET", &target, &headers, Vec::new())
        .await
        .assert_error(401, "replayed_request", "replayed");
    // Once more after a second restart: what was reloaded is kept for as long as it is replayable.
    server.stop().await;
    let server = Server::start(&data, &operator).await;
    send(&server.url, "GET", &target, &headers, Vec::new())
        .await
        .assert_error(401, "replayed_request", "replayed");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_party_that_exhausts_its_replay_quota_does_not_deny_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    // 60 nonces in all, among 6 parties: 10 each.
    let server = Server::start_with(&dir.path().join("data"), &operator.public(), |c| {
        c.max_replay_entries = 60;
    })
    .await;
    let operator = Party::with_keys(operator, &server.url);
    let mut parties = Vec::new();
    for (id, role) in [
        ("acme-imports", Role::Importer),
        ("cbp", Role::Customs),
        ("swift-brokers", Role::Broker),
        ("audit-co", Role::Auditor),
        ("noisy-imports", Role::Importer),
    ] {
        let party = Party::new(id, role, &server.url);
        ops::enroll(&operator.client, &operator.keys, &party.keys.public())
            .await
            .unwrap();
        parties.push(party);
    }
    let noisy = parties.pop().unwrap();
    let mut served = 0;
    let refused = loop {
        let answer = signed_get(&server, &noisy).await;
        if answer.status != 404 {
            break answer;
        }
        served += 1;
        assert!(served <= 60, "the noisy party was never limited");
    };
    refused.assert_error(429, "replay_quota_exceeded", "quota");
    assert!(served >= 10, "refused after only {served} requests");
    for party in parties.iter().chain([&operator]) {
        signed_get(&server, party).await.assert_error(
            404,
            "unknown_certificate",
            "no such certificate",
        );
    }
    // The noisy party stays refused: its share is used up until its nonces expire.
    signed_get(&server, &noisy)
        .await
        .assert_error(429, "replay_quota_exceeded", "quota");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_future_dated_request_is_not_accepted_again_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (home, data) = (dir.path().join("home"), dir.path().join("data"));
    std::fs::create_dir_all(&home).unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    save_keys(dir.path(), &operator);
    let operator_pub = dir.path().join("operator.key.pub");
    let crate::cli::Served { mut child, url } =
        crate::cli::serve(&home, &data, &operator_pub).await;
    let operator = Party::with_keys(copy_keys(&operator), &url);
    let cbp = Party::new("cbp", Role::Customs, &url);
    ops::enroll(&operator.client, &operator.keys, &cbp.keys.public())
        .await
        .unwrap();
    let headers = sign(
        "GET",
        SIGNED_GET,
        b"",
        cbp.name(),
        cbp.signing_key(),
        unix_now() + 250,
    );
    // Authenticated (its nonce accepted), then answered: no such certificate.
    send(&url, "GET", SIGNED_GET, &headers, Vec::new())
        .await
        .assert_error(404, "unknown_certificate", "no such certificate");
    child.kill().await.unwrap(); // SIGKILL: no shutdown, no flush
    let crate::cli::Served { mut child, url } =
        crate::cli::serve(&home, &data, &operator_pub).await;
    send(&url, "GET", SIGNED_GET, &headers, Vec::new())
        .await
        .assert_error(401, "replayed_request", "replayed");
    child.kill().await.unwrap();
}
