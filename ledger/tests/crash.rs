//! Crash safety: a child process appends from several threads and is killed with SIGKILL at random points;
//! after every restart each acknowledged entry is present, the tree verifies, and the new checkpoint is
//! consistent with every checkpoint signed before the crash.
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use ed25519_dalek::SigningKey;
use ledger::{Checkpoint, FsStore, Log, NoteSigner, open_checkpoint, verify_consistency};

const ORIGIN: &str = "example.com/ledger-crash";
const DIR_VAR: &str = "LEDGER_CRASH_DIR";

fn signer() -> NoteSigner {
    NoteSigner::from_key(ORIGIN, SigningKey::from_bytes(&[9u8; 32])).unwrap()
}

/// What the child reported before it died.
#[derive(Default)]
struct Report {
    acked: Vec<(u64, Vec<u8>)>,
    checkpoints: Vec<Vec<u8>>,
}

/// Size and root a checkpoint note signs, after checking its signature.
fn signed(note: &[u8]) -> (u64, Vec<u8>) {
    let cp = open_checkpoint(note, ORIGIN, &signer().verifier()).unwrap();
    (cp.size, cp.root_hash.to_vec())
}

/// Size and root of a checkpoint's text. The child's many notes are parsed without checking signatures:
/// Ed25519 in a debug build would dominate the test's run time, and the point here is consistency.
fn unsigned(note: &[u8]) -> (u64, Vec<u8>) {
    let text = std::str::from_utf8(note).unwrap();
    let cp = Checkpoint::parse(&format!("{}\n", text.split_once("\n\n").unwrap().0)).unwrap();
    (cp.size, cp.root_hash.to_vec())
}

/// A small xorshift generator: the kill times only need to vary, not to be unpredictable.
struct Jitter(u64);

impl Jitter {
    fn next(&mut self, below: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % below
    }
}

fn run_child_until_killed(dir: &std::path::Path, delay: Duration) -> Report {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(DIR_VAR, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut report = Report::default();
        // The last line may be cut by the kill: lines that do not parse are ignored.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let mut parts = line.split(' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some("ack"), Some(i), Some(bytes)) => {
                    if let (Ok(i), Ok(bytes)) = (i.parse(), hex::decode(bytes)) {
                        report.acked.push((i, bytes));
                    }
                }
                (Some("cp"), Some(note), None) => {
                    if let Ok(note) = hex::decode(note) {
                        report.checkpoints.push(note);
                    }
                }
                _ => {}
            }
        }
        report
    });
    std::thread::sleep(delay);
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap()
}

#[test]
fn killed_appenders_lose_nothing_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let rounds: u64 = std::env::var("LEDGER_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let mut jitter = Jitter(u64::try_from(seed % u128::from(u64::MAX)).unwrap() | 1);
    let started = Instant::now();
    let mut acked: Vec<(u64, Vec<u8>)> = Vec::new();
    // Every checkpoint signed so far, by size (the same size must mean the same root).
    let mut signed_before: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    let mut last_recovered: Option<(u64, Vec<u8>)> = None;
    let mut total_acked_this_run = 0;
    for round in 0..rounds {
        let delay = Duration::from_millis(150 + jitter.next(500));
        let report = run_child_until_killed(dir.path(), delay);
        total_acked_this_run += report.acked.len();
        acked.extend(report.acked);
        let this_round: Vec<(u64, Vec<u8>)> =
            report.checkpoints.iter().map(|n| unsigned(n)).collect();
        for (size, root) in &this_round {
            let (size, root) = (*size, root.clone());
            let known = signed_before.entry(size).or_insert_with(|| root.clone());
            assert_eq!(
                *known, root,
                "two checkpoints of size {size} with different roots: a fork"
            );
        }

        let t0 = Instant::now();
        let log = Log::open(FsStore::open(dir.path()).unwrap(), signer(), ORIGIN).unwrap();
        let t_open = t0.elapsed();
        let size = log.size();
        for (index, bytes) in &acked {
            assert_eq!(
                &log.entry(*index).unwrap(),
                bytes,
                "round {round}: acknowledged entry {index}"
            );
        }
        let t_entries = t0.elapsed();
        log.check_integrity().unwrap();
        let t_integrity = t0.elapsed();
        let (new_size, new_root) = signed(&log.checkpoint());
        assert_eq!(new_size, size);
        // Checkpoints of earlier rounds were proven consistent with the tree recovered after their round, and
        // that tree is in `this_round_and_last`, so consistency with all of them follows by transitivity.
        let this_round_and_last = this_round.iter().cloned().chain(last_recovered.take());
        for (old_size, old_root) in this_round_and_last {
            let old_root = &old_root;
            assert!(
                old_size <= new_size,
                "round {round}: a signed checkpoint at {old_size} was lost"
            );
            if old_size > 0 {
                let proof = log.consistency_proof(old_size, new_size).unwrap();
                verify_consistency(old_size, new_size, &proof, old_root, &new_root).unwrap();
            }
        }
        signed_before.insert(new_size, new_root.clone());
        last_recovered = Some((new_size, new_root));
        eprintln!(
            "round {round}: size {new_size}, {} checkpoints; open {t_open:?}, entries {t_entries:?}, integrity {t_integrity:?}, all {:?}",
            signed_before.len(),
            t0.elapsed()
        );
        log.close().unwrap();
    }
    assert!(
        total_acked_this_run > 0,
        "the child never acknowledged an append"
    );
    eprintln!(
        "{rounds} crash rounds, {} acknowledged entries, {:?}",
        acked.len(),
        started.elapsed()
    );
}

/// The child side: append from several threads forever, reporting acknowledgements and checkpoints.
#[test]
#[ignore = "run by killed_appenders_lose_nothing_acknowledged as a child process"]
fn crash_child() {
    let Some(dir) = std::env::var_os(DIR_VAR) else {
        return;
    };
    let log = Arc::new(Log::open(FsStore::open(dir).unwrap(), signer(), ORIGIN).unwrap());
    let pid = std::process::id();
    for t in 0..4u32 {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for n in 0u64.. {
                let bytes = format!(
                    "pid {pid} thread {t} entry {n} {}",
                    "x".repeat(usize::try_from(n % 150).unwrap())
                );
                let index = log.append(bytes.clone().into_bytes()).unwrap();
                let mut out = std::io::stdout().lock();
                writeln!(out, "ack {index} {}", hex::encode(bytes)).unwrap();
                out.flush().unwrap();
            }
        });
    }
    let mut last = Vec::new();
    loop {
        let cp = log.checkpoint();
        if cp != last {
            let mut out = std::io::stdout().lock();
            writeln!(out, "cp {}", hex::encode(&cp)).unwrap();
            out.flush().unwrap();
            last = cp;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
