//! `register`: validate a certificate, seal it for its readers (keys taken from verified enrollments),
//! sign the registration entry and submit it.

use anyhow::Context as _;
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use vault::{CertId, DataKey, GrantSalt, MasterSalt, PartyId, PartyPublic};

use super::{Actor, grantbook};
use crate::api::{B64, EnvelopeUpload, RegisterRequest, Registered};
use crate::client::compat::{cert, commit};
use crate::client::entries::{self, SignedEntry};
use crate::client::logview::LogView;

/// A certificate body refused by validation; nothing was sent.
#[derive(Debug, thiserror::Error)]
#[error("the certificate is invalid ({} violation(s)); nothing was sent", .0.len())]
pub struct InvalidCertificate(
    /// One `pointer: message [rule]` line per violation.
    pub Vec<String>,
);

/// The outcome of a registration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Registration {
    /// The new certificate's id.
    pub cert_id: String,
    /// Index of its registration entry.
    pub index: u64,
}

/// Validates a body; every violation is reported, with its JSON pointer.
pub fn check_certificate(body: &Value) -> Result<(), InvalidCertificate> {
    cert::validate(body).map_err(|violations| {
        InvalidCertificate(violations.iter().map(|v| v.to_string()).collect())
    })
}

/// Registers `body` with readers `to` (the registrant keeps an envelope of its own).
pub async fn register(
    actor: &Actor<'_>,
    body: &Value,
    to: &[PartyId],
) -> anyhow::Result<Registration> {
    check_certificate(body)?;
    let view = LogView::fetch(actor.client, actor.log_key).await?;
    let me = actor.keys.id().clone();
    let mut readers: Vec<PartyId> = vec![me.clone()];
    for party in to {
        if !readers.contains(party) {
            readers.push(party.clone());
        }
    }
    let mut recipients: Vec<PartyPublic> = Vec::with_capacity(readers.len());
    for party in &readers {
        let (_, public) = view
            .party(party)
            .await
            .with_context(|| format!("looking up {party} on the log"))?;
        recipients.push(public);
    }
    if recipients.first().map(|p| p.signing_key) != Some(actor.keys.signing_key().verifying_key()) {
        anyhow::bail!("your key is not the one enrolled on the log for {me}");
    }

    let cert_id = CertId::random();
    let master_salt = MasterSalt::generate();
    let canonical = serde_json::to_vec(body)?;
    let commitment = commit::commit(body, &master_salt)?.root();
    let data_key = DataKey::generate();
    let ciphertext = vault::seal_body(&cert_id, &canonical, &master_salt, &commitment, &data_key)?;
    let mut envelopes = Vec::with_capacity(recipients.len());
    for recipient in &recipients {
        let salt = GrantSalt::generate();
        let envelope = vault::wrap(
            &cert_id,
            &recipient.id,
            &recipient.encryption_key,
            &data_key,
            &salt,
        )?;
        let grant = vault::grant_commitment(&cert_id, &recipient.id, &salt)?;
        envelopes.push((recipient.id.clone(), envelope, grant));
    }
    // Ordered by commitment, so the entry's order says nothing about who is who.
    envelopes.sort_by_key(|e| e.2);
    let grants = envelopes.iter().map(|e| e.2).collect();
    let ciphertext_hash: ledger::Hash = Sha256::digest(&ciphertext).into();
    let entry = SignedEntry::sign(
        entries::registration(cert_id, commitment, ciphertext_hash, grants),
        me,
        actor.keys.signing_key(),
    );
    grantbook::record(
        actor.home,
        &cert_id,
        &envelopes
            .iter()
            .map(|(party, _, grant)| (party.clone(), *grant))
            .collect::<Vec<_>>(),
    )?;
    let request = RegisterRequest {
        entry: B64(entry.encode()),
        ciphertext: B64(ciphertext),
        envelopes: envelopes
            .into_iter()
            .map(|(party, envelope, grant)| EnvelopeUpload {
                party: party.to_string(),
                envelope: B64(envelope),
                grant: B64(grant.to_vec()),
            })
            .collect(),
    };
    let answer: Registered = actor.client.post_json("/v1/certificates", &request).await?;
    if answer.cert_id != cert_id.to_string() {
        anyhow::bail!("the server answered for another certificate id");
    }
    Ok(Registration {
        cert_id: answer.cert_id,
        index: answer.index,
    })
}
