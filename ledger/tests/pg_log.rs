//! The log in PostgreSQL, shared by several writers: the store contract's cases, concurrent sequencing by
//! two and four `Log`s, a writer's connection killed mid-commit, a writer paused mid-commit, a writer that
//! died, checkpoints that only move forward and are identical across writers, and a log of another key
//! refused. Each test binary runs its own throwaway cluster (vault/tests/support/pg_cluster.rs; a missing
//! PostgreSQL fails, never skips).
#![allow(clippy::unwrap_used, missing_docs)]

#[path = "support/store_contract.rs"]
mod contract;
#[path = "../../vault/tests/support/pg_cluster.rs"]
mod pg_cluster;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use contract::{ORIGIN, entry, signed, signer};
use ledger::{Batch, Error, Log, PgStore, Store, leaf_hash, verify_consistency, verify_inclusion};

/// A store on `db` with a pool of its own, as another frontend process would have.
fn store(db: &str) -> PgStore {
    PgStore::connect(db, 4).unwrap()
}

fn writer(db: &str) -> Log {
    Log::open(store(db), signer(), ORIGIN).unwrap()
}

#[test]
fn the_store_contract_holds() {
    let db = pg_cluster::fresh_database();
    contract::concurrent_appends_are_provable(&Arc::new(writer(&db)));
    let db = pg_cluster::fresh_database();
    contract::tiles_and_bundles_follow_c2sp_tlog_tiles(|| store(&db));
    contract::the_store_serves_raw_tiles_too(store(&pg_cluster::fresh_database()));
    let db = pg_cluster::fresh_database();
    contract::another_key_or_origin_is_refused(|| store(&db));
    let db = pg_cluster::fresh_database();
    contract::a_log_that_died_is_recovered(|| store(&db));
}

/// `writers` logs on one database, each appending from four threads (single entries and small batches);
/// a watcher checks the stored checkpoint only moves forward. Every index is assigned exactly once, none is
/// skipped, all writers agree on the size, root and checkpoint bytes, and every entry is provable in every
/// checkpoint signed after it. With `isolation`, the database's default transaction isolation is set first.
fn writers_share_one_log(writers: usize, isolation: Option<&str>) {
    let db = pg_cluster::fresh_database();
    if let Some(level) = isolation {
        let mut admin = postgres::Client::connect(&db, postgres::NoTls).unwrap();
        let name: String = admin
            .query_one("SELECT current_database()", &[])
            .unwrap()
            .get(0);
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {name} SET default_transaction_isolation = '{level}'"
            ))
            .unwrap();
    }
    let logs: Vec<Arc<Log>> = (0..writers).map(|_| Arc::new(writer(&db))).collect();
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (store, done) = (store(&db), Arc::clone(&done));
        std::thread::spawn(move || {
            let mut last = 0;
            while !done.load(Ordering::Acquire) {
                let size = signed(&store.read_checkpoint().unwrap().unwrap()).0;
                assert!(
                    size >= last,
                    "stored checkpoint went back from {last} to {size}"
                );
                last = size;
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };
    let mut threads = Vec::new();
    for (w, log) in logs.iter().enumerate() {
        for t in 0..4u64 {
            let (log, seen) = (Arc::clone(log), Arc::clone(&seen));
            let id = u64::try_from(w).unwrap() * 100_000 + t * 10_000;
            threads.push(std::thread::spawn(move || {
                let mut acked = Vec::new();
                for i in 0..40u64 {
                    let n = id + i * 10;
                    if i % 4 == 0 {
                        let batch: Vec<u64> = (n..n + 3).collect();
                        let range = log
                            .append_batch(batch.iter().map(|&k| entry(k)).collect())
                            .unwrap();
                        acked.extend(range.zip(batch));
                    } else {
                        acked.push((log.append(entry(n)).unwrap(), n));
                    }
                    if i % 10 == 9 {
                        seen.lock().unwrap().push(log.checkpoint());
                    }
                }
                acked
            }));
        }
    }
    let acked: BTreeMap<u64, u64> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    done.store(true, Ordering::Release);
    watcher.join().unwrap();
    let total = u64::try_from(writers).unwrap() * 4 * (30 + 10 * 3);
    assert_eq!(
        acked.len(),
        usize::try_from(total).unwrap(),
        "an index twice"
    );
    assert_eq!(
        acked.keys().copied().collect::<Vec<_>>(),
        (0..total).collect::<Vec<_>>()
    );
    // Every writer takes in the others' entries and signs the very same checkpoint.
    for log in &logs {
        assert_eq!(log.refresh().unwrap(), total);
    }
    let last = logs[0].checkpoint();
    for log in &logs {
        assert_eq!(log.checkpoint(), last, "checkpoints of one size differ");
    }
    let (size, root) = signed(&last);
    for (w, log) in logs.iter().enumerate() {
        for (&index, &n) in &acked {
            if usize::try_from(index).unwrap() % writers == w {
                assert_eq!(log.entry(index).unwrap(), entry(n));
            }
        }
        log.check_integrity().unwrap();
    }
    let log = &logs[0];
    for note in seen.lock().unwrap().iter() {
        let (old, old_root) = signed(note);
        verify_consistency(
            old,
            size,
            &log.consistency_proof(old, size).unwrap(),
            &old_root,
            &root,
        )
        .unwrap();
        for (&index, &n) in acked.range(..old) {
            let proof = log.inclusion_proof(index, old).unwrap();
            verify_inclusion(&leaf_hash(&entry(n)), index, old, &proof, &old_root).unwrap();
        }
    }
    for (&index, &n) in &acked {
        let proof = log.inclusion_proof(index, size).unwrap();
        verify_inclusion(&leaf_hash(&entry(n)), index, size, &proof, &root).unwrap();
    }
}

#[test]
fn two_writers_share_one_log() {
    writers_share_one_log(2, None);
}

/// A server whose default isolation is SERIALIZABLE would make the row lock fail with serialization errors:
/// the store runs its transactions at READ COMMITTED regardless.
#[test]
fn two_writers_share_one_log_on_a_serializable_database() {
    writers_share_one_log(2, Some("serializable"));
}

#[test]
fn four_writers_share_one_log() {
    writers_share_one_log(4, None);
}

/// Polls until a backend waits on a lock in a statement starting with `prefix`; returns its pid.
fn backend_running(admin: &mut postgres::Client, prefix: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let row = admin
            .query_opt(
                "SELECT pid FROM pg_stat_activity \
                 WHERE query LIKE $1 AND state = 'active' AND wait_event_type = 'Lock'",
                &[&format!("{prefix}%")],
            )
            .unwrap();
        if let Some(row) = row {
            return row.get(0);
        }
        assert!(Instant::now() < deadline, "no backend ran {prefix}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writer A's connection is killed after it locked the sequence and inserted its entries, before COMMIT
/// (its tile insert is held up by a table lock). A acknowledges nothing, writer B (waiting on the sequence
/// lock) goes on, nothing acknowledged is lost, and A itself commits again without being reopened.
#[test]
fn a_writer_killed_mid_commit_acknowledges_nothing() {
    let db = pg_cluster::fresh_database();
    let (a, b) = (Arc::new(writer(&db)), Arc::new(writer(&db)));
    a.append_batch((0..10).map(entry).collect()).unwrap();
    b.append_batch((10..20).map(entry).collect()).unwrap();
    let mut admin = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    let mut blocker = postgres::Client::connect(&db, postgres::NoTls).unwrap();
    let mut hold = blocker.transaction().unwrap();
    hold.batch_execute("LOCK TABLE ledger_tiles IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    // 300 entries complete tile 0/0, so A's commit must insert a level-1 hash: it waits on the lock.
    let doomed = {
        let a = Arc::clone(&a);
        std::thread::spawn(move || a.append_batch((1000..1300).map(entry).collect()))
    };
    let pid = backend_running(&mut admin, "INSERT INTO ledger_tiles");
    let waiting = {
        let b = Arc::clone(&b);
        std::thread::spawn(move || b.append(entry(20)))
    };
    backend_running(
        &mut admin,
        "SELECT size FROM ledger_sequence WHERE id FOR UPDATE",
    );
    let killed: bool = admin
        .query_one("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap()
        .get(0);
    assert!(killed);
    let failed = doomed.join().unwrap();
    assert!(matches!(failed, Err(Error::Database(_))), "{failed:?}");
    assert_eq!(
        waiting.join().unwrap().unwrap(),
        20,
        "B takes the next index"
    );
    hold.rollback().unwrap();
    // A goes on: its next commit re-reads the sequence and takes in B's entry.
    assert_eq!(a.append(entry(21)).unwrap(), 21);
    assert_eq!(b.refresh().unwrap(), 22);
    assert_eq!(a.checkpoint(), b.checkpoint());
    for i in 0..22 {
        assert_eq!(a.entry(i).unwrap(), entry(i), "index {i}");
    }
    a.check_integrity().unwrap();
    // None of the killed commit's entries (1000..1300) is stored anywhere.
    let stored = store(&db).read_entries(0, 22).unwrap();
    assert_eq!(stored, (0..22).map(entry).collect::<Vec<_>>());
    assert!(store(&db).read_entries(22, 1).is_err());
}

/// A writer paused mid-commit (as by SIGSTOP: its process holds the sequence row and sends nothing more)
/// holds the other writers up for [`ledger::pg::STALL_LIMIT`] only, not until it resumes: the server ends the
/// idle transaction, the other writer commits, and the paused commit fails when it resumes, stored nowhere.
#[test]
fn a_writer_paused_mid_commit_holds_the_others_up_for_the_stall_limit_only() {
    let db = pg_cluster::fresh_database();
    let b = writer(&db);
    b.append(entry(0)).unwrap();
    let pause = ledger::pg::STALL_LIMIT * 2;
    let (locked, is_locked) = std::sync::mpsc::channel();
    let paused = {
        let db = db.clone();
        std::thread::spawn(move || {
            store(&db).commit(1, &mut |tail| {
                locked.send(()).unwrap();
                std::thread::sleep(pause);
                let late = entry(999);
                let hash = leaf_hash(&late);
                Ok(Batch {
                    first: tail.size,
                    entries: vec![(late, hash)],
                    tiles: Vec::new(),
                })
            })
        })
    };
    is_locked.recv().unwrap();
    let started = Instant::now();
    assert_eq!(b.append(entry(1)).unwrap(), 1);
    let waited = started.elapsed();
    assert!(
        waited < pause - Duration::from_secs(1),
        "the other writer waited {waited:?} for the paused one"
    );
    let resumed = paused.join().unwrap();
    assert!(matches!(resumed, Err(Error::Database(_))), "{resumed:?}");
    let stored = store(&db).read_entries(0, 2).unwrap();
    assert_eq!(stored, vec![entry(0), entry(1)]);
    assert!(store(&db).read_entries(2, 1).is_err());
}

/// Every connection of the database is killed every 30 ms while two writers append from four threads each:
/// appends fail cleanly (an error, never a panic or a wrong index), every acknowledged entry is in the log at
/// its index, no index is acknowledged twice, and both writers go on once the kills stop, without a reopen.
#[test]
fn connections_killed_under_load_lose_nothing_acknowledged() {
    let db = pg_cluster::fresh_database();
    let logs = [Arc::new(writer(&db)), Arc::new(writer(&db))];
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (db, stop) = (db.clone(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut admin = postgres::Client::connect(&db, postgres::NoTls).unwrap();
            let mut killed = 0i64;
            while !stop.load(Ordering::Acquire) {
                let row = admin
                    .query_one(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                         WHERE datname = current_database() AND pid <> pg_backend_pid()",
                        &[],
                    )
                    .unwrap();
                killed += row.get::<_, i64>(0);
                std::thread::sleep(Duration::from_millis(30));
            }
            killed
        })
    };
    let threads: Vec<_> = logs
        .iter()
        .flat_map(|log| (0..4u64).map(move |t| (Arc::clone(log), t)))
        .enumerate()
        .map(|(k, (log, _))| {
            std::thread::spawn(move || {
                let (mut acked, mut failed) = (Vec::new(), 0u32);
                let start = Instant::now();
                let mut n = u64::try_from(k).unwrap() * 1_000_000;
                while start.elapsed() < Duration::from_secs(3) {
                    match log.append(entry(n)) {
                        Ok(index) => acked.push((index, n)),
                        Err(Error::Database(_)) => failed += 1,
                        Err(other) => panic!("unexpected failure: {other}"),
                    }
                    n += 1;
                }
                (acked, failed)
            })
        })
        .collect();
    let mut acked = BTreeMap::new();
    let mut failed = 0;
    for t in threads {
        let (a, f) = t.join().unwrap();
        failed += f;
        for (index, n) in a {
            assert!(acked.insert(index, n).is_none(), "index {index} twice");
        }
    }
    stop.store(true, Ordering::Release);
    let killed = killer.join().unwrap();
    assert!(killed > 0 && failed > 0, "the kills never hit a commit");
    // Both go on without a reopen, and agree.
    let a = logs[0].append(entry(7_000_000)).unwrap();
    let b = logs[1].append(entry(8_000_000)).unwrap();
    assert_eq!(logs[0].refresh().unwrap(), logs[1].refresh().unwrap());
    assert_eq!(logs[0].checkpoint(), logs[1].checkpoint());
    assert_eq!(logs[0].entry(a).unwrap(), entry(7_000_000));
    assert_eq!(logs[0].entry(b).unwrap(), entry(8_000_000));
    for (&index, &n) in &acked {
        assert_eq!(logs[1].entry(index).unwrap(), entry(n), "entry {index}");
    }
    logs[0].check_integrity().unwrap();
    eprintln!(
        "{} acknowledged, {failed} failed appends, {killed} connections killed",
        acked.len()
    );
}

#[test]
fn the_stored_checkpoint_only_moves_forward() {
    let db = pg_cluster::fresh_database();
    let log = writer(&db);
    log.append_batch((0..5).map(entry).collect()).unwrap();
    let five = log.checkpoint();
    log.append_batch((5..9).map(entry).collect()).unwrap();
    let nine = log.checkpoint();
    log.close().unwrap();
    let store = store(&db);
    assert_eq!(store.read_checkpoint().unwrap().unwrap(), nine);
    store.write_checkpoint(5, &five).unwrap();
    assert_eq!(store.read_checkpoint().unwrap().unwrap(), nine, "went back");
    store.write_checkpoint(9, &nine).unwrap();
    let mut forged = nine.clone();
    forged.push(b'\n');
    assert!(matches!(
        store.write_checkpoint(9, &forged),
        Err(Error::CheckpointConflict(9))
    ));
    assert!(
        store.write_checkpoint(10, &forged).is_err(),
        "beyond the entries"
    );
    assert_eq!(store.read_checkpoint().unwrap().unwrap(), nine);
}

#[test]
fn a_refresh_takes_in_other_writers_entries() {
    let db = pg_cluster::fresh_database();
    let (a, b) = (writer(&db), writer(&db));
    assert_eq!(a.refresh().unwrap(), 0);
    b.append_batch((0..600).map(entry).collect()).unwrap();
    assert_eq!(a.size(), 0, "nothing until refreshed");
    assert_eq!(a.refresh().unwrap(), 600);
    assert_eq!(a.size(), 600);
    assert_eq!(a.checkpoint(), b.checkpoint());
    assert_eq!(a.entry(599).unwrap(), entry(599));
    assert_eq!(
        a.read_tile(1, 0, Some(2)).unwrap(),
        b.read_tile(1, 0, Some(2)).unwrap()
    );
    // Its own next commit follows the foreign ones.
    assert_eq!(a.append(entry(600)).unwrap(), 600);
    a.check_integrity().unwrap();
}

/// Appends per second with one and two writers on one database, 8 and then 32 threads per writer, each
/// appending one entry at a time (waiting for its commit), 10 s per round. Run with
/// `cargo test -p ledger --test pg_log measure_append_rate -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn measure_append_rate() {
    for (writers, threads) in [(1usize, 8u64), (2, 8), (1, 32), (2, 32)] {
        let db = pg_cluster::fresh_database();
        let logs: Vec<Arc<Log>> = (0..writers).map(|_| Arc::new(writer(&db))).collect();
        let run = Duration::from_secs(10);
        let start = Instant::now();
        let handles: Vec<_> = logs
            .iter()
            .flat_map(|log| (0..threads).map(move |t| (Arc::clone(log), t)))
            .map(|(log, t)| {
                std::thread::spawn(move || {
                    let mut n = 0u64;
                    while start.elapsed() < run {
                        log.append(entry(t * 1_000_000 + n)).unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let total: u64 = handles.into_iter().map(|t| t.join().unwrap()).sum();
        let secs = start.elapsed().as_secs_f64();
        assert_eq!(logs[0].refresh().unwrap(), total);
        println!(
            "{writers} writer(s) x {threads} threads: {total} appends in {secs:.1} s = {:.0} appends/s",
            total as f64 / secs
        );
    }
}
