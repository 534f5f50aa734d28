//! Prometheus text exposition of the service's counters and latency histograms, and the process CPU time
//! that `/metrics` reports and `tradeledger bench` reads back.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// A latency histogram with fixed buckets.
#[derive(Default)]
pub struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation.
    pub fn observe(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            if secs <= *bound {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (bound, bucket) in BUCKETS.iter().zip(&self.buckets) {
            let n = bucket.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {n}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {count}");
        let _ = writeln!(out, "{name}_sum{{{}}} {sum}", labels.trim_end_matches(','));
        let _ = writeln!(
            out,
            "{name}_count{{{}}} {count}",
            labels.trim_end_matches(',')
        );
    }
}

/// What the service counts.
#[derive(Default)]
pub struct Metrics {
    /// Requests answered, by outcome class.
    pub requests_ok: AtomicU64,
    /// Requests refused for a client error (4xx).
    pub requests_client_error: AtomicU64,
    /// Requests failed on our side (5xx).
    pub requests_server_error: AtomicU64,
    /// Certificates registered.
    pub registrations: AtomicU64,
    /// Envelopes released (each one an access receipt on the log).
    pub envelopes_released: AtomicU64,
    /// Log entries read back to apply to the registry (other frontends' entries, and the catch-up at start
    /// from the registry's watermark): shows that a start does not replay the log.
    pub registry_entries_read: AtomicU64,
    /// Latency of registrations.
    pub register_latency: Histogram,
    /// Latency of envelope releases.
    pub open_latency: Histogram,
    /// The bucket publisher's progress (`serve --bucket`).
    pub bucket: super::bucket_task::BucketMetrics,
}

impl Metrics {
    /// Renders every metric in the Prometheus text format (version 0.0.4).
    pub fn render(&self, log_size: u64) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str, value: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
            );
        };
        let _ = writeln!(
            out,
            "# HELP tradeledger_requests_total Requests answered, by status class."
        );
        let _ = writeln!(out, "# TYPE tradeledger_requests_total counter");
        for (class, value) in [
            ("2xx", &self.requests_ok),
            ("4xx", &self.requests_client_error),
            ("5xx", &self.requests_server_error),
        ] {
            let _ = writeln!(
                out,
                "tradeledger_requests_total{{class=\"{class}\"}} {}",
                value.load(Ordering::Relaxed)
            );
        }
        counter(
            &mut out,
            "tradeledger_registrations_total",
            "Certificates registered.",
            self.registrations.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "tradeledger_envelopes_released_total",
            "Envelopes released to grantees (each logged as an access receipt).",
            self.envelopes_released.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "tradeledger_registry_entries_read_total",
            "Log entries read back to apply to the registry (catch-up at start and after other frontends).",
            self.registry_entries_read.load(Ordering::Relaxed),
        );
        let _ = writeln!(
            out,
            "# HELP {PROCESS_CPU_SECONDS} Total user and system CPU time spent in seconds.\n# TYPE {PROCESS_CPU_SECONDS} counter\n{}",
            process_cpu_line(process_cpu())
        );
        let _ = writeln!(
            out,
            "# HELP tradeledger_log_size Entries in the log's latest checkpoint.\n# TYPE tradeledger_log_size gauge\ntradeledger_log_size {log_size}"
        );
        for (name, help, histogram) in [
            (
                "tradeledger_register_seconds",
                "Latency of certificate registrations.",
                &self.register_latency,
            ),
            (
                "tradeledger_open_seconds",
                "Latency of envelope releases.",
                &self.open_latency,
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
            histogram.render(&mut out, name, "");
        }
        self.bucket.render(&mut out);
        out
    }

    /// Counts an answered request by its status.
    pub fn count_status(&self, status: u16) {
        let counter = match status {
            500.. => &self.requests_server_error,
            400..=499 => &self.requests_client_error,
            _ => &self.requests_ok,
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// The Prometheus name of the process's CPU time (the client libraries' standard process metric).
pub const PROCESS_CPU_SECONDS: &str = "process_cpu_seconds_total";

/// User + system CPU time of this process so far (Linux `/proc/self/stat`, clock ticks of 10 ms); zero where
/// it cannot be read.
pub fn process_cpu() -> Duration {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return Duration::ZERO;
    };
    // Fields after the command name, which is in parentheses and may contain spaces.
    let Some((_, rest)) = stat.rsplit_once(')') else {
        return Duration::ZERO;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of stat; `rest` starts at field 3.
    Duration::from_millis(ticks(11).saturating_add(ticks(12)).saturating_mul(10))
}

/// The sample line of the CPU counter, e.g. `process_cpu_seconds_total 12.34`.
fn process_cpu_line(cpu: Duration) -> String {
    format!("{PROCESS_CPU_SECONDS} {}", cpu.as_secs_f64())
}

/// The CPU seconds in a `/metrics` text, if it has the sample line (comment lines and other metrics that
/// merely start with the same name are skipped).
pub fn parse_process_cpu(metrics: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        let value = line.strip_prefix(PROCESS_CPU_SECONDS)?.strip_prefix(' ')?;
        value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_cpu_line_round_trips_through_the_rendered_text() {
        let line = process_cpu_line(Duration::from_millis(12_340));
        assert_eq!(line, "process_cpu_seconds_total 12.34");
        assert_eq!(parse_process_cpu(&line), Some(12.34));
        let rendered = Metrics::default().render(7);
        assert!(rendered.contains("# TYPE process_cpu_seconds_total counter\n"));
        assert!(parse_process_cpu(&rendered).is_some());
    }

    #[test]
    fn the_cpu_parser_skips_lookalikes_and_garbage() {
        let text = "# HELP process_cpu_seconds_total x\nprocess_cpu_seconds_total_extra 9\n\
                    process_cpu_seconds_total{a=\"b\"} 3\nprocess_cpu_seconds_total 1.5\n";
        assert_eq!(parse_process_cpu(text), Some(1.5));
        assert_eq!(parse_process_cpu("process_cpu_seconds_total NaN"), None);
        assert_eq!(parse_process_cpu("process_cpu_seconds_total -1"), None);
        assert_eq!(parse_process_cpu(""), None);
    }
}
