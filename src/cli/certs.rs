//! `register`, `grant`, `revoke`, `open` and `disclose`: the commands of a party holding a key.

use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde_json::json;

use super::{DiscloseArgs, Global, GrantArgs, OpenArgs, RegisterArgs, RevokeArgs, output};
use crate::cert::vc::envelope;
use crate::client::Client;
use crate::client::ops::{self, Actor, InvalidCertificate};

/// What a signed command needs: keys, an authenticated client, the log key and the state directory.
pub(super) struct Session {
    pub(super) keys: vault::PartyKeys,
    pub(super) client: Client,
    pub(super) log_key: String,
    home: PathBuf,
}

impl Session {
    pub(super) fn new(g: &Global) -> anyhow::Result<Session> {
        let keys = g.keys()?;
        let client = g.client()?.with_identity(keys.id(), keys.signing_key());
        Ok(Session {
            log_key: g.log_key()?,
            home: g.home()?,
            keys,
            client,
        })
    }

    pub(super) fn actor(&self) -> Actor<'_> {
        Actor {
            client: &self.client,
            keys: &self.keys,
            log_key: &self.log_key,
            home: &self.home,
        }
    }
}

/// The certificate files a `register` argument names: the file, or every `*.json` (certificates and credentials)
/// and `*.jwt` (VC-JOSE credentials) in the directory.
fn certificate_files(path: &Path) -> anyhow::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_owned()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).with_context(|| format!("reading {}", path.display()))? {
        let file = entry?.path();
        if file.extension().is_some_and(|e| e == "json" || e == "jwt") && file.is_file() {
            files.push(file);
        }
    }
    files.sort();
    if files.is_empty() {
        anyhow::bail!("no *.json or *.jwt files in {}", path.display());
    }
    Ok(files)
}

pub(super) async fn register(g: &Global, args: RegisterArgs) -> anyhow::Result<()> {
    let to = args
        .to
        .iter()
        .map(|p| ops::parse_party(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let files = certificate_files(&args.cert)?;
    // Validate everything first, so a bad file in a directory stops the run before anything is sent.
    let mut bodies = Vec::with_capacity(files.len());
    let mut invalid = 0usize;
    for file in &files {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        let body = if envelope::looks_like_jws(&bytes) {
            // A VC-JOSE credential: the body is its payload, with the token kept (docs/formats.md).
            match std::str::from_utf8(&bytes)
                .map_err(|_| Vec::new())
                .and_then(envelope::envelop)
            {
                Ok(body) => body,
                Err(violations) => {
                    for v in &violations {
                        output::line(format_args!("{}: {v}", file.display()))?;
                    }
                    if violations.is_empty() {
                        output::line(format_args!(
                            "{}: (body): not a compact JWS (not UTF-8) [jws.format]",
                            file.display()
                        ))?;
                    }
                    invalid += 1;
                    continue;
                }
            }
        } else {
            match serde_json::from_slice(&bytes) {
                Ok(body) => body,
                Err(e) => {
                    output::line(format_args!(
                        "{}: (body): not valid JSON (line {}, column {}) [json.syntax]",
                        file.display(),
                        e.line(),
                        e.column()
                    ))?;
                    invalid += 1;
                    continue;
                }
            }
        };
        if let Err(InvalidCertificate(violations)) = ops::check_certificate(&body) {
            for v in &violations {
                output::line(format_args!("{}: {v}", file.display()))?;
            }
            invalid += 1;
        } else if envelope::token_of(&body).is_some() {
            // Said before anything is sent, so an issuer that cannot be checked is never passed over.
            output::err_line(format_args!(
                "{}: {}",
                file.display(),
                ops::issuer_signature(&body, None)
            ));
        }
        bodies.push((file, body));
    }
    if invalid > 0 {
        anyhow::bail!("{invalid} certificate file(s) invalid (violations above); nothing was sent");
    }
    let session = Session::new(g)?;
    let progress = if files.len() > 1 && std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(files.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut results = Vec::with_capacity(bodies.len());
    for (file, body) in &bodies {
        let registered = ops::register(&session.actor(), body, &to)
            .await
            .with_context(|| format!("registering {}", file.display()))?;
        progress.inc(1);
        if !g.json {
            progress.suspend(|| {
                output::line(format_args!(
                    "{}: registered {} at log index {}",
                    file.display(),
                    registered.cert_id,
                    registered.index
                ))
            })?;
        }
        results.push(registered);
    }
    progress.finish_and_clear();
    let receipts = if g.json || args.receipt_out.is_some() {
        fetch_receipts(
            g,
            &session,
            &results,
            args.receipt_out.as_deref(),
            args.cert.is_dir(),
        )
        .await?
    } else {
        Vec::new()
    };
    if g.json {
        let with_receipts: Vec<serde_json::Value> = results
            .iter()
            .zip(receipts.iter().map(Some).chain(std::iter::repeat(None)))
            .map(|(r, receipt)| json!({"cert_id": r.cert_id, "index": r.index, "receipt": receipt.cloned().flatten()}))
            .collect();
        match with_receipts.as_slice() {
            [one] if !args.cert.is_dir() => output::line(format_args!("{one}"))?,
            many => output::line(serde_json::Value::from(many.to_vec()))?,
        }
    }
    Ok(())
}

/// Fetches and verifies each registration's receipt (waiting for a published, cosigned checkpoint that covers
/// it) and writes them to `out`. Without `out`, a receipt that cannot be had is reported, not fatal: the
/// registrations are durable, and `tradeledger receipt CERT_ID` fetches it later.
async fn fetch_receipts(
    g: &Global,
    session: &Session,
    results: &[ops::Registration],
    out: Option<&Path>,
    many: bool,
) -> anyhow::Result<Vec<Option<String>>> {
    if many && let Some(dir) = out {
        ledger::durable::create_private_dir(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut receipts = Vec::with_capacity(results.len());
    for r in results {
        match ops::fetch_receipt(&session.client, &session.log_key, r.index).await {
            Ok((text, _)) => {
                if let Some(out) = out {
                    let path = if many {
                        out.join(format!("{}.tlog-proof", r.cert_id))
                    } else {
                        out.to_owned()
                    };
                    ledger::durable::write_atomic(&path, text.as_bytes())
                        .with_context(|| format!("writing {}", path.display()))?;
                    if !g.json {
                        output::line(format_args!(
                            "receipt for {}: {}",
                            r.cert_id,
                            path.display()
                        ))?;
                    }
                }
                receipts.push(Some(text));
            }
            Err(e) if out.is_none() => {
                output::err_line(format_args!(
                    "warning: no receipt yet for {} ({e:#}); fetch it later with `tradeledger receipt {}`",
                    r.cert_id, r.cert_id
                ));
                receipts.push(None);
            }
            Err(e) => return Err(e.context(format!("fetching the receipt for {}", r.cert_id))),
        }
    }
    Ok(receipts)
}

pub(super) async fn grant(g: &Global, args: GrantArgs) -> anyhow::Result<()> {
    let cert_id = ops::parse_cert_id(&args.cert_id)?;
    let to = ops::parse_party(&args.to)?;
    let session = Session::new(g)?;
    let index = ops::grant(&session.actor(), &cert_id, &to).await?;
    g.print(
        &json!({"cert_id": cert_id.to_string(), "party": to.to_string(), "index": index}),
        &format!("granted {to} access to {cert_id} (log index {index})"),
    )?;
    Ok(())
}

pub(super) async fn revoke(g: &Global, args: RevokeArgs) -> anyhow::Result<()> {
    let cert_id = ops::parse_cert_id(&args.cert_id)?;
    let from = ops::parse_party(&args.from)?;
    let session = Session::new(g)?;
    let index = ops::revoke(&session.actor(), &cert_id, &from).await?;
    g.print(
        &json!({"cert_id": cert_id.to_string(), "party": from.to_string(), "index": index}),
        &format!("revoked {from}'s access to {cert_id} (log index {index})"),
    )?;
    Ok(())
}

pub(super) async fn open(g: &Global, args: OpenArgs) -> anyhow::Result<()> {
    let cert_id = ops::parse_cert_id(&args.cert_id)?;
    let session = Session::new(g)?;
    let opened = ops::open(&session.actor(), &cert_id).await?;
    if let Some(out) = &args.out {
        // A plaintext body: mode 0600, and whole or absent after a crash.
        ledger::durable::write_atomic(out, &serde_json::to_vec_pretty(&opened.body)?)
            .with_context(|| format!("writing {}", out.display()))?;
        g.print(
            &json!({"cert_id": cert_id.to_string(), "registration_index": opened.registration.index,
                    "receipt_index": opened.receipt_index, "out": out,
                    "conforms": opened.conforms(), "violations": opened.violations}),
            &format!("verified and wrote {cert_id} to {}", out.display()),
        )?;
    } else if g.json {
        output::line(
            json!({"cert_id": cert_id.to_string(), "registration_index": opened.registration.index,
                   "receipt_index": opened.receipt_index, "body": opened.body,
                   "conforms": opened.conforms(), "violations": opened.violations,
                   "issuer_signature": opened.issuer_signature}),
        )?;
    } else {
        output::line(serde_json::to_string_pretty(&opened.body)?)?;
    }
    // On stderr, so stdout stays exactly the body; a native certificate has no issuer signature to speak of.
    if !g.json && crate::cert::is_credential(&opened.body) {
        output::err_line(format_args!("{cert_id}: {}", opened.issuer_signature));
    }
    if opened.issuer_signature.failed() {
        anyhow::bail!(
            "certificate {cert_id} is the one registered on the log, but {}; it was output exactly as registered",
            opened.issuer_signature
        );
    }
    if !opened.conforms() {
        let listed: Vec<String> = opened.violations.iter().map(ToString::to_string).collect();
        anyhow::bail!(
            "certificate {cert_id} is the one registered on the log, but its body does not conform to its \
             schema ({} violation(s): {}); it was output exactly as registered",
            listed.len(),
            listed.join("; ")
        );
    }
    Ok(())
}

pub(super) async fn disclose(g: &Global, args: DiscloseArgs) -> anyhow::Result<()> {
    if args.format == super::DiscloseFormat::SdJwt {
        return super::credentials::disclose_sd_jwt(g, args).await;
    }
    let cert_id = ops::parse_cert_id(&args.cert_id)?;
    let session = Session::new(g)?;
    let bundle = ops::disclose(&session.actor(), &cert_id, &args.fields).await?;
    let text = serde_json::to_string_pretty(&bundle)? + "\n";
    ledger::durable::write_atomic(&args.out, text.as_bytes())
        .with_context(|| format!("writing {}", args.out.display()))?;
    g.print(
        &json!({"cert_id": cert_id.to_string(), "out": args.out, "fields": args.fields}),
        &format!(
            "wrote a disclosure of {} field path(s) of {cert_id} to {}",
            args.fields.len(),
            args.out.display()
        ),
    )?;
    Ok(())
}
