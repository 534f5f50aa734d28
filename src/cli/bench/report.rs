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
        "  {}: {} ok of {} in {:.2} s = {:.0}/s, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms{}",
        phase.operation,
        phase.ok,
        phase.sent,
        phase.seconds,
        phase.per_second,
        phase.p50_ms,
        phase.p99_ms,
        phase.max_ms,
        errors(phase)
    )
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
    output::line("")?;
    output::line(format_args!(
        "| operation                            |  count |   ops/s |      p50 |      p99 |      max | errors | CPU µs/req (this process) |"
    ))?;
    output::line(format_args!(
        "|--------------------------------------|-------:|--------:|---------:|---------:|---------:|-------:|--------------------------:|"
    ))?;
    for p in &summary.phases {
        output::line(format_args!(
            "| {:<36} | {:>6} | {:>7.0} | {:>5.2} ms | {:>5.2} ms | {:>5.1} ms | {:>6} | {:>25.0} |",
            p.operation,
            p.ok,
            p.per_second,
            p.p50_ms,
            p.p99_ms,
            p.max_ms,
            p.sent - p.ok,
            p.process_cpu_us_per_request
        ))?;
    }
    Ok(())
}
