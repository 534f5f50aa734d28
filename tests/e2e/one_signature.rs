//! One signature per registration (docs/threat-model.md): a registration entry of kind 0x08 binds its uploads
//! through the sealed digest, so the server checks the entry's signature and not the request's; everything the
//! request signature used to refuse is still refused. An entry of the original kind 0x02 still needs both.

use ed25519_dalek::SigningKey;
use ledger::{Entry, SignedEntry};
use tradeledger::api::{B64, EnvelopeUpload, RegisterRequest, sealed_digest};
use tradeledger::httpsig::unix_now;
use vault::{CertId, PartyId};

use crate::support::{Answer, World, example, now_ms, send, send_signed, sign};

const PATH: &str = "/v1/certificates";

/// A registration of a fresh certificate from the importer to CBP: the entry is signed with `key` as `signer`,
/// dated `time_ms`, and carries the sealed digest of the uploads (kind 0x08) if `sealed`.
fn registration(
    w: &World,
    signer: &PartyId,
    key: &SigningKey,
    time_ms: u64,
    sealed: bool,
) -> RegisterRequest {
    let cert_id = CertId::random();
    let importer = w.importer.keys.public();
    let mut body = vault::seal_certificate(
        &cert_id,
        &example("usmca.json"),
        &importer,
        &[w.cbp.keys.public()],
    )
    .unwrap();
    body.envelopes.sort_by_key(|e| e.grant_commitment);
    let grants = body.envelopes.iter().map(|e| e.grant_commitment).collect();
    let envelopes: Vec<EnvelopeUpload> = body
        .envelopes
        .into_iter()
        .map(|e| EnvelopeUpload {
            party: e.party.to_string(),
            envelope: B64(e.envelope),
            grant: B64(e.grant_commitment.to_vec()),
        })
        .collect();
    let entry = Entry::Registration {
        cert_id,
        commitment: body.commitment,
        registrant: w.importer.id().clone(),
        grants,
        sealed: sealed.then(|| sealed_digest(&body.ciphertext, &envelopes)),
        time_ms,
    };
    let entry = SignedEntry::sign(entry, signer.clone(), key).unwrap();
    RegisterRequest {
        entry: B64(entry.encode()),
        ciphertext: B64(body.ciphertext),
        envelopes,
    }
}

/// A registration signed by the importer itself, dated now.
fn by_importer(w: &World, sealed: bool) -> RegisterRequest {
    registration(
        w,
        w.importer.id(),
        w.importer.signing_key(),
        now_ms(),
        sealed,
    )
}

fn json(request: &RegisterRequest) -> Vec<u8> {
    serde_json::to_vec(request).unwrap()
}

/// Sends `body` as the importer, with a request signature made by `key` (the importer's or a forger's).
async fn send_as_importer(w: &World, key: &SigningKey, body: Vec<u8>) -> Answer {
    let headers = sign("POST", PATH, &body, w.importer.name(), key, unix_now());
    send(&w.server.url, "POST", PATH, &headers, body).await
}

fn assert_ok(answer: &Answer) {
    assert_eq!(
        answer.status,
        200,
        "{}",
        String::from_utf8_lossy(&answer.body)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_registration_is_proven_by_its_entry_signature_alone() {
    let started = unix_now();
    let w = World::new().await;
    let forger = SigningKey::generate(&mut rand::rng());

    // The client writes kind 0x08, and what it registered opens.
    let (cert_id, index) = w.register(&example("usmca.json"), &[&w.cbp]).await;
    let logged = w.server.client().get_entry(index).await.unwrap();
    assert_eq!(
        logged[1], 0x08,
        "the client's registration entry is of kind 0x08"
    );
    assert_eq!(
        w.open(&w.cbp, &cert_id).await.unwrap().body,
        example("usmca.json")
    );

    // The request signature is not what is checked: a request signed by a key that is not the importer's
    // registers, because the entry's signature proves everything (and it is the one the log publishes).
    let accepted = json(&by_importer(&w, true));
    let forged_headers = sign(
        "POST",
        PATH,
        &accepted,
        w.importer.name(),
        &forger,
        unix_now(),
    );
    assert_ok(
        &send(
            &w.server.url,
            "POST",
            PATH,
            &forged_headers,
            accepted.clone(),
        )
        .await,
    );
    let size = w.server.size().await;

    // Another ciphertext, or an envelope changed, dropped or filed under another party: the digest differs.
    let mut other = by_importer(&w, true);
    other.ciphertext = by_importer(&w, true).ciphertext;
    let mut flipped = by_importer(&w, true);
    flipped.envelopes[0].envelope.0[40] ^= 1;
    let mut dropped = by_importer(&w, true);
    dropped.envelopes.pop();
    let mut swapped = by_importer(&w, true);
    let first = swapped.envelopes[0].party.clone();
    swapped.envelopes[0].party = swapped.envelopes[1].party.clone();
    swapped.envelopes[1].party = first;
    for tampered in [other, flipped, dropped, swapped] {
        send_signed(&w.server.url, &w.importer, "POST", PATH, json(&tampered))
            .await
            .assert_error(400, "sealed_digest_mismatch", "sealed digest");
    }

    // An entry signed by a forger in the importer's name; an entry by CBP sent in the importer's name.
    let forged = registration(&w, w.importer.id(), &forger, now_ms(), true);
    send_signed(&w.server.url, &w.importer, "POST", PATH, json(&forged))
        .await
        .assert_error(400, "bad_entry_signature", "does not verify");
    let by_cbp = registration(&w, w.cbp.id(), w.cbp.signing_key(), now_ms(), true);
    send_signed(&w.server.url, &w.importer, "POST", PATH, json(&by_cbp))
        .await
        .assert_error(403, "entry_signer_mismatch", "requesting party");

    // Dated an hour off, and dated before the server started (within the skew, but this run's replay memory
    // is younger than that).
    for time_ms in [
        now_ms() - 3_600_000,
        now_ms() + 3_600_000,
        (started - 5) * 1000,
    ] {
        let stale = registration(&w, w.importer.id(), w.importer.signing_key(), time_ms, true);
        send_signed(&w.server.url, &w.importer, "POST", PATH, json(&stale))
            .await
            .assert_error(400, "stale_entry", "time");
    }

    // The accepted request again, byte for byte, and its entry and uploads under a new request signature.
    send(
        &w.server.url,
        "POST",
        PATH,
        &forged_headers,
        accepted.clone(),
    )
    .await
    .assert_error(401, "replayed_request", "replayed");
    send_signed(&w.server.url, &w.importer, "POST", PATH, accepted)
        .await
        .assert_error(401, "replayed_request", "replayed");

    assert_eq!(
        w.server.size().await,
        size,
        "nothing was logged after the accepted registration"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_original_registration_still_needs_its_request_signature() {
    let w = World::new().await;
    let forger = SigningKey::generate(&mut rand::rng());
    let size = w.server.size().await;

    // Kind 0x02, as older clients send it: a request signature by another key is refused.
    let old = by_importer(&w, false);
    send_as_importer(&w, &forger, json(&old))
        .await
        .assert_error(401, "bad_signature", "bad request signature");
    // With its own request signature it registers, and its entry on the log is of kind 0x02.
    assert_ok(&send_as_importer(&w, w.importer.signing_key(), json(&old)).await);
    let logged = w.server.client().get_entry(size).await.unwrap();
    assert_eq!(logged[1], 0x02);
    // Its uploads are bound by the request's body digest: another ciphertext under the old signature fails.
    let mut other = by_importer(&w, false);
    let body = json(&other);
    let headers = sign(
        "POST",
        PATH,
        &body,
        w.importer.name(),
        w.importer.signing_key(),
        unix_now(),
    );
    other.ciphertext = by_importer(&w, false).ciphertext;
    send(&w.server.url, "POST", PATH, &headers, json(&other))
        .await
        .assert_error(401, "digest_mismatch", "digest");
    assert_eq!(w.server.size().await, size + 1);
}
