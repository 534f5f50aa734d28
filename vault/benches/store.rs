//! Vault store benchmark: durable puts/s (8.6 KB ciphertext + 3 envelopes of ~110 bytes) with 1, 16
//! and 64 writer threads, batch puts, get latency and bytes on disk per certificate, for the segment
//! layout (`FsVaultStore::open`) and the all-in-sled baseline (`open_inline_baseline`).
//!
//! Run: `cargo bench -p vault --bench store`. `VAULT_BENCH_SECS` sets seconds per put row (default 3).
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use vault::{CertId, FsVaultStore, NewCertificate, VaultStore};

const BODY_LEN: usize = 8600;
const ENVELOPE_LEN: usize = 110;
const PARTIES: [&str; 3] = ["importer-acme", "customs-cbp", "broker-fast"];

type Open = fn(&Path) -> Result<FsVaultStore, vault::StoreError>;

fn cert_id(thread: u32, n: u32) -> CertId {
    let mut id = [0u8; 16];
    id[..4].copy_from_slice(&thread.to_be_bytes());
    id[4..8].copy_from_slice(&n.to_be_bytes());
    id[8..].copy_from_slice(b"tlbench!");
    CertId(id)
}

/// Distinct, incompressible-looking bytes per seed (splitmix64 seeding an xorshift).
fn pseudo_random(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x = (x ^ (x >> 31)) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x.to_le_bytes()[0]
        })
        .collect()
}

fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[(sorted.len() - 1) * percent / 100]
}

/// CPU time (user + system) used by this process so far, from `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, r)| r)
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<u64>().ok())
        .sum();
    Duration::from_millis(ticks * 10)
}

/// Prints one table row; `cpu` is the process CPU time the row used.
fn row(op: &str, count: usize, elapsed: Duration, cpu: Duration, mut lat: Vec<Duration>) {
    lat.sort();
    println!(
        "| {op:<44} | {count:>7} | {:>9.0} | {:>9.1?} | {:>9.1?} | {:>9.0} |",
        count as f64 / elapsed.as_secs_f64(),
        percentile(&lat, 50),
        percentile(&lat, 99),
        cpu.as_secs_f64() * 1e6 / count.max(1) as f64,
    );
}

/// `threads` writers putting one certificate per call for `secs`; returns how many were stored.
fn bench_puts(store: &Arc<FsVaultStore>, label: &str, threads: u32, secs: f64) -> u32 {
    // Ids are unique across rows: thread numbers of a row start at its thread count times 1000.
    let first = threads * 1000;
    let (start, cpu) = (Instant::now(), cpu_time());
    let deadline = start + Duration::from_secs_f64(secs);
    let workers: Vec<_> = (0..threads)
        .map(|t| first + t)
        .map(|t| {
            let store = Arc::clone(store);
            std::thread::spawn(move || {
                let env: Vec<Vec<u8>> = (0..3)
                    .map(|i| pseudo_random(u64::from(t) << 8 | i, ENVELOPE_LEN))
                    .collect();
                let mut lat = Vec::new();
                let mut n = 0u32;
                while Instant::now() < deadline {
                    let body = pseudo_random(u64::from(t) << 32 | u64::from(n), BODY_LEN);
                    let envelopes: Vec<(&str, &[u8])> = PARTIES
                        .iter()
                        .zip(&env)
                        .map(|(p, e)| (*p, e.as_slice()))
                        .collect();
                    let begin = Instant::now();
                    store
                        .put_certificate(cert_id(t, n), &body, &envelopes)
                        .unwrap();
                    lat.push(begin.elapsed());
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
    let count = lat.len();
    let label = format!("{label}: put, {threads} writers");
    row(&label, count, start.elapsed(), cpu_time() - cpu, lat);
    u32::try_from(count).unwrap()
}

fn bench_batches(store: &FsVaultStore, label: &str, secs: f64) {
    let env: Vec<Vec<u8>> = (0..3)
        .map(|i| pseudo_random(900 + i, ENVELOPE_LEN))
        .collect();
    let envelopes: Vec<(&str, &[u8])> = PARTIES
        .iter()
        .zip(&env)
        .map(|(p, e)| (*p, e.as_slice()))
        .collect();
    let (start, cpu) = (Instant::now(), cpu_time());
    let (mut lat, mut n) = (Vec::new(), 0u32);
    while start.elapsed().as_secs_f64() < secs {
        let bodies: Vec<Vec<u8>> = (0..64)
            .map(|i| pseudo_random(u64::from(n + i) << 20, BODY_LEN))
            .collect();
        let batch: Vec<NewCertificate<'_>> = bodies
            .iter()
            .zip(n..)
            .map(|(body, id)| NewCertificate {
                cert_id: cert_id(9999, id),
                ciphertext: body,
                envelopes: &envelopes,
            })
            .collect();
        let begin = Instant::now();
        store.put_certificates(&batch).unwrap();
        lat.push(begin.elapsed());
        n += 64;
    }
    // Latency is per call of 64 certificates; the rate and CPU are per certificate.
    let (elapsed, cpu) = (start.elapsed(), cpu_time() - cpu);
    row(
        &format!("{label}: put_certificates x64, 1 writer"),
        n as usize,
        elapsed,
        cpu,
        lat,
    );
}

fn bench_gets(store: &FsVaultStore, label: &str, stored: u32) {
    let count = 20_000u32;
    let mut lat = Vec::with_capacity(count as usize);
    let (start, cpu) = (Instant::now(), cpu_time());
    for i in 0..count {
        let n = i.wrapping_mul(2_654_435_761) % stored.max(1);
        let begin = Instant::now();
        let body = store.get_ciphertext(cert_id(1000, n)).unwrap();
        let envelope = store.get_envelope(cert_id(1000, n), PARTIES[1]).unwrap();
        lat.push(begin.elapsed());
        assert!(body.is_some() && envelope.is_some());
    }
    let (elapsed, cpu) = (start.elapsed(), cpu_time() - cpu);
    let label = format!("{label}: get ciphertext + envelope");
    row(&label, count as usize, elapsed, cpu, lat);
}

/// Every file under `dir`, recursively.
fn files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .flat_map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() {
                files(&path)
            } else {
                vec![path]
            }
        })
        .collect()
}

fn bytes_on_disk(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    files(dir)
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().blocks() * 512)
        .sum()
}

/// Purges one certificate, reopens, and says whether its ciphertext can still be found on disk.
fn purged_bytes_found(dir: &Path, open: Open) -> bool {
    let body = {
        let store = open(dir).unwrap();
        let body = store.get_ciphertext(cert_id(1000, 0)).unwrap().unwrap();
        store.purge(cert_id(1000, 0)).unwrap();
        body
    };
    let needle = &body[..64];
    files(dir).iter().any(|f| {
        std::fs::read(f)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
    })
}

fn main() {
    let secs: f64 = std::env::var("VAULT_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    println!(
        "| {:<44} | {:>7} | {:>9} | {:>9} | {:>9} | {:>9} |",
        "operation", "count", "ops/s", "p50", "p99", "CPU µs/op"
    );
    println!(
        "|{:-<46}|{:-<9}|{:-<11}|{:-<11}|{:-<11}|{:-<11}|",
        "", "", "", "", "", ""
    );
    let layouts: [(&str, Open); 2] = [
        ("segments", FsVaultStore::open),
        ("sled-inline", FsVaultStore::open_inline_baseline),
    ];
    let mut notes = Vec::new();
    for (label, open) in layouts {
        let base = std::env::var_os("VAULT_BENCH_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(std::env::temp_dir);
        let tmp = tempfile::tempdir_in(base).unwrap();
        let store = Arc::new(open(tmp.path()).unwrap());
        let mut total = 0u64;
        let mut single = 0;
        for threads in [1, 16, 64] {
            let stored = bench_puts(&store, label, threads, secs);
            if threads == 1 {
                single = stored;
            }
            total += u64::from(stored);
        }
        bench_batches(&store, label, secs);
        bench_gets(&store, label, single);
        drop(store);
        // Everything the batch row stored too: count it from the batch writer's ids.
        let store = open(tmp.path()).unwrap();
        let batched = (0..)
            .step_by(64)
            .take_while(|n| store.get_ciphertext(cert_id(9999, *n)).unwrap().is_some())
            .count();
        drop(store);
        let certs = total + 64 * batched as u64;
        let disk = bytes_on_disk(tmp.path());
        let raw = (BODY_LEN + 3 * ENVELOPE_LEN) as u64;
        let found = purged_bytes_found(tmp.path(), open);
        notes.push(format!(
            "{label}: {certs} certificates, {disk} bytes on disk = {:.0} bytes/certificate ({:.2}x the {raw} raw bytes); purged ciphertext still on disk: {}",
            disk as f64 / certs as f64,
            disk as f64 / (certs * raw) as f64,
            if found { "YES" } else { "no" }
        ));
    }
    println!();
    for note in notes {
        println!("{note}");
    }
}
