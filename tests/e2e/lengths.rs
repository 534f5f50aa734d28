//! Lengths the formats fix (docs/formats.md, "Vault formats"), checked at the HTTP edge: an envelope is exactly
//! 113 bytes starting with version 1, a body ciphertext at least version + nonce + master salt + tag. A junk
//! envelope must not count as a customs reader.

use ledger::{Entry, SignedEntry};
use tradeledger::api::{B64, EnvelopeUpload, GrantRequest, RegisterRequest, RewrapRequest};
use tradeledger::client::ops;
use vault::{CertId, GrantSalt};

use crate::support::{Party, World, example, now_ms, send_signed};

/// A registration request from the importer to CBP, passed through `change` before it is sent.
fn registration(w: &World, change: impl FnOnce(&mut RegisterRequest)) -> Vec<u8> {
    let cert_id = CertId::random();
    let importer = w.importer.keys.public();
    let sealed = vault::seal_certificate(
        &cert_id,
        &example("usmca.json"),
        &importer,
        &[w.cbp.keys.public()],
    )
    .unwrap();
    let grants = sealed
        .envelopes
        .iter()
        .map(|e| e.grant_commitment)
        .collect();
    let entry = Entry::Registration {
        cert_id,
        commitment: sealed.commitment,
        registrant: importer.id.clone(),
        grants,
        sealed: None,
        time_ms: now_ms(),
    };
    let entry = SignedEntry::sign(entry, importer.id.clone(), w.importer.signing_key()).unwrap();
    let mut request = RegisterRequest {
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
    change(&mut request);
    serde_json::to_vec(&request).unwrap()
}

/// Envelopes that are not 113 bytes of version 1: empty, short, long, another version.
fn bad_envelopes() -> Vec<Vec<u8>> {
    let mut other_version = vec![0u8; vault::ENVELOPE_LEN];
    other_version[0] = 2;
    vec![
        Vec::new(),
        vec![1u8; 40],
        vec![1u8; vault::ENVELOPE_LEN - 1],
        vec![1u8; vault::ENVELOPE_LEN + 1],
        other_version,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_with_malformed_envelopes_or_ciphertexts_are_refused() {
    let w = World::new().await;
    let url = &w.server.url;
    let before = w.server.size().await;
    for bad in bad_envelopes() {
        // The customs envelope (the registrant's own comes first).
        let body = registration(&w, |r| r.envelopes[1].envelope = B64(bad.clone()));
        send_signed(url, &w.importer, "POST", "/v1/certificates", body)
            .await
            .assert_error(400, "bad_envelope", "envelopes[1].envelope");
        let body = registration(&w, |r| r.envelopes[0].envelope = B64(bad));
        send_signed(url, &w.importer, "POST", "/v1/certificates", body)
            .await
            .assert_error(400, "bad_envelope", "envelopes[0].envelope");
    }
    for len in [0, 1, 60] {
        let body = registration(&w, |r| r.ciphertext.0.truncate(len));
        send_signed(url, &w.importer, "POST", "/v1/certificates", body)
            .await
            .assert_error(400, "bad_ciphertext", "ciphertext");
    }
    let body = registration(&w, |r| r.ciphertext.0[0] = 2);
    send_signed(url, &w.importer, "POST", "/v1/certificates", body)
        .await
        .assert_error(400, "bad_ciphertext", "ciphertext");
    assert_eq!(
        w.server.size().await,
        before,
        "a refused registration was logged"
    );
    // The unchanged request still goes through.
    let body = registration(&w, |_| {});
    let answer = send_signed(url, &w.importer, "POST", "/v1/certificates", body).await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_and_rewraps_with_malformed_envelopes_are_refused() {
    let w = World::new().await;
    let url = &w.server.url;
    let (cert_id, _) = w.register(&example("usmca.json"), &[&w.cbp]).await;
    let importer = &w.importer;
    let sign_entry =
        |entry: Entry| SignedEntry::sign(entry, importer.id().clone(), importer.signing_key());
    let commitment = |party: &Party| {
        vault::grant_commitment(&cert_id, party.id(), &GrantSalt::generate()).unwrap()
    };
    let grants_path = format!("/v1/certificates/{cert_id}/grants");
    let rewraps_path = format!("/v1/certificates/{cert_id}/rewraps");
    let current = ops::list_grants(&importer.actor(w.vkey()), &cert_id)
        .await
        .unwrap()[w.cbp.id()];
    let before = w.server.size().await;
    for bad in bad_envelopes() {
        let grant = commitment(&w.broker);
        let request = GrantRequest {
            entry: B64(sign_entry(Entry::Grant {
                cert_id,
                grant,
                time_ms: now_ms(),
            })
            .unwrap()
            .encode()),
            envelope: EnvelopeUpload {
                party: w.broker.name().to_owned(),
                envelope: B64(bad.clone()),
                grant: B64(grant.to_vec()),
            },
        };
        let body = serde_json::to_vec(&request).unwrap();
        send_signed(url, importer, "POST", &grants_path, body)
            .await
            .assert_error(400, "bad_envelope", "envelope.envelope");

        let grant = commitment(&w.cbp);
        let request = RewrapRequest {
            grant: B64(sign_entry(Entry::Grant {
                cert_id,
                grant,
                time_ms: now_ms(),
            })
            .unwrap()
            .encode()),
            revocation: B64(sign_entry(Entry::Revocation {
                cert_id,
                grant: current,
                time_ms: now_ms(),
            })
            .unwrap()
            .encode()),
            envelope: EnvelopeUpload {
                party: w.cbp.name().to_owned(),
                envelope: B64(bad),
                grant: B64(grant.to_vec()),
            },
        };
        let body = serde_json::to_vec(&request).unwrap();
        send_signed(url, importer, "POST", &rewraps_path, body)
            .await
            .assert_error(400, "bad_envelope", "envelope.envelope");
    }
    assert_eq!(
        w.server.size().await,
        before,
        "a refused request was logged"
    );
    // CBP still opens what it was granted: its envelope was not replaced by junk.
    w.open(&w.cbp, &cert_id).await.unwrap();
}
