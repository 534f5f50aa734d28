//! `grant` and `revoke`: the registrant adds a reader (re-wrapping the same data key, without re-encrypting
//! the body) or withdraws one.

use anyhow::Context as _;
use vault::{CertId, GrantSalt, PartyId};

use super::{Actor, grantbook};
use crate::api::{Appended, B64, EnvelopeUpload, GrantRequest, RevokeRequest, Sealed};
use crate::client::entries::{self, SignedEntry};
use crate::client::logview::LogView;

/// Grants `to` access to `cert_id`; returns the grant entry's index.
pub async fn grant(actor: &Actor<'_>, cert_id: &CertId, to: &PartyId) -> anyhow::Result<u64> {
    let sealed: Sealed = actor
        .client
        .get_signed(&format!("/v1/certificates/{cert_id}/sealed"))
        .await
        .context("fetching your own envelope")?;
    let (data_key, _) = vault::unwrap(cert_id, actor.keys, &sealed.envelope.0)
        .context("opening your own envelope")?;
    let view = LogView::fetch(actor.client, actor.log_key).await?;
    let (_, reader) = view
        .party(to)
        .await
        .with_context(|| format!("looking up {to} on the log"))?;
    let salt = GrantSalt::generate();
    let envelope = vault::wrap(
        cert_id,
        &reader.id,
        &reader.encryption_key,
        &data_key,
        &salt,
    )?;
    let grant = vault::grant_commitment(cert_id, &reader.id, &salt)?;
    let entry = SignedEntry::sign(
        entries::grant(*cert_id, grant),
        actor.keys.id().clone(),
        actor.keys.signing_key(),
    );
    grantbook::record(actor.home, cert_id, &[(reader.id.clone(), grant)])?;
    let request = GrantRequest {
        entry: B64(entry.encode()),
        envelope: EnvelopeUpload {
            party: reader.id.to_string(),
            envelope: B64(envelope),
            grant: B64(grant.to_vec()),
        },
    };
    let answer: Appended = actor
        .client
        .post_json(&format!("/v1/certificates/{cert_id}/grants"), &request)
        .await?;
    Ok(answer.index)
}

/// Revokes `from`'s access to `cert_id`; returns the revocation entry's index.
pub async fn revoke(actor: &Actor<'_>, cert_id: &CertId, from: &PartyId) -> anyhow::Result<u64> {
    let grant = grantbook::lookup(actor.home, cert_id, from)?;
    let entry = SignedEntry::sign(
        entries::revocation(*cert_id, grant),
        actor.keys.id().clone(),
        actor.keys.signing_key(),
    );
    let request = RevokeRequest {
        entry: B64(entry.encode()),
        party: from.to_string(),
    };
    let answer: Appended = actor
        .client
        .post_json(&format!("/v1/certificates/{cert_id}/revocations"), &request)
        .await?;
    Ok(answer.index)
}
