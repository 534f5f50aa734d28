//! The registrant's view of who holds which grant: the server's list (`GET /v1/certificates/<id>/grants`),
//! cross-checked with the local grant record when there is one.

use std::collections::BTreeMap;

use anyhow::Context as _;
use vault::{CertId, PartyId};

use super::{Actor, grantbook};
use crate::api::GrantList;

/// The active grants of `cert_id` as the server lists them (the registrant's own included), by party.
///
/// Only the registrant may ask. The server cannot forge a grant commitment that is not on the log without being
/// caught by the revocation it would then refuse, but it could list a commitment under the wrong party: where
/// the local record knows a party, the two must agree.
pub async fn list_grants(
    actor: &Actor<'_>,
    cert_id: &CertId,
) -> anyhow::Result<BTreeMap<PartyId, ledger::Hash>> {
    let answer: GrantList = actor
        .client
        .get_signed(&format!("/v1/certificates/{cert_id}/grants"))
        .await
        .context("listing the certificate's grants")?;
    if answer.cert_id != cert_id.to_string() {
        anyhow::bail!("the server listed the grants of another certificate");
    }
    let mut grants = BTreeMap::new();
    for record in answer.grants {
        let party = PartyId::new(&record.party)
            .with_context(|| format!("the server listed an invalid party id {:?}", record.party))?;
        let grant: ledger::Hash = record
            .grant
            .0
            .as_slice()
            .try_into()
            .context("the server listed a grant commitment that is not 32 bytes")?;
        grants.insert(party, grant);
    }
    let local = grantbook::load(actor.home, cert_id)?;
    for (party, grant) in &grants {
        if let Some(recorded) = local.get(party.as_str())
            && *recorded != hex::encode(grant)
        {
            anyhow::bail!(
                "the server lists a grant for {party} that differs from your local record; refusing to rely on it"
            );
        }
    }
    Ok(grants)
}

/// The grant commitment `party` holds on `cert_id`: from the server's list, cross-checked with the local record
/// if present; from the local record alone if the server lists none for that party (it then refuses the
/// revocation itself, as the envelope is gone).
pub(crate) async fn grant_of(
    actor: &Actor<'_>,
    cert_id: &CertId,
    party: &PartyId,
) -> anyhow::Result<ledger::Hash> {
    let listed = list_grants(actor, cert_id).await?;
    match listed.get(party) {
        Some(grant) => Ok(*grant),
        None => grantbook::lookup(actor.home, cert_id, party)
            .with_context(|| format!("{party} holds no grant on {cert_id}")),
    }
}
