//! The certificate and party lifecycle against a real server on 127.0.0.1 with a temporary store: the
//! registrant's grant list and revocation without local records, the access trail, party key rotation with
//! re-wrapped grants, purge by the registrant and by the retention sweep.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use tradeledger::api::Sealed;
use tradeledger::client::ops::{self, AccessTrail, Actor};
use tradeledger::client::{Client, ClientError, LogView};
use tradeledger::server::{ServeConfig, serve_with_ready};
use vault::{CertId, PartyId, PartyKeys, Role};

/// A server on an ephemeral port over a temporary data directory, with the operator's keys.
struct Server {
    url: String,
    vkey: String,
    data: tempfile::TempDir,
    operator: PartyKeys,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Server {
    async fn start(configure: impl FnOnce(&mut ServeConfig)) -> Server {
        let data = tempfile::tempdir().unwrap();
        let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mut config = ServeConfig::new(data.path().to_owned(), operator.public());
        configure(&mut config);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(serve_with_ready(
            listener,
            config,
            async {
                let _ = stopped.await;
            },
            ready,
        ));
        is_ready.await.unwrap();
        let vkey = std::fs::read_to_string(data.path().join("log.vkey")).unwrap();
        Server {
            url,
            vkey: vkey.trim_end().to_owned(),
            data,
            operator,
            stop: Some(stop),
            task,
        }
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        (&mut self.task).await.unwrap().unwrap();
    }

    fn client(&self, keys: Option<&PartyKeys>) -> Client {
        let client = Client::new(&self.url).unwrap();
        match keys {
            Some(keys) => client.with_identity(keys.id(), keys.signing_key()),
            None => client,
        }
    }

    async fn enroll(&self, id: &str, role: Role) -> Party {
        let keys = PartyKeys::generate(PartyId::new(id).unwrap(), role);
        let operator = self.client(Some(&self.operator));
        ops::enroll(&operator, &self.operator, &keys.public())
            .await
            .unwrap();
        self.party(keys)
    }

    fn party(&self, keys: PartyKeys) -> Party {
        Party {
            client: self.client(Some(&keys)),
            keys,
            vkey: self.vkey.clone(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    async fn rotate(&self, party: &Party) -> Party {
        let new = PartyKeys::generate(party.keys.id().clone(), party.keys.role());
        let request = ops::rotation_request(&party.keys, &new.public()).unwrap();
        let operator = self.client(Some(&self.operator));
        ops::submit_rotation(&operator, &self.operator, &request)
            .await
            .unwrap();
        let mut rotated = self.party(new);
        // The same person, the same local records.
        rotated.home = tempfile::tempdir().unwrap();
        copy_dir(party.home.path(), rotated.home.path());
        rotated
    }
}

/// One party: its keys, a client signing as it, and its own client state directory.
struct Party {
    keys: PartyKeys,
    client: Client,
    vkey: String,
    home: tempfile::TempDir,
}

impl Party {
    fn actor(&self) -> Actor<'_> {
        Actor {
            client: &self.client,
            keys: &self.keys,
            log_key: &self.vkey,
            home: self.home.path(),
        }
    }

    fn id(&self) -> &PartyId {
        self.keys.id()
    }

    async fn register(&self, to: &[&Party]) -> CertId {
        let body: serde_json::Value =
            serde_json::from_str(include_str!("../docs/examples/usmca.json")).unwrap();
        let to: Vec<PartyId> = to.iter().map(|p| p.id().clone()).collect();
        let registered = ops::register(&self.actor(), &body, &to).await.unwrap();
        registered.cert_id.parse().unwrap()
    }

    async fn sealed(&self, cert_id: &CertId) -> Sealed {
        self.client
            .get_signed(&format!("/v1/certificates/{cert_id}/sealed"))
            .await
            .unwrap()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walk(from) {
        let target = to.join(entry.strip_prefix(from).unwrap());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&entry, target).unwrap();
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Whether any file under `dir` contains `needle`.
fn dir_contains(dir: &Path, needle: &[u8]) -> bool {
    walk(dir).iter().any(|file| {
        std::fs::read(file)
            .map(|bytes| bytes.windows(needle.len()).any(|w| w == needle))
            .unwrap_or(false)
    })
}

fn api_error(error: &anyhow::Error) -> (u16, String) {
    match error.downcast_ref::<ClientError>() {
        Some(ClientError::Api { status, code, .. }) => (*status, code.clone()),
        _ => panic!("expected a refusal by the server, got: {error:#}"),
    }
}

async fn audit_is_clean(server: &Server) {
    let report = ops::audit(&server.client(None), &server.vkey, None)
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "audit: {:?}", report.problems);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrant_lists_grants_revokes_anywhere_and_reads_its_access_trail() {
    let server = Server::start(|_| {}).await;
    let acme = server.enroll("acme-imports", Role::Importer).await;
    let cbp = server.enroll("cbp", Role::Customs).await;
    let broker = server.enroll("swift-brokers", Role::Broker).await;
    let cert = acme.register(&[&cbp, &broker]).await;

    // The server's list names every holder and agrees with the registrant's local record.
    let grants = ops::list_grants(&acme.actor(), &cert).await.unwrap();
    let holders: Vec<&str> = grants.keys().map(PartyId::as_str).collect();
    assert_eq!(holders, ["acme-imports", "cbp", "swift-brokers"]);
    // Nobody else may ask: not a reader, not the operator.
    for outsider in [&cbp, &broker] {
        let refused = ops::list_grants(&outsider.actor(), &cert)
            .await
            .unwrap_err();
        assert_eq!(api_error(&refused), (403, "forbidden".to_owned()));
    }

    ops::open(&cbp.actor(), &cert).await.unwrap();
    ops::open(&cbp.actor(), &cert).await.unwrap();
    ops::open(&broker.actor(), &cert).await.unwrap();

    // Revoking from another machine: no local record there, the server's list suffices.
    let copy = tempfile::tempdir().unwrap();
    acme.keys.save(&copy.path().join("acme.key")).unwrap();
    let elsewhere = server.party(PartyKeys::load(&copy.path().join("acme.key")).unwrap());
    assert!(!elsewhere.home.path().join("grants").exists());
    ops::revoke(&elsewhere.actor(), &cert, broker.id())
        .await
        .unwrap();
    let refused = ops::open(&broker.actor(), &cert).await.unwrap_err();
    assert_eq!(api_error(&refused).0, 403);

    // The registrant sees who opened it and when; its local history names the revoked broker.
    let trail = ops::accesses(
        &acme.client,
        Some(&acme.keys),
        &acme.vkey,
        acme.home.path(),
        &cert,
    )
    .await
    .unwrap();
    let AccessTrail::Registrant { accesses, .. } = trail else {
        panic!("the registrant should see the readers")
    };
    let readers: Vec<(Option<&str>, bool)> = accesses
        .iter()
        .map(|a| (a.party.as_deref(), a.active))
        .collect();
    assert_eq!(
        readers,
        [
            (Some("cbp"), true),
            (Some("cbp"), true),
            (Some("swift-brokers"), false)
        ]
    );
    assert!(accesses.windows(2).all(|w| w[0].index < w[1].index));
    assert!(accesses.iter().all(|a| a.time.ends_with('Z')));

    // From the other machine the revoked reader is unknown (no local history), but the receipt still counts.
    let AccessTrail::Registrant { accesses, .. } = ops::accesses(
        &elsewhere.client,
        Some(&elsewhere.keys),
        &elsewhere.vkey,
        elsewhere.home.path(),
        &cert,
    )
    .await
    .unwrap() else {
        panic!("the registrant should see the readers")
    };
    assert_eq!(accesses.len(), 3);
    assert_eq!(accesses[2].party, None);

    // Anyone else, with or without a key, learns only the count.
    for (client, keys, home) in [
        (&cbp.client, Some(&cbp.keys), cbp.home.path()),
        (&server.client(None), None, cbp.home.path()),
    ] {
        let trail = ops::accesses(client, keys, &server.vkey, home, &cert)
            .await
            .unwrap();
        assert!(
            matches!(trail, AccessTrail::Outsider { count: 3, .. }),
            "{trail:?}"
        );
    }
    let info = server.client(None).get_certificate(&cert).await.unwrap();
    assert_eq!(info.accesses, 3);
    audit_is_clean(&server).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_party_opens_with_its_new_key_after_rewrap_and_its_old_key_fails() {
    let server = Server::start(|_| {}).await;
    let acme = server.enroll("acme-imports", Role::Importer).await;
    let cbp = server.enroll("cbp", Role::Customs).await;
    let broker = server.enroll("swift-brokers", Role::Broker).await;
    let first = acme.register(&[&cbp, &broker]).await;
    let second = acme.register(&[&cbp, &broker]).await;
    let only_cbp = acme.register(&[&cbp]).await;
    let expected = ops::open(&broker.actor(), &first).await.unwrap().body;

    let rotated = server.rotate(&broker).await;
    // The old key is refused outright: requests signed with it no longer authenticate.
    let refused = ops::open(&broker.actor(), &first).await.unwrap_err();
    assert_eq!(api_error(&refused), (401, "bad_signature".to_owned()));
    // The new key authenticates, but the envelope is still wrapped for the old encryption key.
    assert!(ops::open(&rotated.actor(), &first).await.is_err());

    // Clients take the new keys from the log, through a verified chain.
    let view = LogView::fetch(&acme.client, &acme.vkey).await.unwrap();
    let (_, now) = view.party(broker.id()).await.unwrap();
    assert_eq!(now.encryption_key, rotated.keys.public().encryption_key);
    assert_eq!(view.party_chain(broker.id()).await.unwrap().len(), 2);

    // The registrant re-wraps every grant it knows the broker holds (not the certificate without one).
    let done = ops::rewrap(&acme.actor(), broker.id(), &[]).await.unwrap();
    let mut rewrapped: Vec<String> = done.iter().map(|d| d.cert_id.clone()).collect();
    rewrapped.sort();
    let mut wanted = vec![first.to_string(), second.to_string()];
    wanted.sort();
    assert_eq!(rewrapped, wanted);
    assert!(done.iter().all(|d| d.revocation_index == d.grant_index + 1));
    assert!(!rewrapped.contains(&only_cbp.to_string()));

    let opened = ops::open(&rotated.actor(), &first).await.unwrap();
    assert_eq!(opened.body, expected);
    ops::open(&rotated.actor(), &second).await.unwrap();
    assert!(ops::open(&broker.actor(), &first).await.is_err());
    // The body was not re-encrypted: the same ciphertext is served.
    assert_eq!(
        cbp.sealed(&first).await.ciphertext,
        rotated.sealed(&first).await.ciphertext
    );

    // The consent cannot be replayed: the key it replaces is no longer current.
    let new = PartyKeys::generate(broker.id().clone(), Role::Broker);
    let stale = ops::rotation_request(&broker.keys, &new.public()).unwrap();
    let operator = server.client(Some(&server.operator));
    let refused = ops::submit_rotation(&operator, &server.operator, &stale)
        .await
        .unwrap_err();
    assert_eq!(api_error(&refused), (409, "not_current_key".to_owned()));
    // Nor can the party rotate back to a retired key.
    let back = ops::rotation_request(&rotated.keys, &broker.keys.public()).unwrap();
    let refused = ops::submit_rotation(&operator, &server.operator, &back)
        .await
        .unwrap_err();
    assert_eq!(api_error(&refused), (400, "key_reused".to_owned()));
    // Only the operator submits: a request signed by anyone else carrying the operator's entry is refused.
    let refused = ops::submit_rotation(&acme.client, &server.operator, &stale)
        .await
        .unwrap_err();
    assert_eq!(
        api_error(&refused),
        (403, "entry_signer_mismatch".to_owned())
    );

    // The registrant rotates too: its earlier registrations still verify (against the key it had then),
    // and its new key registers and grants.
    let acme2 = server.rotate(&acme).await;
    ops::open(&cbp.actor(), &first).await.unwrap();
    let third = acme2.register(&[&cbp]).await;
    ops::grant(&acme2.actor(), &third, rotated.id())
        .await
        .unwrap();
    ops::open(&rotated.actor(), &third).await.unwrap();

    audit_is_clean(&server).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_certificate_leaves_nothing_in_the_vault_and_its_registration_on_the_log() {
    let server = Server::start(|_| {}).await;
    let acme = server.enroll("acme-imports", Role::Importer).await;
    let cbp = server.enroll("cbp", Role::Customs).await;
    let cert = acme.register(&[&cbp]).await;
    let kept = acme.register(&[&cbp]).await;
    let sealed = cbp.sealed(&cert).await;
    let vault_dir = server.data.path().join("vault");
    let needle = &sealed.ciphertext.0[16..80];
    assert!(
        dir_contains(&vault_dir, needle),
        "the test must find live ciphertext"
    );

    // Only the registrant purges.
    let refused = ops::purge(&cbp.actor(), &cert).await.unwrap_err();
    assert_eq!(api_error(&refused), (403, "forbidden".to_owned()));
    ops::purge(&acme.actor(), &cert).await.unwrap();

    assert!(
        !dir_contains(&vault_dir, needle),
        "ciphertext bytes survive the purge"
    );
    let info = server.client(None).get_certificate(&cert).await.unwrap();
    assert!(info.purged);
    let refused = ops::open(&cbp.actor(), &cert).await.unwrap_err();
    assert_eq!(api_error(&refused), (410, "purged".to_owned()));
    // The log still proves the certificate was registered.
    let view = LogView::fetch(&acme.client, &acme.vkey).await.unwrap();
    view.entry(info.registration_index).await.unwrap();
    // Other certificates are untouched.
    ops::open(&cbp.actor(), &kept).await.unwrap();
    audit_is_clean(&server).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_sweep_purges_old_certificates_as_the_log() {
    let server = Server::start(|config| {
        config.retention = Duration::from_secs(3);
        config.sweep_every = Duration::from_millis(100);
    })
    .await;
    let acme = server.enroll("acme-imports", Role::Importer).await;
    let cbp = server.enroll("cbp", Role::Customs).await;
    let old = acme.register(&[&cbp]).await;
    let sealed = cbp.sealed(&old).await;
    let vault_dir = server.data.path().join("vault");
    let needle = &sealed.ciphertext.0[16..80];
    assert!(dir_contains(&vault_dir, needle));

    let public = server.client(None);
    let mut purged = false;
    for _ in 0..150 {
        if public.get_certificate(&old).await.unwrap().purged {
            purged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        purged,
        "the sweep did not purge a certificate past retention"
    );
    let young = acme.register(&[&cbp]).await;
    assert!(!public.get_certificate(&young).await.unwrap().purged);
    ops::open(&cbp.actor(), &young).await.unwrap();

    assert!(
        !dir_contains(&vault_dir, needle),
        "ciphertext bytes survive the sweep"
    );
    let refused = ops::open(&cbp.actor(), &old).await.unwrap_err();
    assert_eq!(api_error(&refused), (410, "purged".to_owned()));
    let info = public.get_certificate(&old).await.unwrap();
    let view = LogView::fetch(&public, &server.vkey).await.unwrap();
    view.entry(info.registration_index).await.unwrap();
    // The purge entry is the log's own, and the audit accepts it.
    let report = ops::audit(&public, &server.vkey, None).await.unwrap();
    assert!(report.problems.is_empty(), "audit: {:?}", report.problems);
    assert_eq!(report.kinds.get("purge"), Some(&1));
    server.shutdown().await;
}

#[test]
fn lifecycle_command_lines_parse() {
    use clap::Parser as _;
    use tradeledger::cli::{Cli, Command as Cmd};
    let parse = |line: &str| {
        Cli::try_parse_from(std::iter::once("tradeledger").chain(line.split(' ')))
            .unwrap_or_else(|e| panic!("{line}: {e}"))
    };
    let cert = "00112233445566778899aabbccddeeff";
    parse(&format!("accesses {cert}"));
    parse(&format!("accesses --key acme.key --json {cert}"));
    parse("rotate --key old.key --new-key new.key --operator-key op.key");
    parse("rotate --key old.key --new-key new.key --out request.json");
    parse("rotate --key op.key --request request.json");
    parse("rewrap --key acme.key --party swift-brokers");
    parse(&format!(
        "rewrap --key acme.key --party swift-brokers {cert} {cert}"
    ));
    parse(&format!("purge --key acme.key {cert}"));
    let Cmd::Serve(args) = parse("serve --data d --operator op.pub").command else {
        panic!("not serve")
    };
    assert_eq!(args.retention, 1826);
    let Cmd::Serve(args) = parse("serve --data d --operator op.pub --retention 30").command else {
        panic!("not serve")
    };
    assert_eq!(args.retention, 30);
    for refused in [
        "rotate --key old.key",
        "rotate --key old.key --new-key n --operator-key o --out r",
        "rotate --key op.key --request r --new-key n",
        "rewrap --key acme.key",
        "purge --key acme.key",
    ] {
        assert!(
            Cli::try_parse_from(std::iter::once("tradeledger").chain(refused.split(' '))).is_err(),
            "{refused} should be refused"
        );
    }
}

/// Runs the `tradeledger` binary as a user types it (off the async workers); returns stdout, or stderr on failure.
async fn cli(home: &Path, server: &Server, args: &[&str]) -> Result<String, String> {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tradeledger"));
    cmd.current_dir(home)
        .env("TRADELEDGER_HOME", home)
        .env("TRADELEDGER_SERVER", &server.url)
        .env("TRADELEDGER_LOG_KEY", &server.vkey)
        .env_remove("TRADELEDGER_KEY")
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8(out.stderr).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_rotates_in_two_steps_rewraps_reads_the_trail_and_purges() {
    let server = Server::start(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    server.operator.save(&home.join("op.key")).unwrap();
    for (party, role, file) in [
        ("acme-imports", "importer", "acme.key"),
        ("cbp", "customs", "cbp.key"),
        ("swift-brokers", "broker", "broker.key"),
    ] {
        cli(
            home,
            &server,
            &["keygen", "--party", party, "--role", role, "--out", file],
        )
        .await
        .unwrap();
        let public = format!("{file}.pub");
        cli(home, &server, &["enroll", "--key", "op.key", &public])
            .await
            .unwrap();
    }
    std::fs::write(
        home.join("cert.json"),
        include_str!("../docs/examples/usmca.json"),
    )
    .unwrap();
    let registered = cli(
        home,
        &server,
        &[
            "register",
            "--key",
            "acme.key",
            "--to",
            "cbp",
            "--to",
            "swift-brokers",
            "--json",
            "cert.json",
        ],
    )
    .await
    .unwrap();
    let registered: serde_json::Value = serde_json::from_str(&registered).unwrap();
    let cert = registered["cert_id"].as_str().unwrap().to_owned();
    cli(home, &server, &["open", "--key", "broker.key", &cert])
        .await
        .unwrap();

    // The party signs its consent; the operator countersigns later from the request file.
    cli(
        home,
        &server,
        &[
            "keygen",
            "--party",
            "swift-brokers",
            "--role",
            "broker",
            "--out",
            "broker2.key",
        ],
    )
    .await
    .unwrap();
    cli(
        home,
        &server,
        &[
            "rotate",
            "--key",
            "broker.key",
            "--new-key",
            "broker2.key",
            "--out",
            "rotation.json",
        ],
    )
    .await
    .unwrap();
    cli(
        home,
        &server,
        &["rotate", "--key", "op.key", "--request", "rotation.json"],
    )
    .await
    .unwrap();
    let refused = cli(home, &server, &["open", "--key", "broker.key", &cert])
        .await
        .unwrap_err();
    assert!(refused.contains("bad_signature"), "{refused}");
    let rewrapped = cli(
        home,
        &server,
        &["rewrap", "--key", "acme.key", "--party", "swift-brokers"],
    )
    .await
    .unwrap();
    assert!(rewrapped.contains("1 grant(s) re-wrapped"), "{rewrapped}");
    cli(home, &server, &["open", "--key", "broker2.key", &cert])
        .await
        .unwrap();

    // The registrant names the readers; without a key only the count shows.
    let trail = cli(
        home,
        &server,
        &["accesses", "--key", "acme.key", "--json", &cert],
    )
    .await
    .unwrap();
    let trail: serde_json::Value = serde_json::from_str(&trail).unwrap();
    assert_eq!(trail["view"], "registrant");
    let readers: Vec<&str> = trail["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["party"].as_str().unwrap_or("?"))
        .collect();
    // broker (old key), the registrant's own fetch for the re-wrap, broker (new key).
    assert_eq!(readers, ["swift-brokers", "acme-imports", "swift-brokers"]);
    let count = cli(home, &server, &["accesses", &cert]).await.unwrap();
    assert_eq!(count.trim(), "3");

    cli(home, &server, &["purge", "--key", "acme.key", &cert])
        .await
        .unwrap();
    let refused = cli(home, &server, &["open", "--key", "cbp.key", &cert])
        .await
        .unwrap_err();
    assert!(refused.contains("purged"), "{refused}");
    server.shutdown().await;
}
