//! Inclusion and consistency proof latency (p50/p99) at 1M and, with LEDGER_BENCH_MAX=10000000, 10M
//! entries; bytes on disk and reopen time at each size. Run: `cargo bench -p ledger --bench proofs`.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::time::{Duration, Instant};

use common::{ORIGIN, disk_bytes, entry, header, row, signer, tempdir};
use ledger::{FsStore, Log};

const SAMPLES: u64 = 20_000;
const BUILD_BATCH: u64 = 200_000;

/// A xorshift generator for random indices and sizes.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn main() {
    let max: u64 = std::env::var("LEDGER_BENCH_MAX")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempdir();
    let mut log = Log::open(FsStore::open(dir.path()).unwrap(), signer(), ORIGIN).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    header();
    for target in [1_000_000u64, 10_000_000].into_iter().filter(|t| *t <= max) {
        let t0 = Instant::now();
        while log.size() < target {
            let from = log.size();
            let n = BUILD_BATCH.min(target - from);
            log.append_batch((from..from + n).map(|i| entry(0, i)).collect())
                .unwrap();
        }
        println!(
            "  built {target} entries in {:?} (append_batch of {BUILD_BATCH})",
            t0.elapsed()
        );
        log.close().unwrap();
        let bytes = disk_bytes(dir.path());
        println!(
            "  on disk: {:.1} bytes/entry ({:.2}x raw 200-byte entries)",
            bytes as f64 / target as f64,
            bytes as f64 / (target as f64 * 200.0)
        );
        let t0 = Instant::now();
        log = Log::open(FsStore::open(dir.path()).unwrap(), signer(), ORIGIN).unwrap();
        println!("  reopen at {target}: {:?}", t0.elapsed());

        let size = log.size();
        let mut lat = Vec::new();
        let start = Instant::now();
        for _ in 0..SAMPLES {
            let index = rng.below(size);
            let t = Instant::now();
            std::hint::black_box(log.inclusion_proof(index, size).unwrap());
            lat.push(t.elapsed());
        }
        row(
            &format!("inclusion proof, random leaf, size {size}"),
            lat,
            start.elapsed(),
            SAMPLES,
        );
        let mut lat: Vec<Duration> = Vec::new();
        let start = Instant::now();
        for _ in 0..SAMPLES {
            let old = 1 + rng.below(size - 1);
            let t = Instant::now();
            std::hint::black_box(log.consistency_proof(old, size).unwrap());
            lat.push(t.elapsed());
        }
        row(
            &format!("consistency proof, random old, size {size}"),
            lat,
            start.elapsed(),
            SAMPLES,
        );
    }
}
