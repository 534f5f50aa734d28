//! Graceful shutdown and restart: a server stopped through its shutdown future and started again over the
//! same data directory keeps every certificate and the log; `audit --state` passes across the restart and
//! catches a log rewritten under the same key.

use tradeledger::client::ops;
use tradeledger::httpsig::unix_now;
use vault::{PartyId, PartyKeys, Role};

use crate::support::{Party, Server, World, copy_keys, example, run_cli, send, sign};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_keeps_everything_and_audit_state_catches_a_rewrite() {
    let w = World::new().await;
    let vkey = w.vkey().to_owned();
    let (usmca, _) = w.register(&example("usmca.json"), &[&w.cbp]).await;
    let (cafta, _) = w
        .register(&example("cafta-dr.json"), &[&w.cbp, &w.broker])
        .await;
    w.open(&w.cbp, &usmca).await.unwrap();
    let client = w.server.client();
    let size = w.server.size().await;
    let mut entries = Vec::new();
    for index in 0..size {
        entries.push(client.get_entry(index).await.unwrap());
    }
    let checkpoint = client.get_checkpoint().await.unwrap();

    // The auditor's first run, with state.
    let auditor_home = tempfile::tempdir().unwrap();
    let state = auditor_home.path().join("audit.state");
    let state_arg = state.to_str().unwrap().to_owned();
    let audit = |url: String| {
        let home = auditor_home.path().to_owned();
        let vkey = vkey.clone();
        let state = state_arg.clone();
        async move {
            run_cli(
                &home,
                &[
                    "audit",
                    "--server",
                    &url,
                    "--log-key",
                    &vkey,
                    "--state",
                    &state,
                ],
            )
            .await
        }
    };
    let out = audit(w.server.url.clone()).await.success();
    assert!(out.contains("problems: none"), "{out}");
    let saved = std::fs::read_to_string(&state).unwrap();

    // A request signed before the stop, kept to be replayed after the restart.
    let sealed = format!("/v1/certificates/{usmca}/sealed");
    let old_request = sign("GET", &sealed, b"", "cbp", w.cbp.signing_key(), unix_now());

    // Stop through the shutdown future (flushes and closes the stores), start again on the same directory.
    let data = w.server.data.clone();
    let operator = w.operator.keys.public();
    let World {
        server,
        operator: op,
        importer,
        cbp,
        broker,
        auditor,
        ..
    } = w;
    server.stop().await;
    let server = Server::start(&data, &operator).await;
    assert_eq!(server.vkey, vkey, "the log key survives");
    let client = server.client();
    assert_eq!(
        client.get_checkpoint().await.unwrap(),
        checkpoint,
        "same checkpoint after restart"
    );
    for (index, bytes) in entries.iter().enumerate() {
        assert_eq!(
            &client.get_entry(index as u64).await.unwrap(),
            bytes,
            "entry {index}"
        );
    }
    let again = |p: &Party| Party::with_keys(copy_keys(&p.keys), &server.url);
    let (cbp, broker, importer) = (again(&cbp), again(&broker), again(&importer));
    let opened = ops::open(&cbp.actor(&vkey), &usmca).await.unwrap();
    assert_eq!(opened.body, example("usmca.json"));
    let opened = ops::open(&broker.actor(&vkey), &cafta).await.unwrap();
    assert_eq!(opened.body, example("cafta-dr.json"));
    // The registry was rebuilt: policies still know the registrant and the grants.
    assert_eq!(
        server
            .client()
            .get_certificate(&usmca)
            .await
            .unwrap()
            .accesses,
        2
    );
    crate::story::assert_refused(
        &ops::open(&broker.actor(&vkey), &usmca).await.unwrap_err(),
        403,
        "forbidden",
    );

    // Nothing signed before the restart is accepted after it (the replay memory did not survive it).
    send(&server.url, "GET", &sealed, &old_request, Vec::new())
        .await
        .assert_error(401, "stale_request", "timestamp");

    // The log keeps growing, and the audit with state passes across the restart.
    ops::register(
        &importer.actor(&vkey),
        &example("nafta-434.json"),
        std::slice::from_ref(cbp.id()),
    )
    .await
    .unwrap();
    let out = audit(server.url.clone()).await.success();
    assert!(
        out.contains(&format!(
            "consistent with the previous audit at size {size}"
        )),
        "{out}"
    );
    let saved_after_restart = std::fs::read_to_string(&state).unwrap();
    assert_ne!(saved, saved_after_restart);
    let grown = server.size().await;
    server.stop().await;

    // Another data directory with the same log key (and operator): a rewritten history, at least as long.
    let forged = tempfile::tempdir().unwrap();
    let forged_data = forged.path().join("data");
    std::fs::create_dir_all(&forged_data).unwrap();
    std::fs::copy(data.join("log.key"), forged_data.join("log.key")).unwrap();
    let server = Server::start(&forged_data, &operator).await;
    assert_eq!(server.vkey, vkey, "the forged log signs with the same key");
    let op = Party::with_keys(copy_keys(&op.keys), &server.url);
    let mut n = 1;
    while server.size().await < grown {
        let extra = PartyKeys::generate(PartyId::new(&format!("party-{n}")).unwrap(), Role::Broker);
        ops::enroll(&op.client, &op.keys, &extra.public())
            .await
            .unwrap();
        n += 1;
    }
    let _ = auditor;
    let run = audit(server.url.clone()).await;
    let stdout = run.stdout.clone();
    let err = run.failure();
    assert!(err.contains("problem"), "{err}");
    assert!(!stdout.contains("problems: none"), "{stdout}");
    assert_eq!(
        std::fs::read_to_string(&state).unwrap(),
        saved_after_restart,
        "a failed audit must not move its state forward"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_directory_refuses_another_operator_or_an_exposed_log_key() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    Server::start(&data, &operator.public()).await.stop().await;

    let start = |operator: vault::PartyPublic| {
        let data = data.clone();
        async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let config = tradeledger::server::ServeConfig::new(data, operator);
            tradeledger::server::serve(listener, config, std::future::ready(())).await
        }
    };
    // Another operator key for the same log.
    let impostor = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let e = start(impostor.public()).await.unwrap_err();
    assert!(
        format!("{e:#}").contains("differs from the operator enrolled"),
        "{e:#}"
    );
    // The log key readable by others.
    let key = data.join("log.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = start(operator.public()).await.unwrap_err();
    assert!(format!("{e:#}").contains("readable by others"), "{e:#}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    start(operator.public()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_stalled_clients_exits_in_bounded_time_and_keeps_registrations() {
    use std::time::Duration;
    use tokio::io::AsyncWriteExt as _;
    let w = crate::spawned::SpawnedWorld::start(&[], None).await;
    let vkey = w.vkey();
    let to = [w.cbp.id().clone()];
    let registered = ops::register(&w.importer.actor(&vkey), &example("usmca.json"), &to)
        .await
        .unwrap();
    let cert_id = ops::parse_cert_id(&registered.cert_id).unwrap();

    // Stalled clients: a signed body that never finishes, a head that never finishes, a long poll, a
    // connection that made one request and then idles.
    let mut stalled = Vec::new();
    let body = vec![b' '; 10_000];
    let mut head = format!(
        "POST /v1/certificates HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in sign(
        "POST",
        "/v1/certificates",
        &body,
        w.importer.name(),
        w.importer.signing_key(),
        unix_now(),
    ) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    for request in [
        [head.as_bytes(), &body[..100]].concat(),
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n".to_vec(),
        b"GET /checkpoint?min_size=1000000 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
    ] {
        let mut stream = tokio::net::TcpStream::connect(&w.server.addr)
            .await
            .unwrap();
        stream.write_all(&request).await.unwrap();
        stalled.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // The default shutdown bound is 10 s; closing the stores takes a moment more.
    let took = w.server.terminate(Duration::from_secs(15)).await;
    eprintln!("exited {took:?} after SIGTERM with stalled clients");
    drop(stalled);

    // The acknowledged registration survives the restart.
    let server = crate::spawned::Spawned::start(&w.data, &w.operator_pub, &[], None).await;
    let client = tradeledger::client::Client::new(&server.url).unwrap();
    let info = client.get_certificate(&cert_id).await.unwrap();
    assert_eq!(info.registration_index, registered.index);
    let cbp = Party::with_keys(copy_keys(&w.cbp.keys), &server.url);
    let opened = ops::open(&cbp.actor(&vkey), &cert_id).await.unwrap();
    assert_eq!(opened.body, example("usmca.json"));
    server.terminate(Duration::from_secs(15)).await;
}
