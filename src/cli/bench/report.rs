//! The benchmark's output: a table on stdout (as docs/performance.md shows it), or one JSON object.

use super::load::Phase;
use crate::cli::output;

/// Everything one `bench` invocation measured.
#[derive(Debug, serde::Serialize)]
pub(super) struct Summary {
    /// `embedded`, or the server's URL.
    pub(super) server: String,
    /// Certificate body, canonical JSON bytes.
    pub(super) body_bytes: usize,
    /// One registration request's JSON body, bytes.
    pub(super) request_bytes: usize,
    /// Registrant parties.
    pub(super) importers: usize,
    /// Single-core Ed25519 `verify_strict`s per second, measured before the phases (issue 12's yardstick).
    pub(super) ed25519_verifies_per_second: f64,
    /// `/proc/loadavg` before and after.
    pub(super) loadavg_start: Vec<f64>,
    /// After the last phase.
    pub(super) loadavg_end: Vec<f64>,
    /// The timed phases.
    pub(super) phases: Vec<Phase>,
}

/// One phase on one line, for progress output.
pub(super) fn line(phase: &Phase) -> String {
    format!(
        "  {}: {} ok of {} in {:.2} s = {:.0}/s{} ({:.3} of verifies/s), p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms, \
         server CPU {}/req{}{}",
        phase.operation,
        phase.ok,
        phase.sent,
        phase.seconds,
        phase.per_second,
        per_server(phase),
        phase.ops_per_verify,
        phase.p50_ms,
        phase.p99_ms,
        phase.max_ms,
        server_cpu(phase),
        published(phase),
        errors(phase)
    )
}

/// The server's CPU per request in µs and in verifies, or `?` if the server does not report its CPU.
fn server_cpu(phase: &Phase) -> String {
    match (
        phase.server_cpu_us_per_request,
        phase.server_cpu_verifies_per_request,
    ) {
        (Some(us), Some(verifies)) => format!("{us:.0} µs = {verifies:.1} verifies"),
        (Some(us), None) => format!("{us:.0} µs"),
        _ => "?".to_owned(),
    }
}

/// Each server's share of the rate, when there are several: " (A 812/s + B 799/s)".
fn per_server(phase: &Phase) -> String {
    if phase.per_server_per_second.len() < 2 {
        return String::new();
    }
    let rates: Vec<String> = phase
        .per_server_per_second
        .iter()
        .enumerate()
        .map(|(i, rate)| format!("#{} {rate:.0}/s", i + 1))
        .collect();
    format!(" ({})", rates.join(" + "))
}

/// Acknowledgment-to-published percentiles, if measured.
fn published(phase: &Phase) -> String {
    match (phase.published_p50_ms, phase.published_p99_ms) {
        (Some(p50), Some(p99)) => format!(
            ", ack-to-published p50 {p50:.0} ms, p99 {p99:.0} ms{}",
            if phase.unpublished > 0 {
                format!(" ({} never seen published)", phase.unpublished)
            } else {
                String::new()
            }
        ),
        _ => String::new(),
    }
}

fn errors(phase: &Phase) -> String {
    if phase.errors.is_empty() {
        return String::new();
    }
    let list: Vec<String> = phase
        .errors
        .iter()
        .map(|(code, n)| format!("{code}: {n}"))
        .collect();
    format!(" (errors: {})", list.join(", "))
}

/// Prints the summary as a Markdown table, or as JSON.
pub(super) fn print(json: bool, summary: &Summary) -> anyhow::Result<()> {
    if json {
        return output::line(serde_json::to_string(summary)?);
    }
    output::line(format_args!(
        "server: {}; body {} bytes, request {} bytes, 3 recipients, {} registrants; loadavg {:?} -> {:?}",
        summary.server,
        summary.body_bytes,
        summary.request_bytes,
        summary.importers,
        summary.loadavg_start,
        summary.loadavg_end
    ))?;
    let verifies = summary.ed25519_verifies_per_second;
    output::line(format_args!(
        "reference: Ed25519 verify_strict (ed25519-dalek), one core: {verifies:.0}/s = {:.1} µs each",
        if verifies > 0.0 { 1e6 / verifies } else { 0.0 }
    ))?;
    output::line("")?;
    output::line(format_args!(
        "| operation                            |  count |   ops/s | ops/s per server |      p50 |      p99 |      max | ack→published p50 | ack→published p99 | errors | CPU µs/req (this process) | server CPU µs/req | server CPU/req (verifies) | ops/s ÷ verifies/s |"
    ))?;
    output::line(format_args!(
        "|--------------------------------------|-------:|--------:|------------------|---------:|---------:|---------:|------------------:|------------------:|-------:|--------------------------:|------------------:|--------------------------:|-------------------:|"
    ))?;
    for p in &summary.phases {
        output::line(format_args!(
            "| {:<36} | {:>6} | {:>7.0} | {:<16} | {:>5.2} ms | {:>5.2} ms | {:>5.1} ms | {:>17} | {:>17} | {:>6} | {:>25.0} | {:>17} | {:>25} | {:>18.3} |",
            p.operation,
            p.ok,
            p.per_second,
            p.per_server_per_second
                .iter()
                .map(|r| format!("{r:.0}"))
                .collect::<Vec<_>>()
                .join(" + "),
            p.p50_ms,
            p.p99_ms,
            p.max_ms,
            p.published_p50_ms
                .map_or("-".to_owned(), |ms| format!("{ms:.0} ms")),
            p.published_p99_ms
                .map_or("-".to_owned(), |ms| format!("{ms:.0} ms")),
            p.sent - p.ok,
            p.process_cpu_us_per_request,
            p.server_cpu_us_per_request
                .map_or("?".to_owned(), |us| format!("{us:.0}")),
            p.server_cpu_verifies_per_request
                .map_or("?".to_owned(), |v| format!("{v:.2}")),
            p.ops_per_verify
        ))?;
    }
    Ok(())
}
