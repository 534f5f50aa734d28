//! `grant` and `revoke`: the registrant adds a reader (re-wrapping the same data key, without re-encrypting
//! the body) or withdraws one.

use anyhow::Context as _;
use vault::{CertId, PartyId};

use super::{Actor, grantbook, grants};
use crate::api::{Appended, B64, EnvelopeUpload, GrantRequest, RevokeRequest, Sealed};
use crate::client::logview::LogView;
use crate::client::{ClientError, entries};

/// Grants `to` access to `cert_id`; returns the grant entry's index.
///
/// The data key comes from the registrant's own envelope (fetching it appends an access receipt, as every
/// release does); the new reader's encryption key comes only from its verified enrollment.
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
    let wrapped = vault::rewrap_for(cert_id, &data_key, &reader)?;
    let grant = wrapped.grant_commitment;
    let entry = entries::sign(entries::grant(cert_id, grant), actor.keys)?;
    // Recorded before sending, so a grant the server accepted is never missing from the record even if the
    // answer is lost; put back if the server refuses it, or the reader's active grant could not be revoked.
    let previous = grantbook::load(actor.home, cert_id)?.remove(reader.id.as_str());
    grantbook::record(actor.home, cert_id, &[(reader.id.clone(), grant)])?;
    let request = GrantRequest {
        entry: B64(entry.encode()),
        envelope: EnvelopeUpload {
            party: reader.id.to_string(),
            envelope: B64(wrapped.envelope),
            grant: B64(grant.to_vec()),
        },
    };
    let answer: Result<Appended, ClientError> = actor
        .client
        .post_json(&format!("/v1/certificates/{cert_id}/grants"), &request)
        .await;
    match answer {
        Ok(answer) => Ok(answer.index),
        Err(refused @ ClientError::Api { .. }) => {
            grantbook::restore(actor.home, cert_id, &reader.id, previous)?;
            Err(refused.into())
        }
        Err(other) => Err(other.into()),
    }
}

/// Revokes `from`'s access to `cert_id`; returns the revocation entry's index.
///
/// The grant commitment to revoke comes from the server's grant list (registrant only), cross-checked with the
/// local grant record when one exists, so revoking works from any machine holding the registrant's key.
pub async fn revoke(actor: &Actor<'_>, cert_id: &CertId, from: &PartyId) -> anyhow::Result<u64> {
    let grant = grants::grant_of(actor, cert_id, from).await?;
    let entry = entries::sign(entries::revocation(cert_id, grant), actor.keys)?;
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
