//! The demo's W3C Verifiable Credential steps: a credential in (the example `USMCACertificationOfOrigin`,
//! secured as VC-JOSE by the importer, registered and opened by customs with its issuer's signature verified),
//! and a certificate out (exported as VC-JOSE and disclosed as an SD-JWT VC, both verified offline).

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde_json::{Value, json};
use vault::CertId;

use super::{Narrator, Player};
use crate::client::ops;
use crate::credential::{LogBinding, sd_jwt, vc_jose};
use crate::jose::{did_jwk, jws};

/// The example credential the importer secures with its key and registers.
const CREDENTIAL: &str =
    include_str!("../../../docs/examples/credentials/usmca-certification-of-origin.json");

/// The parties these steps involve.
pub(super) struct Parties<'a> {
    pub(super) importer: &'a Player,
    pub(super) cbp: &'a Player,
    pub(super) auditor: &'a Player,
}

/// The importer secures the example credential as VC-JOSE with its enrolled key (issuer its did:jwk) and
/// registers it; customs opens it with the issuer's signature verified against the key on the log.
pub(super) async fn credential_in(
    n: &mut Narrator,
    p: &Parties<'_>,
    log_key: &str,
) -> anyhow::Result<()> {
    let key = p.importer.keys.signing_key();
    let mut credential: Value = serde_json::from_str(CREDENTIAL).context("embedded credential")?;
    credential["issuer"]["id"] = json!(did_jwk::encode(&key.verifying_key()));
    let mut header = serde_json::Map::new();
    header.insert("typ".into(), json!("vc+jwt"));
    header.insert(
        "kid".into(),
        json!(did_jwk::verification_method(&key.verifying_key())),
    );
    let token = jws::sign(header, &serde_json::to_vec(&credential)?, key);
    let body = crate::cert::vc::envelope::envelop(&token)
        .map_err(|v| anyhow::anyhow!("the demo credential: {}", crate::cert::render(&v)))?;
    let reg = ops::register(
        &p.importer.actor(log_key),
        &body,
        std::slice::from_ref(p.cbp.id()),
    )
    .await?;
    n.say(format!(
        "{} registered a USMCACertificationOfOrigin credential (VC-JOSE, {} bytes) for cbp: certificate {} at log index {}",
        p.importer.id(),
        token.len(),
        reg.cert_id,
        reg.index
    ))?;
    let cert_id = ops::parse_cert_id(&reg.cert_id)?;
    let opened = ops::open(&p.cbp.actor(log_key), &cert_id).await?;
    if !matches!(
        opened.issuer_signature,
        ops::IssuerSignature::Verified {
            enrolled: Some(true),
            issuer_key: true,
            ..
        }
    ) || !opened.conforms()
    {
        anyhow::bail!(
            "the demo credential did not open verified: {}",
            opened.issuer_signature
        );
    }
    let at = |pointer: &str| {
        opened
            .body
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("-")
            .to_owned()
    };
    n.say(format!(
        "cbp opened it: {}; {} good(s), the first {} under criterion {}",
        opened.issuer_signature,
        opened
            .body
            .pointer("/credentialSubject/goods")
            .and_then(Value::as_array)
            .map_or(0, Vec::len),
        at("/credentialSubject/goods/0/commodityCode"),
        at("/credentialSubject/goods/0/originCriterion"),
    ))?;
    Ok(())
}

/// The log binding of `cert_id` disclosing the native fields `choose` picks, with the body.
async fn binding(
    importer: &Player,
    log_key: &str,
    cert_id: &CertId,
    choose: impl FnOnce(&Value) -> anyhow::Result<Vec<String>>,
) -> anyhow::Result<(LogBinding, Value)> {
    let (bundle, body) = ops::disclose_chosen(&importer.actor(log_key), cert_id, choose).await?;
    let (receipt, _) =
        ops::fetch_receipt(&importer.client, log_key, bundle.registration.index).await?;
    Ok((LogBinding::new(bundle, receipt, log_key, None)?, body))
}

/// The importer exports its native USMCA certificate as a VC-JOSE credential and discloses two of its claims
/// as an SD-JWT VC; the auditor verifies both offline with the log key.
pub(super) async fn credential_out(
    n: &mut Narrator,
    p: &Parties<'_>,
    log_key: &str,
    cert_id: &CertId,
) -> anyhow::Result<()> {
    let key = p.importer.keys.signing_key();
    let (bound, body) = binding(p.importer, log_key, cert_id, |_| Ok(vec![String::new()])).await?;
    let token = vc_jose::export(&body, &bound, key)?;
    n.say(format!(
        "{} exported {cert_id} as a VC-JOSE credential ({} bytes) signed with its enrolled key, bound to log index {}",
        p.importer.id(),
        token.len(),
        bound.index
    ))?;
    let verified = vc_jose::verify(&token, log_key, None)?;
    n.say(format!(
        "{} verified the VC-JOSE {} offline: issued by {} with the key enrolled for it, content exactly the registered certificate's",
        p.auditor.id(),
        verified.credential_type,
        verified.registrant
    ))?;

    let issuer = did_jwk::encode(&key.verifying_key());
    let cert = cert_id.to_string();
    let fields = [
        "/credentialSubject/goods/0/commodityCode".to_owned(),
        "/credentialSubject/goods/0/originCriterion".to_owned(),
    ];
    let (bound, body) = binding(p.importer, log_key, cert_id, |body| {
        sd_jwt::native_fields(body, &issuer, &cert, &fields)
    })
    .await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let presentation = sd_jwt::present(&body, &fields, &bound, key, now)?;
    n.say(format!(
        "{} disclosed {} as an SD-JWT VC presentation",
        p.importer.id(),
        fields.join(" and ")
    ))?;
    let verified = sd_jwt::verify(&presentation, log_key, None)?;
    let shown: Vec<String> = verified
        .disclosed
        .iter()
        .map(|(pointer, value)| format!("{pointer} = {value}"))
        .collect();
    n.say(format!(
        "{} verified the SD-JWT offline: {}",
        p.auditor.id(),
        shown.join(", ")
    ))?;
    Ok(())
}
