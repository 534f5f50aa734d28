//! `verify` (offline) and `audit`: the commands of a party that holds no key.

use anyhow::Context as _;

use super::{AuditArgs, Global, VerifyArgs, output};
use crate::client::StaticTiles;
use crate::client::ops::{self, AuditReport, AuditState, Bundle, Continuity};

pub(super) fn verify(g: &Global, args: VerifyArgs) -> anyhow::Result<()> {
    let log_key = g.log_key()?;
    let text = std::fs::read(&args.bundle)
        .with_context(|| format!("reading {}", args.bundle.display()))?;
    if super::receipt::is_receipt(&text) {
        return super::receipt::verify(g, &text, &log_key);
    }
    if let Some(token) = super::credentials::as_token(&text) {
        return super::credentials::verify(g, token, &log_key);
    }
    let bundle: Bundle = serde_json::from_slice(&text).context("the bundle is malformed")?;
    let verified = ops::verify_bundle_under(&bundle, &log_key, g.policy()?.as_ref())?;
    if g.json {
        output::line(serde_json::to_value(&verified)?)?;
        return Ok(());
    }
    output::line(format_args!(
        "verified: certificate {} registered by {} at log index {} (checkpoint size {})",
        verified.cert_id,
        verified.registrant,
        verified.registration_index,
        verified.checkpoint_size
    ))?;
    for (pointer, value) in &verified.fields {
        output::line(format_args!("  {pointer} = {value}"))?;
    }
    Ok(())
}

pub(super) async fn audit(g: &Global, args: AuditArgs) -> anyhow::Result<()> {
    let log_key = g.log_key()?;
    let previous = args
        .state
        .as_deref()
        .map(AuditState::load)
        .transpose()?
        .flatten();
    let report = match &args.tiles {
        // A static tlog-tiles prefix (the bucket's, a mirror's): no server involved.
        Some(url) => {
            let tiles = StaticTiles::new(url)?;
            let tiles = match g.policy()? {
                Some(policy) => tiles.with_policy(policy),
                None => tiles,
            };
            ops::audit(&tiles, &log_key, previous.as_ref()).await?
        }
        None => ops::audit(&g.client()?, &log_key, previous.as_ref()).await?,
    };
    if g.json {
        output::line(serde_json::to_value(&report)?)?;
    } else {
        output::text_out(summary(&report))?;
    }
    if report.continuity == Some(Continuity::Forked) {
        anyhow::bail!(
            "audit found a fork: the log is not an extension of the one audited at size {} ({} problem(s))",
            report.previous_size.unwrap_or_default(),
            report.problems.len()
        );
    }
    if !report.problems.is_empty() {
        anyhow::bail!("audit found {} problem(s)", report.problems.len());
    }
    if let Some(path) = &args.state {
        AuditState {
            size: report.size,
            root: report.root.clone(),
        }
        .save(path)?;
    }
    Ok(())
}

/// The human summary of an audit.
pub(crate) fn summary(report: &AuditReport) -> String {
    // The verdict comes from the same findings as the problems listed below, so it cannot contradict them.
    let mut out = format!(
        "log size {} root {}\nverdict: {}\n",
        report.size,
        report.root,
        report.verdict()
    );
    out += "entries by kind:\n";
    for (kind, count) in &report.kinds {
        out += &format!("  {kind:<16} {count}\n");
    }
    out += &format!("parties ({}):\n", report.parties.len());
    for (party, role) in &report.parties {
        out += &format!("  {party:<24} {role}\n");
    }
    out += &format!("access receipts: {}\n", report.receipts.len());
    if report.problems.is_empty() {
        out += "problems: none\n";
    } else {
        out += &format!("problems ({}):\n", report.problems.len());
        for p in &report.problems {
            match p.index {
                Some(i) => out += &format!("  entry {i}: {}\n", p.message),
                None => out += &format!("  {}\n", p.message),
            }
        }
    }
    out
}
