//! `enroll`: the operator signs an enrollment entry for a party's public identity and submits it.

use vault::{PartyKeys, PartyPublic, Role};

use crate::api::{Appended, B64, EnrollRequest};
use crate::client::Client;
use crate::client::entries;

/// Enrolls `party` on the log; `operator` must hold the operator's keys. Returns the entry's index.
pub async fn enroll(
    client: &Client,
    operator: &PartyKeys,
    party: &PartyPublic,
) -> anyhow::Result<u64> {
    if operator.role() != Role::Operator {
        anyhow::bail!(
            "only the operator enrolls parties, and this key's role is {}",
            operator.role()
        );
    }
    let entry = entries::sign(entries::enrollment(party)?, operator)?;
    let answer: Appended = client
        .post_json(
            "/v1/parties",
            &EnrollRequest {
                entry: B64(entry.encode()),
            },
        )
        .await?;
    Ok(answer.index)
}
