//! `receipt` (fetch or refresh a receipt) and the receipt half of `verify` (offline).

use std::path::Path;

use anyhow::Context as _;
use serde_json::json;

use super::{Global, ReceiptArgs, output};
use crate::client::ops::{self, VerifiedReceipt};

/// Whether a file is a receipt (C2SP tlog-proof) rather than a disclosure bundle.
pub(super) fn is_receipt(bytes: &[u8]) -> bool {
    bytes.starts_with(format!("{}\n", ledger::TLOG_PROOF_HEADER).as_bytes())
}

/// One line saying what a verified receipt proves.
fn describe(v: &VerifiedReceipt) -> String {
    let about = match v.cert_ids.as_slice() {
        [] => String::new(),
        [one] => format!(" of certificate {one}"),
        many => format!(" of certificates {}", many.join(", ")),
    };
    let mut line = format!(
        "verified: entry {} ({}{about}, signed as {}) is in {} at tree size {}",
        v.index, v.kind, v.signer, v.origin, v.checkpoint_size
    );
    if let Some(newer) = v.extended_to {
        line += &format!(", and consistently in the newer checkpoint of size {newer}");
    }
    line
}

/// `verify RECEIPT`: offline, against `--policy` or the log key alone.
pub(super) fn verify(g: &Global, bytes: &[u8], log_key: &str) -> anyhow::Result<()> {
    let policy = g.policy()?;
    let verified = ops::verify_receipt(bytes, log_key, policy.as_ref())?;
    let trust = if policy.is_some() {
        "the witness policy"
    } else {
        "the log key alone (no --policy)"
    };
    let mut value = serde_json::to_value(&verified)?;
    value["trusted_by"] = json!(if policy.is_some() {
        "policy"
    } else {
        "log_key"
    });
    g.print(
        &value,
        &format!("{}; checked against {trust}", describe(&verified)),
    )?;
    Ok(())
}

fn write_or_print(
    g: &Global,
    out: Option<&Path>,
    text: &str,
    v: &VerifiedReceipt,
) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            ledger::durable::write_atomic(path, text.as_bytes())
                .with_context(|| format!("writing {}", path.display()))?;
            g.print(
                &json!({"index": v.index, "checkpoint_size": v.checkpoint_size,
                        "extended_to": v.extended_to, "out": path}),
                &format!("{}\nwrote {}", describe(v), path.display()),
            )?;
        }
        None if g.json => output::line(format_args!(
            "{}",
            json!({"index": v.index, "checkpoint_size": v.checkpoint_size,
                   "extended_to": v.extended_to, "receipt": text})
        ))?,
        None => output::text_out(format_args!("{text}"))?,
    }
    Ok(())
}

/// `receipt CERT_ID | --index N | --refresh OLD`.
pub(super) async fn receipt(g: &Global, args: ReceiptArgs) -> anyhow::Result<()> {
    let log_key = g.log_key()?;
    let client = g.client()?;
    if let Some(old) = &args.refresh {
        let bytes = std::fs::read(old).with_context(|| format!("reading {}", old.display()))?;
        let (text, verified) = ops::refresh_receipt(&client, &log_key, &bytes).await?;
        return write_or_print(g, args.out.as_deref(), &text, &verified);
    }
    let (index, cert_id) = match (args.index, &args.cert_id) {
        (Some(index), _) => (index, None),
        (None, Some(cert)) => {
            let cert_id = ops::parse_cert_id(cert)?;
            let info = client.get_certificate(&cert_id).await?;
            (info.registration_index, Some(cert_id.to_string()))
        }
        (None, None) => anyhow::bail!("give a CERT_ID, --index N or --refresh RECEIPT"),
    };
    let (text, verified) = ops::fetch_receipt(&client, &log_key, index).await?;
    if cert_id.is_some() && (verified.kind != "registration" || verified.cert_id != cert_id) {
        anyhow::bail!(
            "the server's receipt for entry {index} is not this certificate's registration"
        );
    }
    write_or_print(g, args.out.as_deref(), &text, &verified)
}
