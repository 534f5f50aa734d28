//! Races between requests that read state to decide: two revocations of a certificate's two customs readers,
//! an open racing the revocation of its reader, two enrollments of one party id, and a log that already holds a second enrollment of a party (written by
//! an older server that lost that race): audit lists it and key resolution refuses the party.

use ledger::{Entry, NoteSigner, SignedEntry};
use tradeledger::api::{B64, RevokeRequest};
use tradeledger::client::{ClientError, LogView, ops};
use tradeledger::httpsig::unix_now;
use vault::{PartyId, PartyKeys, Role};

use crate::support::{Answer, Party, Server, World, example, now_ms, send, sign};

/// Trials per race. On the old code both revocations succeeded in about one trial in six.
const TRIALS: usize = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_revocations_never_leave_a_certificate_without_customs() {
    let w = World::new().await;
    let cbp2 = Party::new("cbp-east", Role::Customs, &w.server.url);
    ops::enroll(&w.operator.client, &w.operator.keys, &cbp2.keys.public())
        .await
        .unwrap();
    let importer = w.importer.actor(w.vkey());
    let mut both_succeeded = 0;
    for _ in 0..TRIALS {
        let (cert_id, _) = w.register(&example("usmca.json"), &[&w.cbp, &cbp2]).await;
        let grants = ops::list_grants(&importer, &cert_id).await.unwrap();
        let target = format!("/v1/certificates/{cert_id}/revocations");
        let request = |reader: &Party| {
            let entry = SignedEntry::sign(
                Entry::Revocation {
                    cert_id,
                    grant: grants[reader.id()],
                    time_ms: now_ms(),
                },
                w.importer.id().clone(),
                w.importer.signing_key(),
            )
            .unwrap();
            let body = serde_json::to_vec(&RevokeRequest {
                entry: B64(entry.encode()),
                party: reader.name().to_owned(),
            })
            .unwrap();
            let headers = sign(
                "POST",
                &target,
                &body,
                w.importer.name(),
                w.importer.signing_key(),
                unix_now(),
            );
            (headers, body)
        };
        let (first, second) = (request(&w.cbp), request(&cbp2));
        let (a, b) = tokio::join!(
            send(&w.server.url, "POST", &target, &first.0, first.1),
            send(&w.server.url, "POST", &target, &second.0, second.1),
        );
        match (a.status, b.status) {
            (200, 200) => both_succeeded += 1,
            (200, _) => b.assert_error(403, "forbidden", "keep-a-customs-recipient"),
            (_, 200) => a.assert_error(403, "forbidden", "keep-a-customs-recipient"),
            _ => panic!("neither revocation succeeded: {a:?} {b:?}"),
        }
    }
    assert_eq!(
        both_succeeded, 0,
        "both customs readers were revoked in {both_succeeded} of {TRIALS} trials"
    );
}

/// An open holds its certificate's critical section only until its access receipt is queued on the log, not
/// until it is durable: a revocation decided after it must still land after its receipt, so the log never
/// shows a release under a grant already revoked.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_open_racing_its_readers_revocation_is_logged_before_it() {
    let w = World::new().await;
    let cbp2 = Party::new("cbp-west", Role::Customs, &w.server.url);
    ops::enroll(&w.operator.client, &w.operator.keys, &cbp2.keys.public())
        .await
        .unwrap();
    let importer = w.importer.actor(w.vkey());
    let (mut opened_first, mut revoked_first) = (0, 0);
    for _ in 0..TRIALS {
        let (cert_id, _) = w.register(&example("usmca.json"), &[&w.cbp, &cbp2]).await;
        let grants = ops::list_grants(&importer, &cert_id).await.unwrap();
        let revoke_target = format!("/v1/certificates/{cert_id}/revocations");
        let entry = SignedEntry::sign(
            Entry::Revocation {
                cert_id,
                grant: grants[cbp2.id()],
                time_ms: now_ms(),
            },
            w.importer.id().clone(),
            w.importer.signing_key(),
        )
        .unwrap();
        let body = serde_json::to_vec(&RevokeRequest {
            entry: B64(entry.encode()),
            party: cbp2.name().to_owned(),
        })
        .unwrap();
        let now = unix_now();
        let revoke = sign(
            "POST",
            &revoke_target,
            &body,
            w.importer.name(),
            w.importer.signing_key(),
            now,
        );
        let open_target = format!("/v1/certificates/{cert_id}/sealed");
        let open = sign(
            "GET",
            &open_target,
            b"",
            cbp2.name(),
            cbp2.signing_key(),
            now,
        );
        let (opened, revoked) = tokio::join!(
            send(&w.server.url, "GET", &open_target, &open, Vec::new()),
            send(&w.server.url, "POST", &revoke_target, &revoke, body),
        );
        if open_won_or_was_refused(&opened, &revoked) {
            opened_first += 1;
        } else {
            revoked_first += 1;
        }
    }
    assert_eq!(opened_first + revoked_first, TRIALS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_enrollments_of_one_party_exactly_one_succeeds() {
    let w = World::new().await;
    let operator = &w.operator;
    let mut both_succeeded = 0;
    for trial in 0..TRIALS {
        let id = PartyId::new(&format!("twin-{trial}")).unwrap();
        let one = PartyKeys::generate(id.clone(), Role::Importer);
        let other = PartyKeys::generate(id.clone(), Role::Importer);
        let (one_public, other_public) = (one.public(), other.public());
        let (a, b) = tokio::join!(
            ops::enroll(&operator.client, &operator.keys, &one_public),
            ops::enroll(&operator.client, &operator.keys, &other_public),
        );
        let winner = match (&a, &b) {
            (Ok(_), Ok(_)) => {
                both_succeeded += 1;
                continue;
            }
            (Ok(_), Err(refused)) => {
                assert_already_enrolled(refused);
                &one
            }
            (Err(refused), Ok(_)) => {
                assert_already_enrolled(refused);
                &other
            }
            (Err(a), Err(b)) => panic!("neither enrollment succeeded: {a:#} / {b:#}"),
        };
        // The registry and every client hold the winner's key.
        let client = w.server.client();
        let view = LogView::fetch(&client, w.vkey()).await.unwrap();
        let (_, resolved) = view.party(&id).await.unwrap();
        assert_eq!(resolved.signing_key, winner.public().signing_key);
    }
    assert_eq!(
        both_succeeded, 0,
        "both enrollments of one party id succeeded in {both_succeeded} of {TRIALS} trials"
    );
    let report = ops::audit(&w.server.client(), w.vkey(), None)
        .await
        .unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

#[track_caller]
fn assert_already_enrolled(error: &anyhow::Error) {
    let code = error.downcast_ref::<ClientError>().and_then(|e| e.code());
    assert_eq!(code, Some("already_enrolled"), "{error:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_enrollment_on_the_log_is_reported_and_refused() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let server = Server::start(&data, &operator.public()).await;
    let vkey = server.vkey.clone();
    let first = PartyKeys::generate(PartyId::new("acme-imports").unwrap(), Role::Importer);
    let operator_party = Party::with_keys(crate::support::copy_keys(&operator), &server.url);
    ops::enroll(&operator_party.client, &operator, &first.public())
        .await
        .unwrap();
    server.stop().await;

    // What a server that lost the enrollment race left behind: a second enrollment of the same party, with
    // another key, signed by the operator, and no rotation between them.
    let second = PartyKeys::generate(first.id().clone(), Role::Importer);
    let duplicate = SignedEntry::sign(
        Entry::Enrollment {
            party: second.id().clone(),
            role: Role::Importer,
            signing_key: second.public().signing_key.to_bytes(),
            encryption_key: second.public().encryption_key.to_bytes(),
            replaces: None,
            time_ms: now_ms(),
        },
        operator.id().clone(),
        operator.signing_key(),
    )
    .unwrap();
    let duplicate_index = append_directly(&data, duplicate);

    let server = Server::start(&data, &operator.public()).await;
    let client = server.client();
    let report = ops::audit(&client, &vkey, None).await.unwrap();
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.index == Some(duplicate_index) && p.message.contains("acme-imports")),
        "audit does not report the second enrollment: {:?}",
        report.problems
    );
    let view = LogView::fetch(&client, &vkey).await.unwrap();
    let refused = view
        .party(first.id())
        .await
        .expect_err("key resolution accepted a party enrolled twice");
    assert!(
        refused.to_string().contains("enrolled more than once"),
        "{refused:#}"
    );
    // The server itself keeps the first key: the second was never a valid enrollment.
    let acme = Party::with_keys(crate::support::copy_keys(&first), &server.url);
    let target = "/v1/parties/acme-imports";
    let (status, _) = server.get(target).await;
    assert_eq!(status, 200);
    let headers = sign(
        "GET",
        "/v1/certificates/00000000000000000000000000000000/grants",
        b"",
        acme.name(),
        acme.signing_key(),
        unix_now(),
    );
    let answer = send(
        &server.url,
        "GET",
        "/v1/certificates/00000000000000000000000000000000/grants",
        &headers,
        Vec::new(),
    )
    .await;
    assert_ne!(answer.status, 401, "the first key was dropped: {answer:?}");
    server.stop().await;
}

/// Appends `entry` to the stopped server's log with the ledger library and the log's own key; returns its
/// index.
fn append_directly(data: &std::path::Path, entry: SignedEntry) -> u64 {
    let key = std::fs::read_to_string(data.join("log.key")).unwrap();
    let signer = NoteSigner::from_signer_key(key.trim_end()).unwrap();
    let origin = signer.name().to_owned();
    let store = ledger::FsStore::open(data.join("log")).unwrap();
    let log = ledger::Log::open(store, signer, &origin).unwrap();
    let index = log.append(entry.encode()).unwrap();
    log.close().unwrap();
    index
}

/// Judges one race between a release and the revocation of its grant: true if the release won (its access
/// receipt is logged before the revocation, asserted), false if it was refused (asserted) because the
/// revocation came first. Either way the revocation succeeded.
pub(crate) fn open_won_or_was_refused(opened: &Answer, revoked: &Answer) -> bool {
    assert_eq!(revoked.status, 200, "the revocation: {revoked:?}");
    let revocation: serde_json::Value = serde_json::from_slice(&revoked.body).unwrap();
    let revocation = revocation["index"].as_u64().unwrap();
    if opened.status != 200 {
        opened.assert_error(403, "forbidden", "only-readers-fetch");
        return false;
    }
    let sealed: serde_json::Value = serde_json::from_slice(&opened.body).unwrap();
    let receipt = sealed["receipt_index"].as_u64().unwrap();
    assert!(
        receipt < revocation,
        "receipt {receipt} logged after the revocation {revocation} of its grant"
    );
    true
}
