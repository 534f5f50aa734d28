//! `open` and `disclose`: fetch a sealed certificate, prove its registration is on the log under a
//! checkpoint signed by the pinned key and signed by an enrolled registrant, decrypt and check the body
//! against the registered commitment (`vault::open_certificate`), and only then hand it out (or disclose
//! chosen fields of it). The body is validated again, as `register` does: the server never sees a body, so
//! a registrant's client that skipped validation is caught only here.

use anyhow::Context as _;
use vault::CertId;

use super::bundle::{BUNDLE_FORMAT, Bundle, BundledEntry};
use super::{Actor, view_covering};
use crate::api::Sealed;
use crate::cert::Date;
use crate::client::entries;
use crate::client::logview::{LogView, VerifiedEntry, VerifyError};

/// A verified, decrypted certificate.
pub struct Opened {
    /// The certificate id.
    pub cert_id: CertId,
    /// The body (secret: drop it when done).
    pub body: serde_json::Value,
    /// The registration entry, verified in the log.
    pub registration: VerifiedEntry,
    /// The registrant's enrollment, verified in the log.
    pub registrant: VerifiedEntry,
    /// The access receipt the release appended.
    pub receipt_index: u64,
    /// The body's violations of its schema as of its registration date (pointers and rules, never values);
    /// empty when it conforms. A non-conforming body is still what was registered and proven, so it is
    /// returned, and it is up to the reader to treat it as the finding it is.
    pub violations: Vec<crate::cert::Violation>,
    /// For a credential registered as a VC-JOSE token: whether its issuer's signature verified, under which
    /// key, and whether that key is the one the registrant enrolled on the log.
    pub issuer_signature: super::IssuerSignature,
    master_salt: vault::MasterSalt,
}

impl Opened {
    /// Whether the body conforms to its schema (and a secured credential's signature is not wrong).
    pub fn conforms(&self) -> bool {
        self.violations.is_empty() && !self.issuer_signature.failed()
    }
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("cert_id", &self.cert_id)
            .finish_non_exhaustive()
    }
}

/// Opens `cert_id`: nothing is returned unless every check passes.
pub async fn open(actor: &Actor<'_>, cert_id: &CertId) -> anyhow::Result<Opened> {
    let (opened, _) = open_with_view(actor, cert_id).await?;
    Ok(opened)
}

async fn open_with_view<'a>(
    actor: &Actor<'a>,
    cert_id: &CertId,
) -> anyhow::Result<(Opened, LogView<'a>)> {
    let sealed: Sealed = actor
        .client
        .get_signed(&format!("/v1/certificates/{cert_id}/sealed"))
        .await?;
    let view = view_covering(actor.client, actor.log_key, sealed.registration_index).await?;
    let registration = view.entry(sealed.registration_index).await?;
    let unexpected = || VerifyError::Unexpected {
        index: registration.index,
        expected: format!("the registration of {cert_id}"),
    };
    let facts = entries::registration_facts(registration.signed.entry()).ok_or_else(unexpected)?;
    if facts.cert_id != *cert_id
        || entries::signer(&registration.signed).as_ref() != Some(&facts.registrant)
    {
        return Err(unexpected().into());
    }
    let (registrant, registrant_party) =
        view.party_at(&facts.registrant, registration.index).await?;
    registration
        .signed
        .verify(&registrant_party.signing_key)
        .map_err(|_| VerifyError::BadSignature {
            index: registration.index,
            signer: registrant_party.id.to_string(),
        })?;
    let opened = vault::open_certificate(
        cert_id,
        &facts.commitment,
        actor.keys,
        &sealed.envelope.0,
        &sealed.ciphertext.0,
    )?;
    if vault::grant_commitment(cert_id, actor.keys.id(), &opened.grant_salt)?.as_slice()
        != sealed.grant.0.as_slice()
    {
        anyhow::bail!("the envelope served does not match your grant commitment");
    }
    // As of the registration's date, so a body that was valid when registered stays valid (a signature date
    // is checked against the day it was registered, not today).
    let registered_on = i64::try_from(facts.time_ms / 86_400_000)
        .ok()
        .and_then(Date::from_unix_days)
        .or_else(Date::today_utc)
        .context(
            "the registration's date and the system clock are both outside the supported dates",
        )?;
    let violations = super::violations_at(&opened.body, registered_on);
    let issuer_signature =
        super::issuer_signature(&opened.body, Some(&registrant_party.signing_key));
    let result = Opened {
        cert_id: *cert_id,
        violations,
        issuer_signature,
        body: opened.body,
        registration,
        registrant,
        receipt_index: sealed.receipt_index,
        master_salt: opened.master_salt,
    };
    Ok((result, view))
}

/// Opens `cert_id` and builds a bundle disclosing the fields under `pointers`, verifiable offline.
pub async fn disclose(
    actor: &Actor<'_>,
    cert_id: &CertId,
    pointers: &[String],
) -> anyhow::Result<Bundle> {
    let pointers = pointers.to_vec();
    let (bundle, _) = disclose_chosen(actor, cert_id, |_| Ok(pointers)).await?;
    Ok(bundle)
}

/// Opens `cert_id` once, lets `choose` pick the pointers to disclose from the verified body, and returns the
/// bundle with the body (secret: the caller drops it when done). The credential exports choose their native
/// fields from the body (all of them, or those a chosen claim is computed from).
pub async fn disclose_chosen(
    actor: &Actor<'_>,
    cert_id: &CertId,
    choose: impl FnOnce(&serde_json::Value) -> anyhow::Result<Vec<String>>,
) -> anyhow::Result<(Bundle, serde_json::Value)> {
    let (opened, view) = open_with_view(actor, cert_id).await?;
    let chosen = choose(&opened.body)?;
    let pointers: Vec<&str> = chosen.iter().map(String::as_str).collect();
    let disclosure =
        vault::commit(&opened.body, &opened.master_salt)?.disclose(cert_id, &pointers)?;
    let (operator, _) = view.operator().await?;
    let bundle = Bundle {
        format: BUNDLE_FORMAT.to_owned(),
        checkpoint: String::from_utf8_lossy(&view.checkpoint().note).into_owned(),
        operator: BundledEntry::from(&operator),
        registrant: BundledEntry::from(&opened.registrant),
        registration: BundledEntry::from(&opened.registration),
        disclosure,
    };
    Ok((bundle, opened.body))
}
