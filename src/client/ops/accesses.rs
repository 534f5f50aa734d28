//! `accesses`: who opened a certificate and when. The registrant matches each access receipt's grant
//! commitment to its readers; anyone else learns only how many receipts the log holds.
//!
//! Every receipt is verified before it counts: included under a checkpoint signed by the pinned log key, an
//! access receipt for this certificate, signed by the log key. So is the registration it belongs to.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use vault::{CertId, PartyKeys};

use super::{Actor, grantbook, grants, view_covering};
use crate::client::Client;
use crate::client::entries;
use crate::client::logview::{LogView, VerifyError};

/// One verified access receipt, as the registrant sees it.
#[derive(Debug, Clone, Serialize)]
pub struct Access {
    /// The receipt's log index (one receipt may record several releases: concurrent opens share one).
    pub index: u64,
    /// When the envelope was released (the receipt's time), in milliseconds since the Unix epoch.
    pub time_ms: u64,
    /// The same time as RFC 3339 UTC text.
    pub time: String,
    /// The reader, if the grant commitment is one the registrant knows (server list or local history).
    pub party: Option<String>,
    /// The grant commitment the envelope was released under, hex.
    pub grant: String,
    /// Whether that grant is still active (held by its reader now).
    pub active: bool,
}

/// What `accesses` found.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "view", rename_all = "snake_case")]
pub enum AccessTrail {
    /// The caller registered the certificate: every access with its reader.
    Registrant {
        /// The certificate id.
        cert_id: String,
        /// The accesses, in log order.
        accesses: Vec<Access>,
    },
    /// Anyone else: only how many verified access receipts the log holds.
    Outsider {
        /// The certificate id.
        cert_id: String,
        /// The number of releases the verified access receipts record.
        count: u64,
    },
}

/// The access trail of `cert_id`. `client` signs as `keys` when they are given; without keys, or with keys of
/// a party other than the registrant, only the count is returned.
pub async fn accesses(
    client: &Client,
    keys: Option<&PartyKeys>,
    log_key: &str,
    home: &Path,
    cert_id: &CertId,
) -> anyhow::Result<AccessTrail> {
    let info = client.get_certificate(cert_id).await?;
    let indexes = client.get_receipts(cert_id).await?;
    if indexes.windows(2).any(|w| w[0] >= w[1]) {
        anyhow::bail!("the server listed the receipts out of order");
    }
    let last = indexes
        .last()
        .copied()
        .unwrap_or(0)
        .max(info.registration_index);
    let view = view_covering(client, log_key, last).await?;
    let registrant = verified_registrant(&view, cert_id, info.registration_index).await?;
    let mut receipts = Vec::with_capacity(indexes.len());
    for index in indexes {
        receipts.extend(verified_receipt(&view, cert_id, index).await?);
    }
    let Some(keys) = keys.filter(|k| *k.id() == registrant) else {
        return Ok(AccessTrail::Outsider {
            cert_id: cert_id.to_string(),
            count: u64::try_from(receipts.len()).unwrap_or(u64::MAX),
        });
    };
    let actor = Actor {
        client,
        keys,
        log_key,
        home,
    };
    let active: BTreeMap<String, String> = grants::list_grants(&actor, cert_id)
        .await?
        .into_iter()
        .map(|(party, grant)| (hex::encode(grant), party.to_string()))
        .collect();
    let history = grantbook::history(home, cert_id)?;
    let accesses = receipts
        .into_iter()
        .map(|(index, grant, time_ms)| {
            let grant = hex::encode(grant);
            let party = active.get(&grant).or_else(|| history.get(&grant)).cloned();
            Access {
                index,
                time_ms,
                time: rfc3339(time_ms),
                party,
                active: active.contains_key(&grant),
                grant,
            }
        })
        .collect();
    Ok(AccessTrail::Registrant {
        cert_id: cert_id.to_string(),
        accesses,
    })
}

/// The registrant named by the certificate's registration entry, verified in the log and signed by that
/// registrant's key as of then.
async fn verified_registrant(
    view: &LogView<'_>,
    cert_id: &CertId,
    index: u64,
) -> anyhow::Result<vault::PartyId> {
    let registration = view.entry(index).await?;
    let unexpected = || VerifyError::Unexpected {
        index,
        expected: format!("the registration of {cert_id}"),
    };
    let facts = entries::registration_facts(registration.signed.entry()).ok_or_else(unexpected)?;
    if facts.cert_id != *cert_id
        || entries::signer(&registration.signed).as_ref() != Some(&facts.registrant)
    {
        return Err(unexpected().into());
    }
    let (_, registrant) = view.party_at(&facts.registrant, index).await?;
    registration
        .signed
        .verify(&registrant.signing_key)
        .map_err(|_| VerifyError::BadSignature {
            index,
            signer: registrant.id.to_string(),
        })?;
    Ok(facts.registrant)
}

/// Entry `index`, verified as an access receipt signed by the log key that records at least one release of
/// `cert_id`: (index, grant, time) for each of them (a group's receipt, kind 0x09, may list several).
async fn verified_receipt(
    view: &LogView<'_>,
    cert_id: &CertId,
    index: u64,
) -> anyhow::Result<Vec<(u64, ledger::Hash, u64)>> {
    let entry = view.entry(index).await?;
    let unexpected = || VerifyError::Unexpected {
        index,
        expected: format!("an access receipt for {cert_id}"),
    };
    let releases: Vec<_> = entries::releases(entry.signed.entry())
        .into_iter()
        .filter(|(released, _, _)| released == cert_id)
        .map(|(_, grant, time_ms)| (index, grant, time_ms))
        .collect();
    if releases.is_empty() || entry.signed.signer().as_str() != crate::api::LOG_PARTY {
        return Err(unexpected().into());
    }
    entry
        .signed
        .verify(view.log_key())
        .map_err(|_| VerifyError::BadSignature {
            index,
            signer: "the log key".into(),
        })?;
    Ok(releases)
}

/// Milliseconds since the Unix epoch as RFC 3339 UTC (`2026-11-21T10:15:30.123Z`).
pub(crate) fn rfc3339(ms: u64) -> String {
    let days = i64::try_from(ms / 86_400_000).unwrap_or(i64::MAX);
    let rest = ms % 86_400_000;
    let (h, m, s, milli) = (
        rest / 3_600_000,
        rest / 60_000 % 60,
        rest / 1000 % 60,
        rest % 1000,
    );
    match crate::cert::Date::from_unix_days(days) {
        Some(d) => format!(
            "{:04}-{:02}-{:02}T{h:02}:{m:02}:{s:02}.{milli:03}Z",
            d.year(),
            d.month(),
            d.day()
        ),
        None => format!("{ms} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn times_print_as_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_790_000_000_123), "2026-09-21T14:13:20.123Z");
    }
}
