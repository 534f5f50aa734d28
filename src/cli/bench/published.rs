//! Acknowledgment-to-published latency (issue 10): while a phase runs, checkpoints are polled (the servers'
//! `/checkpoint`, or the bucket's) and the first time each size is seen is noted; an acknowledged entry is
//! published when a checkpoint of a larger size is first seen. Sizes are read, not verified: this is timing,
//! and the audits verify the same checkpoints elsewhere.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often each checkpoint URL is read.
const POLL_EVERY: Duration = Duration::from_millis(20);
/// Longest wait after the phase for the last acknowledged entry to be published.
const SETTLE: Duration = Duration::from_secs(30);

/// Sizes seen, in the order first seen (strictly growing), with when.
type Seen = Arc<Mutex<Vec<(Instant, u64)>>>;

/// A running poller; [`Watch::finish`] stops it and measures.
pub(super) struct Watch {
    seen: Seen,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Watch {
    /// Starts polling each of `urls` (full checkpoint URLs).
    pub(super) fn start(http: &reqwest::Client, urls: &[String]) -> Watch {
        let seen: Seen = Arc::default();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let tasks = urls
            .iter()
            .map(|url| {
                let (http, url, seen, stopped) = (
                    http.clone(),
                    url.clone(),
                    Arc::clone(&seen),
                    stopped.clone(),
                );
                tokio::spawn(poll(http, url, seen, stopped))
            })
            .collect();
        Watch { seen, stop, tasks }
    }

    /// Waits (at most [`SETTLE`]) until every acknowledged index is covered, stops polling, and returns the
    /// p50 and p99 of acknowledgment-to-published in milliseconds, and how many were never seen published.
    pub(super) async fn finish(self, acks: &[(Instant, u64)]) -> (Option<f64>, Option<f64>, usize) {
        let needed = acks.iter().map(|&(_, index)| index + 1).max().unwrap_or(0);
        let deadline = Instant::now() + SETTLE;
        while largest(&self.seen) < needed && Instant::now() < deadline {
            tokio::time::sleep(POLL_EVERY).await;
        }
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
        let seen = self.seen.lock().map(|s| s.clone()).unwrap_or_default();
        let mut latencies = Vec::with_capacity(acks.len());
        let mut missing = 0;
        for &(acked, index) in acks {
            // The first checkpoint seen that covers the entry (sizes grow, so the first with size > index).
            match seen.iter().find(|&&(_, size)| size > index) {
                Some(&(at, _)) => latencies.push(at.saturating_duration_since(acked)),
                None => missing += 1,
            }
        }
        latencies.sort_unstable();
        let p = |q| (!latencies.is_empty()).then(|| super::load::percentile(&latencies, q));
        (p(50), p(99), missing)
    }
}

fn largest(seen: &Seen) -> u64 {
    seen.lock()
        .ok()
        .and_then(|s| s.last().map(|&(_, size)| size))
        .unwrap_or(0)
}

async fn poll(
    http: reqwest::Client,
    url: String,
    seen: Seen,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    while !*stopped.borrow() {
        if let Some(size) = checkpoint_size(&http, &url).await {
            let now = Instant::now();
            if let Ok(mut seen) = seen.lock()
                && seen.last().is_none_or(|&(_, last)| size > last)
            {
                seen.push((now, size));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL_EVERY) => {}
            _ = stopped.changed() => {}
        }
    }
}

/// The tree size of the checkpoint at `url` (its second line, C2SP tlog-checkpoint), if it can be read.
async fn checkpoint_size(http: &reqwest::Client, url: &str) -> Option<u64> {
    let response = http.get(url).send().await.ok()?.error_for_status().ok()?;
    let text = response.text().await.ok()?;
    text.lines().nth(1)?.parse().ok()
}
