//! `export --format vc-jose`, `disclose --format sd-jwt`, and `verify` of what they write.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use serde_json::json;

use super::certs::Session;
use super::{DiscloseArgs, ExportArgs, Global, output};
use crate::client::ops;
use crate::credential::{LogBinding, sd_jwt, vc_jose};
use crate::jose::did_jwk;

/// The registration's binding: its bundle (disclosing the chosen native fields) and its receipt.
async fn binding(session: &Session, g: &Global, bundle: ops::Bundle) -> anyhow::Result<LogBinding> {
    let index = bundle.registration.index;
    let (receipt, _) = ops::fetch_receipt(&session.client, &session.log_key, index)
        .await
        .context("fetching the registration's receipt for the log binding")?;
    LogBinding::new(bundle, receipt, &session.log_key, g.policy()?.as_ref())
}

fn write_or_print(
    g: &Global,
    out: Option<&std::path::Path>,
    text: &str,
    what: &str,
    cert_id: &str,
) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            ledger::durable::write_atomic(path, format!("{text}\n").as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            g.print(
                &json!({"cert_id": cert_id, "out": path, "format": what}),
                &format!("wrote {what} of {cert_id} to {}", path.display()),
            )
        }
        None if g.json => output::line(json!({"cert_id": cert_id, "format": what, "token": text})),
        None => output::line(text),
    }
}

pub(super) async fn export(g: &Global, args: ExportArgs) -> anyhow::Result<()> {
    let cert_id = ops::parse_cert_id(&args.cert_id)?;
    let session = Session::new(g)?;
    // The whole body is disclosed in the binding: the verifier recomputes the credential from it.
    let (bundle, body) =
        ops::disclose_chosen(&session.actor(), &cert_id, |_| Ok(vec![String::new()])).await?;
    anyhow::ensure!(
        registrant_is_me(&session, &bundle)?,
        "only the registrant of {cert_id} can export it (the credential is signed with its enrolled key)"
    );
    if let Some(token) = vc_jose::registered_token(&body) {
        // Registered as its issuer's VC-JOSE token: that token is the credential, returned unchanged.
        return write_or_print(
            g,
            args.out.as_deref(),
            token,
            "the VC-JOSE credential as registered",
            &cert_id.to_string(),
        );
    }
    let binding = binding(&session, g, bundle).await?;
    let token = vc_jose::export(&body, &binding, session.keys.signing_key())?;
    write_or_print(
        g,
        args.out.as_deref(),
        &token,
        "a VC-JOSE credential",
        &cert_id.to_string(),
    )
}

fn registrant_is_me(session: &Session, bundle: &ops::Bundle) -> anyhow::Result<bool> {
    let facts = ops::verify_bundle(bundle, &session.log_key)?;
    Ok(facts.registrant == session.keys.id().as_str()
        && facts.registrant_key == session.keys.signing_key().verifying_key())
}

pub(super) async fn disclose_sd_jwt(g: &Global, args: DiscloseArgs) -> anyhow::Result<()> {
    let cert_id = ops::parse_cert_id(&args.cert_id)?;
    let session = Session::new(g)?;
    let issuer = did_jwk::encode(&session.keys.signing_key().verifying_key());
    let cert = cert_id.to_string();
    let (bundle, body) = ops::disclose_chosen(&session.actor(), &cert_id, |body| {
        sd_jwt::native_fields(body, &issuer, &cert, &args.fields)
    })
    .await?;
    anyhow::ensure!(
        registrant_is_me(&session, &bundle)?,
        "only the registrant of {cert_id} can disclose it as an SD-JWT (it is signed with its enrolled key)"
    );
    let binding = binding(&session, g, bundle).await?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let presentation = sd_jwt::present(
        &body,
        &args.fields,
        &binding,
        session.keys.signing_key(),
        now,
    )?;
    write_or_print(
        g,
        Some(&args.out),
        &presentation,
        "an SD-JWT presentation",
        &cert,
    )
}

/// The token in a file, when it holds a compact JWS or an SD-JWT rather than JSON.
pub(super) fn as_token(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    text.starts_with("eyJ").then_some(text)
}

pub(super) fn verify(g: &Global, token: &str, log_key: &str) -> anyhow::Result<()> {
    let policy = g.policy()?;
    if token.contains('~') {
        let verified = sd_jwt::verify(token, log_key, policy.as_ref())?;
        if g.json {
            return output::line(serde_json::to_value(&verified)?);
        }
        output::line(format_args!(
            "verified: SD-JWT VC ({}) of certificate {} issued by {} ({}), the key enrolled for it on the log; \
             registered at log index {} (checkpoint size {}, log {}); every disclosure referenced and backed \
             by the registered commitment",
            verified.vct,
            verified.cert_id,
            verified.registrant,
            verified.issuer,
            verified.registration_index,
            verified.checkpoint_size,
            verified.origin
        ))?;
        for (pointer, value) in &verified.disclosed {
            output::line(format_args!("  {pointer} = {value}"))?;
        }
        return Ok(());
    }
    let verified = vc_jose::verify(token, log_key, policy.as_ref())?;
    if g.json {
        return output::line(serde_json::to_value(&verified)?);
    }
    output::line(format_args!(
        "verified: VC-JOSE {} credential of certificate {} issued by {} ({}), the key enrolled for it on the log; \
         registered at log index {} (checkpoint size {}, log {}); its content is exactly the registered \
         certificate's (document commitment)",
        verified.credential_type,
        verified.cert_id,
        verified.registrant,
        verified.issuer,
        verified.registration_index,
        verified.checkpoint_size,
        verified.origin
    ))
}
