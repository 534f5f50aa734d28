//! The pipeline against real stores: concurrent registrations batch together, a duplicate id in a batch
//! fails alone, and every success is both stored and logged.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;

use axum::http::StatusCode;
use ledger::{CertId, Entry, PartyId, Role, SignedEntry};
use vault::{PartyKeys, VaultStore as _};

use super::Checked;
use crate::server::{AppState, ServeConfig};

fn checked(importer: &PartyKeys, cert_id: CertId, body: u8) -> Checked {
    let entry = Entry::Registration {
        cert_id,
        commitment: [body; 32],
        registrant: importer.id().clone(),
        grants: vec![[1; 32]],
        sealed: None,
        time_ms: 1,
    };
    Checked {
        cert_id,
        ciphertext: vec![body; 8192],
        envelopes: vec![(importer.id().to_string(), vec![body; 142])],
        entry: SignedEntry::sign(entry, importer.id().clone(), importer.signing_key()).unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batched_registrations_are_stored_then_logged_and_a_duplicate_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let config = ServeConfig::new(dir.path().join("data"), operator.public());
    let state = Arc::new(AppState::open(config).unwrap());
    let importer = PartyKeys::generate(PartyId::new("importer").unwrap(), Role::Importer);
    let before = state.log.size();

    let twice = CertId::random();
    let mut jobs = Vec::new();
    for i in 0..64u8 {
        let id = if i % 32 == 0 { twice } else { CertId::random() };
        let state = Arc::clone(&state);
        let job = checked(&importer, id, i);
        jobs.push(tokio::spawn(async move {
            let outcome = match state.registrar.submit(&state, job) {
                Ok(pending) => pending.index().await,
                Err(e) => Err(e),
            };
            (id, i, outcome)
        }));
    }
    let mut indices = Vec::new();
    let mut refused = 0;
    for job in jobs {
        let (id, body, outcome) = job.await.unwrap();
        match outcome {
            Ok(index) => {
                indices.push(index);
                let stored = state.vault.get_ciphertext(id).unwrap().unwrap();
                assert_eq!(stored, vec![body; 8192], "a logged certificate is stored");
                let bytes = state.log.entry(index).unwrap();
                let logged = SignedEntry::decode(&bytes).unwrap();
                assert_eq!(logged.entry().cert_id(), Some(id));
                let known = state.registry.certificate(&id).unwrap().unwrap();
                assert_eq!(known.registration_index, index);
            }
            Err(e) => {
                assert_eq!(id, twice, "only the duplicate id may fail");
                assert_eq!(e.status, StatusCode::CONFLICT);
                assert_eq!(e.code, "already_registered");
                refused += 1;
            }
        }
    }
    assert_eq!(
        refused, 1,
        "exactly one of the two registrations of one id fails"
    );
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), 63, "every success has its own log index");
    assert_eq!(
        state.log.size(),
        before + 63,
        "nothing refused reached the log"
    );
}
