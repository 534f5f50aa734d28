//! Two frontends on one PostgreSQL database (`serve --postgres`), as a load balancer would use them: the whole
//! story with each step through either frontend, both publishing to one bucket that then audits alone, concurrent registrations through both, two revocations
//! racing through the two frontends against the keep-a-customs-reader rule, a release racing the revocation of
//! its grant, and frontends starting together.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use ledger::{Entry, SignedEntry};
use serde_json::Value;
use tradeledger::api::{B64, RevokeRequest};
use tradeledger::client::ops;
use tradeledger::httpsig::unix_now;
use tradeledger::server::{PostgresUrl, ServeConfig};
use vault::{PartyId, PartyKeys, Role};

use crate::moto::Moto;
use crate::pg_cluster;
use crate::races::open_won_or_was_refused;
use crate::support::{
    Party, Server, copy_keys, example, log_key_file, now_ms, run_cli, send, sign,
};

/// Two in-process frontends on a fresh database, with the same log key and operator.
pub struct Pair {
    pub a: Server,
    pub b: Server,
    pub operator: PartyKeys,
    pub db: String,
    pub _dir: tempfile::TempDir,
}

impl Pair {
    pub async fn start() -> Pair {
        Pair::start_with(|_| {}).await
    }

    /// [`Pair::start`], with `configure` applied to both frontends' settings too.
    pub async fn start_with(configure: impl Fn(&mut ServeConfig)) -> Pair {
        let db = tokio::task::spawn_blocking(pg_cluster::fresh_database)
            .await
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
        let log_key = log_key_file(dir.path());
        let on_postgres = |c: &mut ServeConfig| {
            c.postgres = Some(PostgresUrl::new(db.clone()));
            c.log_key = Some(log_key.clone());
            configure(c);
        };
        let a = Server::start_with(&dir.path().join("a"), &operator.public(), on_postgres).await;
        let b = Server::start_with(&dir.path().join("b"), &operator.public(), on_postgres).await;
        assert_eq!(a.vkey, b.vkey, "one log key");
        Pair {
            a,
            b,
            operator,
            db,
            _dir: dir,
        }
    }

    /// Enrolls a new party through frontend A; returns its keys.
    pub async fn enroll(&self, id: &str, role: Role) -> PartyKeys {
        let keys = PartyKeys::generate(PartyId::new(id).unwrap(), role);
        let op = Party::with_keys(copy_keys(&self.operator), &self.a.url);
        ops::enroll(&op.client, &op.keys, &keys.public())
            .await
            .unwrap();
        keys
    }

    /// Waits (at most 5 s) until both frontends publish the same checkpoint size, and returns it.
    pub async fn settled_size(&self) -> u64 {
        for _ in 0..50 {
            let (a, b) = (self.a.size().await, self.b.size().await);
            if a == b {
                return a;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the frontends' checkpoints did not converge within 5 s")
    }

    pub async fn stop(self) {
        self.a.stop().await;
        self.b.stop().await;
    }
}

/// The party with `keys`, talking to `server`.
pub fn at(keys: &PartyKeys, server: &Server) -> Party {
    Party::with_keys(copy_keys(keys), &server.url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_story_runs_across_two_frontends_and_audits_from_their_bucket_alone() {
    // Both frontends publish to one bucket, as a deployment behind a load balancer does.
    let moto = Moto::start();
    moto.bucket("tl-frontends", "").await;
    let location = Arc::new(moto.location("tl-frontends", "log"));
    let pair = Pair::start_with(|c| c.bucket = Some(location.clone())).await;
    let vkey = pair.a.vkey.clone();
    let importer = pair.enroll("acme-imports", Role::Importer).await;
    let cbp = pair.enroll("cbp", Role::Customs).await;
    let broker = pair.enroll("swift-brokers", Role::Broker).await;
    let (a, b) = (&pair.a, &pair.b);
    let body = example("usmca.json");
    // Enrolled through A a moment ago, the importer registers through B.
    let reg = ops::register(&at(&importer, b).actor(&vkey), &body, &[cbp.id().clone()])
        .await
        .unwrap();
    let cert_id = ops::parse_cert_id(&reg.cert_id).unwrap();
    // Registered through B, granted through A, opened through B.
    ops::grant(&at(&importer, a).actor(&vkey), &cert_id, broker.id())
        .await
        .unwrap();
    let opened = ops::open(&at(&broker, b).actor(&vkey), &cert_id)
        .await
        .unwrap();
    assert_eq!(opened.body, body);
    // Revoked through B: refused through A at once.
    ops::revoke(&at(&importer, b).actor(&vkey), &cert_id, broker.id())
        .await
        .unwrap();
    let refused = ops::open(&at(&broker, a).actor(&vkey), &cert_id)
        .await
        .unwrap_err();
    assert!(
        format!("{refused:#}").contains("(403): forbidden"),
        "{refused:#}"
    );
    // Customs discloses through A what it opened; the bundle verifies offline.
    let bundle = ops::disclose(&at(&cbp, a).actor(&vkey), &cert_id, &["/regime".to_owned()])
        .await
        .unwrap();
    ops::verify_bundle(&bundle, &vkey).unwrap();
    // An outside audit of each frontend: one log, the same size and root, no problems.
    let size = pair.settled_size().await;
    let home = tempfile::tempdir().unwrap();
    let mut audited = Vec::new();
    for server in [a, b] {
        let out = run_cli(
            home.path(),
            &[
                "audit",
                "--server",
                &server.url,
                "--log-key",
                &vkey,
                "--json",
            ],
        )
        .await
        .success();
        let report: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["problems"], Value::Array(Vec::new()), "{report}");
        audited.push((report["size"].as_u64().unwrap(), report["root"].clone()));
    }
    assert_eq!(audited[0], audited[1]);
    assert!(audited[0].0 >= size, "{audited:?}");
    wait_for_bucket(&location, audited[0].0).await;
    pair.stop().await;

    // No frontend runs now: the bucket alone, and the log key, give the same log.
    let out = run_cli(
        home.path(),
        &[
            "audit",
            "--tiles",
            &moto.public_url("tl-frontends", "log"),
            "--log-key",
            &vkey,
            "--json",
        ],
    )
    .await
    .success();
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["problems"], Value::Array(Vec::new()), "{report}");
    assert_eq!(
        (report["size"].as_u64().unwrap(), report["root"].clone()),
        audited[0],
        "the bucket holds the log both frontends served"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_through_both_frontends_take_contiguous_indexes() {
    let pair = Pair::start().await;
    let vkey = pair.a.vkey.clone();
    let importer = pair.enroll("acme-imports", Role::Importer).await;
    let cbp = pair.enroll("cbp", Role::Customs).await;
    let before = pair.settled_size().await;
    const N: usize = 40;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..N {
        let url = if i % 2 == 0 { &pair.a.url } else { &pair.b.url };
        let (party, vkey, to) = (
            Party::with_keys(copy_keys(&importer), url),
            vkey.clone(),
            cbp.id().clone(),
        );
        tasks.spawn(async move {
            let reg = ops::register(&party.actor(&vkey), &example("usmca.json"), &[to])
                .await
                .unwrap();
            (i, reg)
        });
    }
    let mut registered = Vec::new();
    while let Some(done) = tasks.join_next().await {
        registered.push(done.unwrap());
    }
    // Every acknowledged registration opens through the other frontend.
    for (i, reg) in &registered {
        let other = if i % 2 == 0 { &pair.b } else { &pair.a };
        let cert_id = ops::parse_cert_id(&reg.cert_id).unwrap();
        ops::open(&at(&cbp, other).actor(&vkey), &cert_id)
            .await
            .unwrap();
    }
    // The registrations took exactly the indexes after the enrollments: none twice, none skipped (the opens
    // appended their access receipts after them).
    let indexes: BTreeSet<u64> = registered.iter().map(|(_, r)| r.index).collect();
    let expected: BTreeSet<u64> = (before..before + N as u64).collect();
    assert_eq!(indexes, expected);
    assert_eq!(pair.settled_size().await, before + 2 * N as u64);
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_revocations_racing_through_two_frontends_keep_a_customs_reader() {
    let pair = Pair::start().await;
    let vkey = pair.a.vkey.clone();
    let importer = pair.enroll("acme-imports", Role::Importer).await;
    let cbp = pair.enroll("cbp", Role::Customs).await;
    let cbsa = pair.enroll("cbsa", Role::Customs).await;
    let (imp_a, imp_b) = (at(&importer, &pair.a), at(&importer, &pair.b));
    for _ in 0..6 {
        let reg = ops::register(
            &imp_a.actor(&vkey),
            &example("usmca.json"),
            &[cbp.id().clone(), cbsa.id().clone()],
        )
        .await
        .unwrap();
        let cert_id = ops::parse_cert_id(&reg.cert_id).unwrap();
        let (actor_a, actor_b) = (imp_a.actor(&vkey), imp_b.actor(&vkey));
        let (first, second) = tokio::join!(
            ops::revoke(&actor_a, &cert_id, cbp.id()),
            ops::revoke(&actor_b, &cert_id, cbsa.id()),
        );
        let refused = match (first, second) {
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
            other => panic!("exactly one of the two revocations must pass: {other:?}"),
        };
        assert!(format!("{refused:#}").contains("forbidden"), "{refused:#}");
        // One customs reader is left, and it still opens the certificate.
        let left = ops::list_grants(&imp_b.actor(&vkey), &cert_id)
            .await
            .unwrap();
        let customs = [cbp.id(), cbsa.id()]
            .into_iter()
            .filter(|id| left.contains_key(*id))
            .count();
        assert_eq!(customs, 1, "{left:?}");
    }
    pair.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frontends_starting_together_enroll_the_operator_once() {
    let db = tokio::task::spawn_blocking(pg_cluster::fresh_database)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let log_key = log_key_file(dir.path());
    let on_postgres = |c: &mut ServeConfig| {
        c.postgres = Some(PostgresUrl::new(db.clone()));
        c.log_key = Some(log_key.clone());
    };
    let (data_a, data_b, public) = (
        dir.path().join("a"),
        dir.path().join("b"),
        operator.public(),
    );
    let (a, b) = tokio::join!(
        Server::start_with(&data_a, &public, on_postgres),
        Server::start_with(&data_b, &public, on_postgres),
    );
    // One log, with one first entry: the operator's enrollment, made by whichever frontend got there first.
    assert_eq!((a.size().await, b.size().await), (1, 1));
    // A third frontend with another log key is refused, naming the flag that fixes it.
    let own_key = dir.path().join("c");
    let mut config = ServeConfig::new(own_key, operator.public());
    config.postgres = Some(PostgresUrl::new(db.clone()));
    let refused = tokio::task::spawn_blocking(move || tradeledger::server::AppState::open(config))
        .await
        .unwrap();
    let refused = format!("{:#}", refused.err().unwrap());
    assert!(refused.contains("--log-key-file"), "{refused}");
    a.stop().await;
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_open_through_one_frontend_racing_a_revocation_through_the_other_is_logged_before_it() {
    let pair = Pair::start().await;
    let vkey = pair.a.vkey.clone();
    let importer = pair.enroll("acme-imports", Role::Importer).await;
    let cbp = pair.enroll("cbp", Role::Customs).await;
    let cbp2 = pair.enroll("cbp-west", Role::Customs).await;
    let imp_b = at(&importer, &pair.b);
    let (mut opened_first, mut revoked_first) = (0, 0);
    const TRIALS: usize = 12;
    for _ in 0..TRIALS {
        let reg = ops::register(
            &imp_b.actor(&vkey),
            &example("usmca.json"),
            &[cbp.id().clone(), cbp2.id().clone()],
        )
        .await
        .unwrap();
        let cert_id = ops::parse_cert_id(&reg.cert_id).unwrap();
        let grants = ops::list_grants(&imp_b.actor(&vkey), &cert_id)
            .await
            .unwrap();
        let revoke_target = format!("/v1/certificates/{cert_id}/revocations");
        let entry = SignedEntry::sign(
            Entry::Revocation {
                cert_id,
                grant: grants[cbp2.id()],
                time_ms: now_ms(),
            },
            importer.id().clone(),
            importer.signing_key(),
        )
        .unwrap();
        let body = serde_json::to_vec(&RevokeRequest {
            entry: B64(entry.encode()),
            party: cbp2.id().to_string(),
        })
        .unwrap();
        let now = unix_now();
        let revoke = sign(
            "POST",
            &revoke_target,
            &body,
            importer.id().as_str(),
            importer.signing_key(),
            now,
        );
        let open_target = format!("/v1/certificates/{cert_id}/sealed");
        let open = sign(
            "GET",
            &open_target,
            b"",
            cbp2.id().as_str(),
            cbp2.signing_key(),
            now,
        );
        // The release through A, the revocation of its grant through B, at once.
        let (opened, revoked) = tokio::join!(
            send(&pair.a.url, "GET", &open_target, &open, Vec::new()),
            send(&pair.b.url, "POST", &revoke_target, &revoke, body),
        );
        if open_won_or_was_refused(&opened, &revoked) {
            opened_first += 1;
        } else {
            revoked_first += 1;
        }
    }
    assert_eq!(opened_first + revoked_first, TRIALS);
    pair.stop().await;
}

/// Waits (at most 30 s) until the bucket's checkpoint covers `size` entries.
async fn wait_for_bucket(location: &tradeledger::bucket::BucketLocation, size: u64) {
    let s3 = tradeledger::bucket::S3::new(location).unwrap();
    for _ in 0..300 {
        if let Some(object) = s3.get("checkpoint").await.unwrap() {
            let text = String::from_utf8(object.bytes).unwrap();
            if text.lines().nth(1).and_then(|l| l.parse::<u64>().ok()) >= Some(size) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the bucket's checkpoint did not reach size {size} within 30 s")
}
