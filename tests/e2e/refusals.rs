//! Refusals: each with its exact status, stable code and a sensible message; after each, the server still
//! serves and nothing it accepted before is lost.

use ed25519_dalek::SigningKey;
use ledger::{Entry, SignedEntry};
use serde_json::json;
use tradeledger::api::{B64, EnvelopeUpload, RegisterRequest};
use tradeledger::client::ops;
use tradeledger::httpsig::unix_now;
use vault::{CertId, PartyId, PartyKeys, Role};

use crate::accepted::Accepted;
use crate::story::assert_refused;
use crate::support::{MAX_BODY, World, example, now_ms, send, send_signed, sign};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_signature_refusals() {
    let w = World::new().await;
    let started = unix_now();
    let before = Accepted::record(&w).await;
    let url = &w.server.url;
    let sealed = format!("/v1/certificates/{}/sealed", before.cert_id);

    // Signed with another key than the one enrolled for the keyid.
    let forger = SigningKey::generate(&mut rand::rng());
    let headers = sign("GET", &sealed, b"", "cbp", &forger, unix_now());
    send(url, "GET", &sealed, &headers, Vec::new())
        .await
        .assert_error(401, "bad_signature", "bad request signature");
    before.assert_intact(&w).await;

    // A body changed after signing.
    let body = br#"{"entry":"AAAA"}"#.to_vec();
    let headers = sign(
        "POST",
        "/v1/parties",
        &body,
        "operator",
        w.operator.signing_key(),
        unix_now(),
    );
    send(
        url,
        "POST",
        "/v1/parties",
        &headers,
        br#"{"entry":"AAAB"}"#.to_vec(),
    )
    .await
    .assert_error(401, "digest_mismatch", "digest");

    // No signature at all on a secret-releasing request.
    send(url, "GET", &sealed, &[], Vec::new())
        .await
        .assert_error(401, "missing_signature", "not signed");

    // The exact same signed request twice: the replay is refused and releases nothing more.
    let headers = sign("GET", &sealed, b"", "cbp", w.cbp.signing_key(), unix_now());
    let first = send(url, "GET", &sealed, &headers, Vec::new()).await;
    assert_eq!(
        first.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&first.body)
    );
    let accesses = w
        .server
        .client()
        .get_certificate(&before.cert_id)
        .await
        .unwrap()
        .accesses;
    send(url, "GET", &sealed, &headers, Vec::new())
        .await
        .assert_error(401, "replayed_request", "replayed");
    assert_eq!(
        w.server
            .client()
            .get_certificate(&before.cert_id)
            .await
            .unwrap()
            .accesses,
        accesses,
        "a replay released the envelope again"
    );
    // A replayed enrollment is refused as a replay, before anything else is looked at.
    let newcomer = PartyKeys::generate(PartyId::new("late-imports").unwrap(), Role::Importer);
    let entry = enrollment_entry(&w.operator.keys, &newcomer);
    let body = serde_json::to_vec(&json!({"entry": B64(entry.encode())})).unwrap();
    let headers = sign(
        "POST",
        "/v1/parties",
        &body,
        "operator",
        w.operator.signing_key(),
        unix_now(),
    );
    let first = send(url, "POST", "/v1/parties", &headers, body.clone()).await;
    assert_eq!(
        first.status,
        200,
        "{:?}",
        String::from_utf8_lossy(&first.body)
    );
    send(url, "POST", "/v1/parties", &headers, body)
        .await
        .assert_error(401, "replayed_request", "replayed");
    before.assert_intact(&w).await;

    // A party nobody enrolled.
    let stranger = SigningKey::generate(&mut rand::rng());
    let headers = sign("GET", &sealed, b"", "mallory", &stranger, unix_now());
    send(url, "GET", &sealed, &headers, Vec::new())
        .await
        .assert_error(401, "unknown_party", "unknown party");

    // Too old, too far ahead, and signed before the server started (its replay memory is younger than that).
    for created in [unix_now() - 301, unix_now() + 301, started - 5] {
        let headers = sign("GET", &sealed, b"", "cbp", w.cbp.signing_key(), created);
        send(url, "GET", &sealed, &headers, Vec::new())
            .await
            .assert_error(401, "stale_request", "timestamp");
    }
    before.assert_intact(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_refusals() {
    let w = World::new().await;
    let vkey = w.vkey();
    let before = Accepted::record(&w).await;
    let cert_id = before.cert_id;

    // Not granted.
    let e = w.open(&w.broker, &cert_id).await.unwrap_err();
    assert_refused(&e, 403, "forbidden");
    assert!(format!("{e:#}").contains("only-readers-fetch"), "{e:#}");
    before.assert_intact(&w).await;

    // Granted, then revoked.
    ops::grant(&w.importer.actor(vkey), &cert_id, w.broker.id())
        .await
        .unwrap();
    w.open(&w.broker, &cert_id).await.unwrap();
    ops::revoke(&w.importer.actor(vkey), &cert_id, w.broker.id())
        .await
        .unwrap();
    let e = w.open(&w.broker, &cert_id).await.unwrap_err();
    assert_refused(&e, 403, "forbidden");
    assert!(format!("{e:#}").contains("only-readers-fetch"), "{e:#}");
    before.assert_intact(&w).await;

    // A second grant to a party that holds one is refused, and the registrant can still revoke the first.
    ops::grant(&w.importer.actor(vkey), &cert_id, w.broker.id())
        .await
        .unwrap();
    let e = ops::grant(&w.importer.actor(vkey), &cert_id, w.broker.id())
        .await
        .unwrap_err();
    assert_refused(&e, 409, "already_granted");
    ops::revoke(&w.importer.actor(vkey), &cert_id, w.broker.id())
        .await
        .unwrap();
    assert_refused(
        &w.open(&w.broker, &cert_id).await.unwrap_err(),
        403,
        "forbidden",
    );

    // An auditor asks for an envelope; nor can one be granted to it, or registered for it.
    let e = w.open(&w.auditor, &cert_id).await.unwrap_err();
    assert_refused(&e, 403, "forbidden");
    assert!(format!("{e:#}").contains("auditors-never-fetch"), "{e:#}");
    let e = ops::grant(&w.importer.actor(vkey), &cert_id, w.auditor.id())
        .await
        .unwrap_err();
    assert_refused(&e, 403, "forbidden");
    assert!(format!("{e:#}").contains("no-grant-to-auditor"), "{e:#}");
    let to = [w.cbp.id().clone(), w.auditor.id().clone()];
    let e = ops::register(&w.importer.actor(vkey), &example("usmca.json"), &to)
        .await
        .unwrap_err();
    assert_refused(&e, 403, "forbidden");
    assert!(format!("{e:#}").contains("no-auditor-recipient"), "{e:#}");
    before.assert_intact(&w).await;

    // The last customs reader cannot be revoked.
    let e = ops::revoke(&w.importer.actor(vkey), &cert_id, w.cbp.id())
        .await
        .unwrap_err();
    assert_refused(&e, 403, "forbidden");
    assert!(
        format!("{e:#}").contains("keep-a-customs-recipient"),
        "{e:#}"
    );

    // Enrolling twice, or under the log's own id.
    let e = ops::enroll(&w.operator.client, &w.operator.keys, &w.cbp.keys.public())
        .await
        .unwrap_err();
    assert_refused(&e, 409, "already_enrolled");
    let log = PartyKeys::generate(PartyId::new("log").unwrap(), Role::Broker);
    let e = ops::enroll(&w.operator.client, &w.operator.keys, &log.public())
        .await
        .unwrap_err();
    assert_refused(&e, 400, "reserved_party_id");

    // A certificate that does not exist.
    let unknown = format!("/v1/certificates/{}/sealed", CertId::random());
    send_signed(&w.server.url, &w.cbp, "GET", &unknown, Vec::new())
        .await
        .assert_error(404, "unknown_certificate", "no such certificate");

    // A registration without a customs recipient.
    let size = w.server.size().await;
    let e = ops::register(
        &w.importer.actor(vkey),
        &example("usmca.json"),
        std::slice::from_ref(w.broker.id()),
    )
    .await
    .unwrap_err();
    assert_refused(&e, 403, "forbidden");
    assert!(format!("{e:#}").contains("register-with-customs"), "{e:#}");
    assert_eq!(
        w.server.size().await,
        size,
        "a refused registration reached the log"
    );

    // Only the registrant manages its certificate; only the operator enrolls; customs does not register.
    let e = ops::grant(&w.cbp.actor(vkey), &cert_id, w.broker.id())
        .await
        .unwrap_err();
    assert_refused(&e, 403, "forbidden");
    let stranger = PartyKeys::generate(PartyId::new("x-imports").unwrap(), Role::Importer);
    let entry = enrollment_entry(&w.importer.keys, &stranger);
    let body = serde_json::to_vec(&json!({"entry": B64(entry.encode())})).unwrap();
    send_signed(&w.server.url, &w.importer, "POST", "/v1/parties", body)
        .await
        .assert_error(403, "forbidden", "only-operator-enrolls");
    let e = ops::register(
        &w.cbp.actor(vkey),
        &example("usmca.json"),
        std::slice::from_ref(w.cbp.id()),
    )
    .await
    .unwrap_err();
    assert_refused(&e, 403, "forbidden");
    before.assert_intact(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entry_refusals() {
    let w = World::new().await;
    let before = Accepted::record(&w).await;
    let url = &w.server.url;
    let size = w.server.size().await;

    // The control: a hand-built registration is accepted, so each refusal below is about its one defect.
    let ok = registration(&w, &w.importer.keys, now_ms(), false);
    let answer = send_signed(url, &w.importer, "POST", "/v1/certificates", ok).await;
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );

    // A grant entry sent as a registration.
    let body = registration(&w, &w.importer.keys, now_ms(), true);
    send_signed(url, &w.importer, "POST", "/v1/certificates", body)
        .await
        .assert_error(400, "wrong_entry_kind", "expected a registration entry");

    // The entry is signed by someone else than the party signing the request.
    let body = registration(&w, &w.cbp.keys, now_ms(), false);
    send_signed(url, &w.importer, "POST", "/v1/certificates", body)
        .await
        .assert_error(
            403,
            "entry_signer_mismatch",
            "signed by the requesting party",
        );

    // An entry dated an hour ago, and one dated an hour ahead.
    for time_ms in [now_ms() - 3_600_000, now_ms() + 3_600_000] {
        let body = registration(&w, &w.importer.keys, time_ms, false);
        send_signed(url, &w.importer, "POST", "/v1/certificates", body)
            .await
            .assert_error(400, "stale_entry", "time");
    }

    // Bytes that are no entry at all.
    let body =
        serde_json::to_vec(&json!({"entry": "AAEC", "ciphertext": "", "envelopes": []})).unwrap();
    send_signed(url, &w.importer, "POST", "/v1/certificates", body)
        .await
        .assert_error(400, "malformed_entry", "does not decode");

    // Revoking a party that is not enrolled at all.
    let entry = SignedEntry::sign(
        Entry::Revocation {
            cert_id: before.cert_id,
            grant: [7; 32],
            time_ms: now_ms(),
        },
        w.importer.id().clone(),
        w.importer.signing_key(),
    )
    .unwrap();
    let body =
        serde_json::to_vec(&json!({"entry": B64(entry.encode()), "party": "nobody-here"})).unwrap();
    let target = format!("/v1/certificates/{}/revocations", before.cert_id);
    send_signed(url, &w.importer, "POST", &target, body)
        .await
        .assert_error(400, "unknown_recipient", "not enrolled");

    assert_eq!(
        w.server.size().await,
        size + 1,
        "only the control registration was logged"
    );
    before.assert_intact(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_and_route_refusals() {
    let w = World::new().await;
    let before = Accepted::record(&w).await;
    let url = &w.server.url;

    // Larger than the configured cap: refused before anything else, signed or not.
    let big = vec![b'x'; MAX_BODY + 1];
    send_signed(url, &w.importer, "POST", "/v1/certificates", big.clone())
        .await
        .assert_error(413, "body_too_large", "limit");
    send(url, "POST", "/v1/certificates", &[], big)
        .await
        .assert_error(413, "body_too_large", "limit");
    before.assert_intact(&w).await;

    // Malformed JSON, and JSON of the wrong shape (an unknown field): signed, so only the body is at fault.
    send_signed(
        url,
        &w.importer,
        "POST",
        "/v1/certificates",
        br#"{"entry": "#.to_vec(),
    )
    .await
    .assert_error(400, "malformed_json", "malformed JSON");
    send_signed(
        url,
        &w.importer,
        "POST",
        "/v1/certificates",
        br#"{"entry": "AA==", "x": 1}"#.to_vec(),
    )
    .await
    .assert_error(400, "malformed_json", "wrong shape");
    send_signed(
        url,
        &w.importer,
        "POST",
        "/v1/certificates",
        vec![0xff, 0xfe, 0x00],
    )
    .await
    .assert_error(400, "malformed_json", "malformed JSON");

    // Malformed ids and queries.
    send(url, "GET", "/v1/certificates/not-hex", &[], Vec::new())
        .await
        .assert_error(400, "bad_cert_id", "32 lowercase hex");
    send(url, "GET", "/v1/proof/inclusion?index=x", &[], Vec::new())
        .await
        .assert_error(400, "bad_query", "index");
    send(
        url,
        "GET",
        "/v1/proof/inclusion?index=5&size=5",
        &[],
        Vec::new(),
    )
    .await
    .assert_error(400, "bad_proof_range", "size");
    send(
        url,
        "GET",
        "/v1/proof/consistency?old=0&new=3",
        &[],
        Vec::new(),
    )
    .await
    .assert_error(400, "bad_proof_range", "0 < old");
    send(url, "GET", "/v1/parties/%FF", &[], Vec::new())
        .await
        .assert_error(400, "bad_request", "bad request");
    send(url, "GET", "/v1/entries/999999", &[], Vec::new())
        .await
        .assert_error(404, "no_such_entry", "no entry");
    send(url, "GET", "/tile/0/999", &[], Vec::new())
        .await
        .assert_error(404, "no_such_tile", "no such tile");
    send(url, "GET", "/tile/9x", &[], Vec::new())
        .await
        .assert_error(400, "bad_tile_path", "tile path");
    send(url, "GET", "/v1/parties/nobody", &[], Vec::new())
        .await
        .assert_error(404, "unknown_party", "no such party");
    let unknown = CertId::random();
    send(
        url,
        "GET",
        &format!("/v1/certificates/{unknown}"),
        &[],
        Vec::new(),
    )
    .await
    .assert_error(404, "unknown_certificate", "no such certificate");

    // The router's own refusals are JSON errors too.
    send(url, "GET", "/no/such/route", &[], Vec::new())
        .await
        .assert_error(404, "no_such_route", "no such route");
    send(url, "DELETE", "/checkpoint", &[], Vec::new())
        .await
        .assert_error(405, "method_not_allowed", "method");
    send(url, "POST", "/healthz", &[], b"{}".to_vec())
        .await
        .assert_error(405, "method_not_allowed", "method");
    before.assert_intact(&w).await;
}

/// An enrollment of `party` signed by `by`.
fn enrollment_entry(by: &PartyKeys, party: &PartyKeys) -> SignedEntry {
    let public = party.public();
    SignedEntry::sign(
        Entry::Enrollment {
            party: party.id().clone(),
            role: party.role(),
            signing_key: public.signing_key.to_bytes(),
            encryption_key: public.encryption_key.to_bytes(),
            replaces: None,
            time_ms: now_ms(),
        },
        by.id().clone(),
        by.signing_key(),
    )
    .unwrap()
}

/// A registration request for a fresh certificate from the importer to CBP, with its entry signed by
/// `signer`, dated `time_ms`, and (if `as_grant`) of the grant kind instead.
fn registration(w: &World, signer: &PartyKeys, time_ms: u64, as_grant: bool) -> Vec<u8> {
    let cert_id = CertId::random();
    let importer = w.importer.keys.public();
    let sealed = vault::seal_certificate(
        &cert_id,
        &example("usmca.json"),
        &importer,
        &[w.cbp.keys.public()],
    )
    .unwrap();
    let grants: Vec<_> = sealed
        .envelopes
        .iter()
        .map(|e| e.grant_commitment)
        .collect();
    let entry = if as_grant {
        Entry::Grant {
            cert_id,
            grant: grants[0],
            time_ms,
        }
    } else {
        Entry::Registration {
            cert_id,
            commitment: sealed.commitment,
            registrant: importer.id.clone(),
            grants,
            sealed: None,
            time_ms,
        }
    };
    let entry = SignedEntry::sign(entry, signer.id().clone(), signer.signing_key()).unwrap();
    let request = RegisterRequest {
        entry: B64(entry.encode()),
        ciphertext: B64(sealed.ciphertext),
        envelopes: sealed
            .envelopes
            .into_iter()
            .map(|e| EnvelopeUpload {
                party: e.party.to_string(),
                envelope: B64(e.envelope),
                grant: B64(e.grant_commitment.to_vec()),
            })
            .collect(),
    };
    serde_json::to_vec(&request).unwrap()
}
