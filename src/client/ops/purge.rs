//! `purge`: the registrant deletes a certificate's body and envelopes from the vault for good; the log keeps
//! its registration, so the certificate's existence stays provable.

use vault::CertId;

use super::Actor;
use crate::api::{Appended, B64, PurgeRequest};
use crate::client::entries;

/// Purges `cert_id`'s body and every envelope from the vault (registrant only); the log keeps its
/// registration. Returns the purge entry's index.
pub async fn purge(actor: &Actor<'_>, cert_id: &CertId) -> anyhow::Result<u64> {
    let entry = entries::sign(entries::purge(cert_id), actor.keys)?;
    let answer: Appended = actor
        .client
        .post_json(
            &format!("/v1/certificates/{cert_id}/purge"),
            &PurgeRequest {
                entry: B64(entry.encode()),
            },
        )
        .await?;
    Ok(answer.index)
}
