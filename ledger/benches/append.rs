//! Durable appends per second with group commit (1, 16, 256 concurrent appenders, 200-byte entries), bytes on
//! disk per entry, and reopen time. Run: `cargo bench -p ledger --bench append`.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{ORIGIN, disk_bytes, entry, header, row, signer, tempdir};
use ledger::{FsStore, Log};

/// How long each concurrency level runs (env LEDGER_BENCH_SECS, default 4).
fn run_for() -> Duration {
    let secs = std::env::var("LEDGER_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    Duration::from_secs(secs)
}

fn main() {
    header();
    for threads in [1u64, 16, 256] {
        let dir = tempdir();
        let log =
            Arc::new(Log::open(FsStore::open(dir.path()).unwrap(), signer(), ORIGIN).unwrap());
        let deadline = Instant::now() + run_for();
        let start = Instant::now();
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    let mut lat = Vec::new();
                    let mut n = 0;
                    while Instant::now() < deadline {
                        let t0 = Instant::now();
                        log.append(entry(t, n)).unwrap();
                        lat.push(t0.elapsed());
                        n += 1;
                    }
                    lat
                })
            })
            .collect();
        let lat: Vec<Duration> = workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        let wall = start.elapsed();
        let count = lat.len() as u64;
        row(
            &format!("durable append, {threads} threads"),
            lat,
            wall,
            count,
        );
        Arc::into_inner(log).unwrap().close().unwrap();
        if threads == 256 {
            report_disk_and_reopen(dir.path(), count);
        }
    }
    let dir = tempdir();
    let log = Log::open(FsStore::open(dir.path()).unwrap(), signer(), ORIGIN).unwrap();
    let (mut lat, start, mut count) = (Vec::new(), Instant::now(), 0);
    while start.elapsed() < run_for() {
        let batch: Vec<Vec<u8>> = (0..1000).map(|n| entry(0, count + n)).collect();
        let t0 = Instant::now();
        log.append_batch(batch).unwrap();
        lat.push(t0.elapsed());
        count += 1000;
    }
    row(
        "durable append_batch(1000), 1 thread (entries)",
        lat,
        start.elapsed(),
        count,
    );
    log.close().unwrap();
    report_disk_and_reopen(dir.path(), count);
}

fn report_disk_and_reopen(dir: &std::path::Path, entries: u64) {
    let bytes = disk_bytes(dir);
    println!(
        "  on disk: {bytes} bytes for {entries} entries of 200 bytes = {:.1} bytes/entry ({:.2}x raw)",
        bytes as f64 / entries as f64,
        bytes as f64 / (entries as f64 * 200.0)
    );
    let t0 = Instant::now();
    let log = Log::open(FsStore::open(dir).unwrap(), signer(), ORIGIN).unwrap();
    println!("  reopen: {:?} for {} entries", t0.elapsed(), log.size());
}
