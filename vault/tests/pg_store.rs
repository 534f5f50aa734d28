//! PgVaultStore's own cases, beyond the shared contract (store.rs): several frontends on one database,
//! races between them, a connection killed mid-transaction, corrupted rows, tombstones and migrations.
#![allow(clippy::unwrap_used)]

#[path = "support/pg_cluster.rs"]
mod pg_cluster;

use std::sync::{Arc, Barrier};

use vault::{CertId, PgVaultStore, StoreError, VaultStore};

fn id(n: u32) -> CertId {
    let mut id = [0x5Au8; 16];
    id[..4].copy_from_slice(&n.to_be_bytes());
    CertId(id)
}

fn body(n: u32, variant: u8) -> Vec<u8> {
    (0..4096u32)
        .map(|i| (i.wrapping_mul(31) ^ n.wrapping_mul(7919)).to_le_bytes()[0] ^ variant)
        .collect()
}

fn admin(settings: &str) -> postgres::Client {
    postgres::Client::connect(settings, postgres::NoTls).unwrap()
}

#[test]
fn two_handles_on_one_database_are_two_frontends() {
    let db = pg_cluster::fresh_database();
    let a = PgVaultStore::open(&db, 4).unwrap();
    let b = PgVaultStore::open(&db, 4).unwrap();
    a.put_certificate(id(1), &body(1, 0), &[("importer", b"i"), ("customs", b"c")])
        .unwrap();
    assert_eq!(b.get_ciphertext(id(1)).unwrap(), Some(body(1, 0)));
    b.add_envelope(id(1), "broker", b"broker envelope").unwrap();
    assert_eq!(
        a.get_envelope(id(1), "broker").unwrap(),
        Some(b"broker envelope".to_vec())
    );
    assert_eq!(
        a.list_recipients(id(1)).unwrap(),
        ["broker", "customs", "importer"]
    );
    assert!(matches!(
        a.add_envelope(id(1), "broker", b"again"),
        Err(StoreError::DuplicateRecipient(_))
    ));
    a.purge(id(1)).unwrap();
    assert_eq!(b.get_ciphertext(id(1)).unwrap(), None);
    assert!(matches!(
        b.put_certificate(id(1), &body(1, 0), &[]),
        Err(StoreError::Purged(_))
    ));
}

#[test]
fn a_concurrent_put_of_one_id_from_two_frontends_has_exactly_one_winner() {
    let db = pg_cluster::fresh_database();
    let stores: Vec<Arc<PgVaultStore>> = (0..2)
        .map(|_| Arc::new(PgVaultStore::open(&db, 2).unwrap()))
        .collect();
    for round in 0..25u32 {
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(variant, store)| {
                let (store, barrier) = (Arc::clone(store), Arc::clone(&barrier));
                let variant = u8::try_from(variant).unwrap() + 1;
                std::thread::spawn(move || {
                    let party = format!("party-{variant}");
                    let envelope = [variant; 32];
                    barrier.wait();
                    let result = store.put_certificate(
                        id(round),
                        &body(round, variant),
                        &[(party.as_str(), &envelope)],
                    );
                    (variant, result)
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|r| r.join().unwrap()).collect();
        let winners: Vec<u8> = results
            .iter()
            .filter(|(_, r)| r.is_ok())
            .map(|(v, _)| *v)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        for (_, result) in &results {
            if let Err(e) = result {
                assert!(matches!(e, StoreError::AlreadyExists(_)), "{e}");
            }
        }
        // The winner's body and envelope only: nothing of the loser's mixed in.
        let winner = winners[0];
        assert_eq!(
            stores[0].get_ciphertext(id(round)).unwrap(),
            Some(body(round, winner))
        );
        assert_eq!(
            stores[1].list_recipients(id(round)).unwrap(),
            [format!("party-{winner}")]
        );
    }
}

#[test]
fn a_connection_killed_mid_transaction_leaves_no_partial_certificate() {
    let db = pg_cluster::fresh_database();
    let store = Arc::new(PgVaultStore::open(&db, 2).unwrap());
    // Hold the envelope table: the put writes its certificate and body rows, then waits on the lock.
    let mut blocker = admin(&db);
    let mut hold = blocker.transaction().unwrap();
    hold.batch_execute("LOCK TABLE vault_envelopes IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let putter = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            store.put_certificate(id(7), &body(7, 0), &[("importer", b"i"), ("customs", b"c")])
        })
    };
    let mut killer = admin(&db);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let killed = loop {
        let killed: i64 = killer
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock' \
                   AND query LIKE 'INSERT INTO vault_envelopes%'",
                &[],
            )
            .unwrap()
            .get(0);
        if killed > 0 || std::time::Instant::now() > deadline {
            break killed;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(killed, 1, "the put never reached its envelope insert");
    hold.rollback().unwrap();
    let err = putter.join().unwrap().unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err}");
    // Nothing of it is visible, and the id is still free (the pool replaced the dead connection).
    assert_eq!(store.get_ciphertext(id(7)).unwrap(), None);
    assert!(store.list_recipients(id(7)).unwrap().is_empty());
    let rows: i64 = killer
        .query_one(
            "SELECT count(*) FROM vault_certificates WHERE cert_id = $1",
            &[&id(7).as_bytes().as_slice()],
        )
        .unwrap()
        .get(0);
    assert_eq!(rows, 0);
    store
        .put_certificate(id(7), &body(7, 0), &[("importer", b"i")])
        .unwrap();
    assert_eq!(store.get_ciphertext(id(7)).unwrap(), Some(body(7, 0)));
}

#[test]
fn a_corrupted_row_is_reported_not_served() {
    let db = pg_cluster::fresh_database();
    let store = PgVaultStore::open(&db, 2).unwrap();
    store
        .put_certificate(id(1), &body(1, 0), &[("customs", b"customs envelope")])
        .unwrap();
    store.put_certificate(id(2), &body(2, 0), &[]).unwrap();
    let mut admin = admin(&db);
    admin
        .execute(
            "UPDATE vault_bodies SET ciphertext = overlay(ciphertext PLACING '\\xff' FROM 100) \
               WHERE cert_id = $1",
            &[&id(1).as_bytes().as_slice()],
        )
        .unwrap();
    admin
        .batch_execute("UPDATE vault_envelopes SET envelope = 'customs envelopf'")
        .unwrap();
    let err = store.get_ciphertext(id(1)).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    let err = store.get_envelope(id(1), "customs").unwrap_err();
    assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    // A body moved to another certificate's row fails too: the checksum binds the id.
    admin
        .execute(
            "UPDATE vault_bodies SET ciphertext = $1, checksum = \
               (SELECT checksum FROM vault_bodies WHERE cert_id = $2) WHERE cert_id = $3",
            &[
                &body(1, 0),
                &id(1).as_bytes().as_slice(),
                &id(2).as_bytes().as_slice(),
            ],
        )
        .unwrap();
    assert!(matches!(
        store.get_ciphertext(id(2)),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn purge_deletes_the_rows_and_keeps_a_tombstone() {
    let db = pg_cluster::fresh_database();
    let store = PgVaultStore::open(&db, 2).unwrap();
    store
        .put_certificate(id(1), &body(1, 0), &[("importer", b"i"), ("customs", b"c")])
        .unwrap();
    store.purge(id(1)).unwrap();
    let mut admin = admin(&db);
    let count = |admin: &mut postgres::Client, table: &str| -> i64 {
        admin
            .query_one(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .get(0)
    };
    assert_eq!(count(&mut admin, "vault_bodies"), 0);
    assert_eq!(count(&mut admin, "vault_envelopes"), 0);
    let purged: bool = admin
        .query_one("SELECT purged FROM vault_certificates", &[])
        .unwrap()
        .get(0);
    assert!(purged);
}

#[test]
fn migrations_run_once_and_a_newer_schema_is_refused() {
    let db = pg_cluster::fresh_database();
    // Several frontends starting at once: one migrates, the others find it done.
    let openers: Vec<_> = (0..4)
        .map(|_| {
            let db = db.clone();
            std::thread::spawn(move || PgVaultStore::open(&db, 1).map(|_| ()))
        })
        .collect();
    for opener in openers {
        opener.join().unwrap().unwrap();
    }
    let mut admin = admin(&db);
    let versions: Vec<i32> = admin
        .query(
            "SELECT version FROM schema_version WHERE track = 'vault'",
            &[],
        )
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(versions, [1, 2]);
    admin
        .batch_execute("INSERT INTO schema_version (track, version) VALUES ('vault', 99)")
        .unwrap();
    let err = PgVaultStore::open(&db, 1).unwrap_err();
    assert!(err.to_string().contains("version 99"), "{err}");
}

#[test]
fn an_unreachable_server_is_a_clean_error() {
    let started = std::time::Instant::now();
    let err = PgVaultStore::open("host=/nonexistent/socket user=nobody", 1).unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err}");
    // The cause, not only the step, and at once.
    assert!(err.to_string().contains("No such file"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// Durable puts per second on this binary's throwaway cluster (same machine, unix socket, fsync on), one at a
/// time from 8 threads and in batches of 64. A measurement, not a check. Run:
/// `cargo test -p vault --test pg_store measure_put_rate -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn measure_put_rate() {
    let db = pg_cluster::fresh_database();
    let store = Arc::new(PgVaultStore::open(&db, 8).unwrap());
    let envelope = [7u8; 110];
    let per_thread = 250u32;
    let started = std::time::Instant::now();
    let threads: Vec<_> = (0..8u32)
        .map(|t| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let ciphertext = body(t, 0);
                for i in 0..per_thread {
                    let n = t * 100_000 + i;
                    store
                        .put_certificate(
                            id(n),
                            &ciphertext,
                            &[("importer", &envelope), ("customs", &envelope)],
                        )
                        .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let singles = f64::from(8 * per_thread) / started.elapsed().as_secs_f64();
    let ciphertext = body(9, 0);
    let envelopes: [(&str, &[u8]); 2] = [("importer", &envelope), ("customs", &envelope)];
    let batches = 40u32;
    let started = std::time::Instant::now();
    for b in 0..batches {
        let batch: Vec<vault::NewCertificate<'_>> = (0..64u32)
            .map(|i| vault::NewCertificate {
                cert_id: id(1_000_000 + b * 64 + i),
                ciphertext: &ciphertext,
                envelopes: &envelopes,
            })
            .collect();
        store.put_certificates(&batch).unwrap();
    }
    let batched = f64::from(batches * 64) / started.elapsed().as_secs_f64();
    println!(
        "PgVaultStore, 4 KiB bodies, 2 envelopes: {singles:.0} puts/s one at a time (8 threads), \
         {batched:.0} puts/s in batches of 64 (1 thread)"
    );
}
