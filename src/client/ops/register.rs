//! `register`: validate a certificate, seal it for its readers (keys taken from verified enrollments),
//! sign the registration entry and submit it.

use anyhow::Context as _;
use serde_json::Value;
use vault::{CertId, PartyId, PartyPublic};

use super::{Actor, grantbook};
use crate::api::{B64, EnvelopeUpload, RegisterRequest, Registered, sealed_digest};
use crate::cert::{self, Date};
use crate::client::entries;
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

/// The body's violations of its schema (`cert::validate`) as of `date`: what `register` refuses, and what
/// `open` reports about a body some other client registered. Violations carry pointers and rules, never values.
pub fn violations_at(body: &Value, date: Date) -> Vec<cert::Violation> {
    cert::validate_document(body, date)
        .err()
        .unwrap_or_default()
}

/// Validates a body (a native certificate or a credential) with `cert::validate_document` as of today (UTC);
/// every violation is reported with its pointer.
pub fn check_certificate(body: &Value) -> Result<(), InvalidCertificate> {
    let today = Date::today_utc().ok_or_else(|| {
        InvalidCertificate(vec![
            "(body): the system clock is outside the supported dates".into(),
        ])
    })?;
    cert::validate_document(body, today).map_err(|violations| {
        InvalidCertificate(violations.iter().map(|v| v.to_string()).collect())
    })?;
    // A token whose did:jwk signature does not verify is not what its issuer signed: registering it would put
    // a forgery under the registrant's name. An issuer that cannot be checked offline is reported by the CLI.
    let signature = super::issuer_signature(body, None);
    if signature.failed() {
        return Err(InvalidCertificate(vec![format!(
            "/{}/id: {signature} [jws.signature]",
            cert::vc::envelope::ENVELOPE_MEMBER
        )]));
    }
    Ok(())
}

/// Registers `body` with readers `to` (the registrant keeps an envelope of its own).
pub async fn register(
    actor: &Actor<'_>,
    body: &Value,
    to: &[PartyId],
) -> anyhow::Result<Registration> {
    check_certificate(body)?;
    register_unvalidated(actor, body, to).await
}

/// [`register`] without validating the body first: what a non-conforming client sends. The server cannot
/// tell (it never sees a body), so tests use this to check that readers catch such a body on `open`.
#[doc(hidden)]
pub async fn register_unvalidated(
    actor: &Actor<'_>,
    body: &Value,
    to: &[PartyId],
) -> anyhow::Result<Registration> {
    let view = LogView::fetch(actor.client, actor.log_key).await?;
    let me = actor.keys.id();
    let (_, myself) = view
        .party(me)
        .await
        .with_context(|| format!("looking up your own enrollment ({me})"))?;
    if myself.signing_key != actor.keys.signing_key().verifying_key() {
        anyhow::bail!("your key is not the one enrolled on the log for {me}");
    }
    let mut recipients: Vec<PartyPublic> = Vec::with_capacity(to.len());
    for party in to {
        let (_, public) = view
            .party(party)
            .await
            .with_context(|| format!("looking up {party} on the log"))?;
        recipients.push(public);
    }

    let cert_id = CertId::random();
    let mut sealed = vault::seal_certificate(&cert_id, body, &myself, &recipients)?;
    // Ordered by commitment, so the entry's order says nothing about who is who.
    sealed.envelopes.sort_by_key(|e| e.grant_commitment);
    let grants = sealed
        .envelopes
        .iter()
        .map(|e| e.grant_commitment)
        .collect();
    grantbook::record(
        actor.home,
        &cert_id,
        &sealed
            .envelopes
            .iter()
            .map(|e| (e.party.clone(), e.grant_commitment))
            .collect::<Vec<_>>(),
    )?;
    let envelopes: Vec<EnvelopeUpload> = sealed
        .envelopes
        .into_iter()
        .map(|e| EnvelopeUpload {
            party: e.party.to_string(),
            envelope: B64(e.envelope),
            grant: B64(e.grant_commitment.to_vec()),
        })
        .collect();
    // The entry carries the uploads' digest, so its signature alone proves what is being registered
    // (docs/threat-model.md, "One signature per registration").
    let digest = sealed_digest(&sealed.ciphertext, &envelopes);
    let entry = entries::sign(
        entries::registration(&cert_id, sealed.commitment, me, grants, digest)?,
        actor.keys,
    )?;
    let request = RegisterRequest {
        entry: B64(entry.encode()),
        ciphertext: B64(sealed.ciphertext),
        envelopes,
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
