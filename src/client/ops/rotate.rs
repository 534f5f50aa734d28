//! Party key rotation and re-wrapping.
//!
//! Rotation takes two signatures: the party's current key consents to its new public keys
//! ([`rotation_request`]), and the operator appends the rotation entry carrying that consent
//! ([`submit_rotation`]). Afterwards each registrant re-wraps its existing grants for the party's new
//! encryption key ([`rewrap`]): the data key is wrapped again, the body is not re-encrypted.

use anyhow::Context as _;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signer as _;
use serde::{Deserialize, Serialize};
use vault::{CertId, PartyId, PartyKeys, PartyPublic, Role};

use super::{Actor, grantbook, grants};
use crate::api::{Appended, B64, EnvelopeUpload, RewrapRequest, Rewrapped, RotateRequest, Sealed};
use crate::client::Client;
use crate::client::entries;
use crate::client::logview::LogView;

/// The `format` of a rotation request file.
pub const ROTATION_REQUEST_FORMAT: &str = "tradeledger-rotation-request/v1";

/// A party's signed consent to replace its keys, handed to the operator. Nothing in it is secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotationRequest {
    /// Always [`ROTATION_REQUEST_FORMAT`].
    pub format: String,
    /// The new public identity (same party id and role, new keys), as in a `.pub` file.
    pub new: serde_json::Value,
    /// The signing key being replaced, hex.
    pub replaces: String,
    /// The replaced key's Ed25519 signature over the consent message (docs/formats.md), base64.
    pub consent: String,
}

/// The party's step: signs, with its current keys `old`, its consent to rotate to `new`.
pub fn rotation_request(old: &PartyKeys, new: &PartyPublic) -> anyhow::Result<RotationRequest> {
    if new.id != *old.id() || new.role != old.role() {
        anyhow::bail!(
            "the new key is for {} ({}), not {} ({})",
            new.id,
            new.role,
            old.id(),
            old.role()
        );
    }
    let replaces = old.signing_key().verifying_key().to_bytes();
    if new.signing_key.to_bytes() == replaces {
        anyhow::bail!("the new signing key is the current one");
    }
    let message = entries::rotation_consent(new, &replaces)?;
    let consent = old.signing_key().sign(&message).to_bytes();
    Ok(RotationRequest {
        format: ROTATION_REQUEST_FORMAT.to_owned(),
        new: serde_json::from_str(&new.to_json())?,
        replaces: hex::encode(replaces),
        consent: STANDARD.encode(consent),
    })
}

/// The operator's step: checks the consent, signs the rotation entry and submits it. `client` signs as
/// `operator`. Returns the rotation entry's index.
pub async fn submit_rotation(
    client: &Client,
    operator: &PartyKeys,
    request: &RotationRequest,
) -> anyhow::Result<u64> {
    if operator.role() != Role::Operator {
        anyhow::bail!(
            "only the operator countersigns rotations, and this key's role is {}",
            operator.role()
        );
    }
    if request.format != ROTATION_REQUEST_FORMAT {
        anyhow::bail!("not a rotation request (format {:?})", request.format);
    }
    let new = PartyPublic::from_json(&request.new.to_string())
        .context("the request's new identity is malformed")?;
    let mut replaces = [0u8; 32];
    hex::decode_to_slice(&request.replaces, &mut replaces)
        .context("the request's replaced key is not 32 hex bytes")?;
    let consent: [u8; 64] = STANDARD
        .decode(&request.consent)
        .ok()
        .and_then(|c| c.try_into().ok())
        .context("the request's consent is not a base64 Ed25519 signature")?;
    let entry = entries::rotation(&new, replaces, consent)?;
    entry
        .verify_rotation_consent()
        .context("the consent is not signed by the key it replaces")?;
    let signed = entries::sign(entry, operator)?;
    let answer: Appended = client
        .post_json(
            &format!("/v1/parties/{}/rotations", new.id),
            &RotateRequest {
                entry: B64(signed.encode()),
            },
        )
        .await?;
    Ok(answer.index)
}

/// One re-wrapped grant.
#[derive(Debug, Clone, Serialize)]
pub struct RewrapOutcome {
    /// The certificate.
    pub cert_id: String,
    /// Index of the grant entry of the new envelope.
    pub grant_index: u64,
    /// Index of the revocation entry of the old one.
    pub revocation_index: u64,
}

/// Re-wraps `party`'s grants for its current (rotated) encryption key, as the registrant `actor`: on each of
/// `certs`, or, if empty, on every certificate with a local grant record naming `party`. Certificates where
/// `party` holds no grant now are skipped.
pub async fn rewrap(
    actor: &Actor<'_>,
    party: &PartyId,
    certs: &[CertId],
) -> anyhow::Result<Vec<RewrapOutcome>> {
    let candidates = if certs.is_empty() {
        let mut found = Vec::new();
        for cert_id in grantbook::certificates(actor.home)? {
            if grantbook::load(actor.home, &cert_id)?.contains_key(party.as_str()) {
                found.push(cert_id);
            }
        }
        found
    } else {
        certs.to_vec()
    };
    let view = LogView::fetch(actor.client, actor.log_key).await?;
    let (_, reader) = view
        .party(party)
        .await
        .with_context(|| format!("looking up {party} on the log"))?;
    let mut done = Vec::new();
    for cert_id in candidates {
        let held = grants::list_grants(actor, &cert_id).await?;
        let Some(old_grant) = held.get(party) else {
            continue;
        };
        done.push(rewrap_one(actor, &cert_id, &reader, *old_grant).await?);
    }
    Ok(done)
}

async fn rewrap_one(
    actor: &Actor<'_>,
    cert_id: &CertId,
    reader: &PartyPublic,
    old_grant: ledger::Hash,
) -> anyhow::Result<RewrapOutcome> {
    let sealed: Sealed = actor
        .client
        .get_signed(&format!("/v1/certificates/{cert_id}/sealed"))
        .await
        .with_context(|| format!("fetching your own envelope of {cert_id}"))?;
    let (data_key, _) = vault::unwrap(cert_id, actor.keys, &sealed.envelope.0)
        .context("opening your own envelope")?;
    let wrapped = vault::rewrap_for(cert_id, &data_key, reader)?;
    let new_grant = wrapped.grant_commitment;
    let grant = entries::sign(entries::grant(cert_id, new_grant), actor.keys)?;
    let revocation = entries::sign(entries::revocation(cert_id, old_grant), actor.keys)?;
    grantbook::record(actor.home, cert_id, &[(reader.id.clone(), new_grant)])?;
    let request = RewrapRequest {
        grant: B64(grant.encode()),
        revocation: B64(revocation.encode()),
        envelope: EnvelopeUpload {
            party: reader.id.to_string(),
            envelope: B64(wrapped.envelope),
            grant: B64(new_grant.to_vec()),
        },
    };
    let answer: Rewrapped = actor
        .client
        .post_json(&format!("/v1/certificates/{cert_id}/rewraps"), &request)
        .await?;
    Ok(RewrapOutcome {
        cert_id: cert_id.to_string(),
        grant_index: answer.grant_index,
        revocation_index: answer.revocation_index,
    })
}
