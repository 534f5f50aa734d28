//! Helpers shared by the ledger benchmarks: a signer, entries, a latency table, disk usage.
#![allow(dead_code, clippy::unwrap_used, clippy::cast_possible_truncation)]

use std::path::Path;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use ledger::NoteSigner;

pub(crate) const ORIGIN: &str = "example.com/ledger-bench";

pub(crate) fn signer() -> NoteSigner {
    NoteSigner::from_key(ORIGIN, SigningKey::from_bytes(&[3u8; 32])).unwrap()
}

/// A 200-byte entry, distinct per (thread, n).
pub(crate) fn entry(thread: u64, n: u64) -> Vec<u8> {
    let mut e = vec![0x5a; 200];
    e[..8].copy_from_slice(&thread.to_be_bytes());
    e[8..16].copy_from_slice(&n.to_be_bytes());
    e
}

pub(crate) fn header() {
    println!(
        "{:<44} {:>10} {:>12} {:>12} {:>12}",
        "operation", "count", "ops/s", "p50", "p99"
    );
}

/// Print one table row from per-operation latencies and the wall time they took together.
pub(crate) fn row(op: &str, mut lat: Vec<Duration>, wall: Duration, count: u64) {
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    let rate = count as f64 / wall.as_secs_f64();
    println!(
        "{op:<44} {count:>10} {rate:>12.0} {:>12.1?} {:>12.1?}",
        pct(0.5),
        pct(0.99)
    );
}

/// Bytes allocated on disk under `dir` (st_blocks, so sparse or preallocated files count as they really are).
pub(crate) fn disk_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        let m = e.metadata().unwrap();
        total += if m.is_dir() {
            disk_bytes(&e.path())
        } else {
            m.blocks() * 512
        };
    }
    total
}

/// Bench data lives under target-adjacent temp space on the same disk as the code (not tmpfs).
pub(crate) fn tempdir() -> tempfile::TempDir {
    let base = std::env::var("LEDGER_BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into());
    tempfile::tempdir_in(base).unwrap()
}
