//! `accesses`, `rotate`, `rewrap` and `purge`: a certificate's access trail, party key rotation, re-wrapping
//! grants for a rotated key, and purging a body.

use anyhow::Context as _;
use serde_json::json;
use vault::{PartyKeys, PartyPublic};

use super::certs::Session;
use super::{AccessesArgs, Global, PurgeArgs, RewrapArgs, RotateArgs, output};
use crate::client::ops::{self, AccessTrail, RotationRequest};

pub(super) async fn accesses(g: &Global, args: AccessesArgs) -> anyhow::Result<()> {
    let cert_id = ops::parse_cert_id(&args.cert_id)?;
    // No key is needed to see the count; with the registrant's key the readers are named.
    let keys = match &g.key {
        Some(_) => Some(g.keys()?),
        None => None,
    };
    let client = match &keys {
        Some(keys) => g.client()?.with_identity(keys.id(), keys.signing_key()),
        None => g.client()?,
    };
    let trail = ops::accesses(&client, keys.as_ref(), &g.log_key()?, &g.home()?, &cert_id).await?;
    if g.json {
        output::line(serde_json::to_value(&trail)?)?;
        return Ok(());
    }
    match trail {
        AccessTrail::Outsider { count, .. } => output::line(format_args!("{count}"))?,
        AccessTrail::Registrant { accesses, .. } => {
            if accesses.is_empty() {
                output::line(format_args!("no accesses to {cert_id}"))?;
            }
            for access in accesses {
                let party = access
                    .party
                    .unwrap_or_else(|| format!("unknown reader (grant {})", access.grant));
                let revoked = if access.active {
                    ""
                } else {
                    " (grant since revoked)"
                };
                output::line(format_args!(
                    "{}  {party}{revoked}  [log index {}]",
                    access.time, access.index
                ))?;
            }
        }
    }
    Ok(())
}

pub(super) async fn rotate(g: &Global, args: RotateArgs) -> anyhow::Result<()> {
    let keys = g.keys()?;
    if let Some(path) = &args.request {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let request: RotationRequest = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a rotation request", path.display()))?;
        return submit(g, &keys, &request).await;
    }
    let new_path = args
        .new_key
        .as_ref()
        .context("pass --new-key NEW_KEY_FILE")?;
    let new = PartyKeys::load(new_path)
        .with_context(|| format!("loading the new key {}", new_path.display()))?
        .public();
    let request = ops::rotation_request(&keys, &new)?;
    if let Some(operator) = &args.operator_key {
        let operator = PartyKeys::load(operator)
            .with_context(|| format!("loading the operator key {}", operator.display()))?;
        return submit(g, &operator, &request).await;
    }
    let out = args.out.as_ref().context(
        "pass --operator-key OPERATOR_KEY, or --out REQUEST to hand the request to the operator",
    )?;
    let text = serde_json::to_string_pretty(&request)? + "\n";
    ledger::durable::write_atomic(out, text.as_bytes())
        .with_context(|| format!("writing {}", out.display()))?;
    g.print(
        &json!({"party": new.id.to_string(), "request": out}),
        &format!(
            "wrote {}'s signed rotation request to {}; the operator submits it with `rotate --key OPERATOR_KEY --request {}`",
            new.id,
            out.display(),
            out.display()
        ),
    )?;
    Ok(())
}

async fn submit(g: &Global, operator: &PartyKeys, request: &RotationRequest) -> anyhow::Result<()> {
    let client = g
        .client()?
        .with_identity(operator.id(), operator.signing_key());
    let index = ops::submit_rotation(&client, operator, request).await?;
    let party = PartyPublic::from_json(&request.new.to_string())?.id;
    g.print(
        &json!({"party": party.to_string(), "index": index}),
        &format!("rotated {party}'s keys (log index {index}); its old key no longer works"),
    )?;
    Ok(())
}

pub(super) async fn rewrap(g: &Global, args: RewrapArgs) -> anyhow::Result<()> {
    let party = ops::parse_party(&args.party)?;
    let certs = args
        .certs
        .iter()
        .map(|c| ops::parse_cert_id(c))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let session = Session::new(g)?;
    let done = ops::rewrap(&session.actor(), &party, &certs).await?;
    if g.json {
        output::line(json!({"party": party.to_string(), "rewrapped": done}))?;
        return Ok(());
    }
    for outcome in &done {
        output::line(format_args!(
            "re-wrapped {party}'s grant on {} (log indexes {} and {})",
            outcome.cert_id, outcome.grant_index, outcome.revocation_index
        ))?;
    }
    output::line(format_args!(
        "{} grant(s) re-wrapped for {party}'s current key",
        done.len()
    ))?;
    Ok(())
}

pub(super) async fn purge(g: &Global, args: PurgeArgs) -> anyhow::Result<()> {
    let cert_id = ops::parse_cert_id(&args.cert_id)?;
    let session = Session::new(g)?;
    let index = ops::purge(&session.actor(), &cert_id).await?;
    g.print(
        &json!({"cert_id": cert_id.to_string(), "index": index}),
        &format!("purged {cert_id} (log index {index}); its registration stays on the log"),
    )?;
    Ok(())
}
