//! Two writer processes on one PostgreSQL log, one killed with SIGKILL at a random moment: the other goes
//! on, and afterwards every entry either acknowledged is in the log at its index, the tree verifies, and
//! every checkpoint either signed is byte-identical to every other of its size and consistent with the log.
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "support/store_contract.rs"]
mod contract;
#[path = "../../vault/tests/support/pg_cluster.rs"]
mod pg_cluster;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use contract::{ORIGIN, signed, signer};
use ledger::{Log, PgStore, verify_consistency};

const DB_VAR: &str = "LEDGER_PG_CRASH_DB";

/// What a child reported so far (the last line may be cut by the kill: lines that do not parse are skipped).
#[derive(Default)]
struct Report {
    acked: Vec<(u64, Vec<u8>)>,
    checkpoints: Vec<Vec<u8>>,
}

struct Writer {
    child: Child,
    report: Arc<Mutex<Report>>,
    reader: JoinHandle<()>,
}

impl Writer {
    fn spawn(db: &str) -> Writer {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "pg_crash_child",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DB_VAR, db)
            .stdout(Stdio::piped())
            // Inherited: a child that fails (the database unreachable, a panic) says why in the test's output.
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let report: Arc<Mutex<Report>> = Arc::default();
        let shared = Arc::clone(&report);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut parts = line.split(' ');
                let mut report = shared.lock().unwrap();
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
        });
        Writer {
            child,
            report,
            reader,
        }
    }

    fn acked(&self) -> usize {
        self.report.lock().unwrap().acked.len()
    }

    /// Fails the test if the child already exited: it was never killed, so it failed on its own.
    fn assert_alive(&mut self) {
        if let Some(status) = self.child.try_wait().unwrap() {
            panic!(
                "a writer exited by itself ({status}) before it was killed; its stderr is above"
            );
        }
    }

    /// SIGKILL, then everything it reported.
    fn kill(mut self) -> Report {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.reader.join().unwrap();
        std::mem::take(&mut *self.report.lock().unwrap())
    }
}

#[test]
fn a_killed_writer_loses_nothing_and_the_other_goes_on() {
    let db = pg_cluster::fresh_database();
    let rounds: u64 = std::env::var("LEDGER_PG_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(4);
    let seed = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let mut acked: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    // Every checkpoint signed by any writer, by size: one size must always mean the same bytes.
    let mut notes: BTreeMap<u64, Vec<u8>> = BTreeMap::new();
    for round in 0..rounds {
        let (mut victim, mut survivor) = (Writer::spawn(&db), Writer::spawn(&db));
        // A liveness bound, not a speed target: under load 11 a start once took more than 30 s here.
        let deadline = Instant::now() + Duration::from_secs(90);
        while victim.acked() == 0 || survivor.acked() == 0 {
            victim.assert_alive();
            survivor.assert_alive();
            assert!(Instant::now() < deadline, "a writer never acknowledged");
            std::thread::sleep(Duration::from_millis(10));
        }
        let jitter = u64::from(seed.wrapping_mul(u32::try_from(round + 1).unwrap()) % 400);
        std::thread::sleep(Duration::from_millis(100 + jitter));
        let victim = victim.kill();
        let before = survivor.acked();
        let deadline = Instant::now() + Duration::from_secs(10);
        while survivor.acked() < before + 50 {
            survivor.assert_alive();
            assert!(
                Instant::now() < deadline,
                "round {round}: the other writer stopped after the kill"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let survivor = survivor.kill();
        for report in [victim, survivor] {
            for (index, bytes) in report.acked {
                let old = acked.insert(index, bytes.clone());
                assert!(
                    old.is_none_or(|old| old == bytes),
                    "index {index} acknowledged twice"
                );
            }
            for note in report.checkpoints {
                let size = signed(&note).0;
                let known = notes.entry(size).or_insert_with(|| note.clone());
                assert_eq!(*known, note, "two checkpoints of size {size}");
            }
        }
        let log = Log::open(PgStore::connect(&db, 4).unwrap(), signer(), ORIGIN).unwrap();
        for (index, bytes) in &acked {
            assert_eq!(
                &log.entry(*index).unwrap(),
                bytes,
                "round {round}: entry {index}"
            );
        }
        log.check_integrity().unwrap();
        let (size, root) = signed(&log.checkpoint());
        if let Some(known) = notes.get(&size) {
            assert_eq!(*known, log.checkpoint(), "reopened at {size}: another note");
        }
        for note in notes.values() {
            let (old, old_root) = signed(note);
            assert!(
                old <= size,
                "round {round}: checkpoint {old} beyond the log"
            );
            if old > 0 {
                let proof = log.consistency_proof(old, size).unwrap();
                verify_consistency(old, size, &proof, &old_root, &root).unwrap();
            }
        }
        eprintln!(
            "round {round}: size {size}, {} acknowledged, {} checkpoints",
            acked.len(),
            notes.len()
        );
        log.close().unwrap();
    }
}

/// The child side: append from four threads forever, reporting acknowledgements and checkpoints.
#[test]
#[ignore = "run by a_killed_writer_loses_nothing_and_the_other_goes_on as a child process"]
fn pg_crash_child() {
    let Ok(db) = std::env::var(DB_VAR) else {
        return;
    };
    let log = Arc::new(Log::open(PgStore::connect(&db, 4).unwrap(), signer(), ORIGIN).unwrap());
    let pid = std::process::id();
    for t in 0..4u32 {
        let log = Arc::clone(&log);
        std::thread::spawn(move || {
            for n in 0u64.. {
                let bytes = format!("pid {pid} thread {t} entry {n}");
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
