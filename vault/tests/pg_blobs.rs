//! PgVaultStore with its ciphertexts as blobs (vault/src/store/pg/blobs.rs), beyond the shared contract
//! (store.rs runs that): the order of blob puts and commits, orphans and their sweep, purges that fail or
//! finish, tampered blobs, random blob names, and bodies stored as rows before blobs were turned on.
#![allow(clippy::unwrap_used)]

#[path = "support/pg_cluster.rs"]
mod pg_cluster;

use std::sync::Arc;
use std::time::Duration;

use vault::{
    CertId, MemoryBlobStore, NewCertificate, PgPool, PgVaultStore, StoreError, VaultStore,
};

fn id(n: u32) -> CertId {
    let mut id = [0x3Cu8; 16];
    id[..4].copy_from_slice(&n.to_be_bytes());
    CertId(id)
}

fn body(n: u32) -> Vec<u8> {
    (0..5000u32)
        .map(|i| (i.wrapping_mul(17) ^ n.wrapping_mul(104_729)).to_le_bytes()[0])
        .collect()
}

/// A store on a fresh database with the blobs in memory; also returns the database's settings.
fn open() -> (PgVaultStore, Arc<MemoryBlobStore>, String) {
    let db = pg_cluster::fresh_database();
    let blobs = Arc::new(MemoryBlobStore::new());
    let store = PgVaultStore::with_blobs(PgPool::connect(&db, 8).unwrap(), blobs.clone()).unwrap();
    (store, blobs, db)
}

fn admin(db: &str) -> postgres::Client {
    postgres::Client::connect(db, postgres::NoTls).unwrap()
}

fn count(db: &str, table: &str) -> i64 {
    admin(db)
        .query_one(&format!("SELECT count(*) FROM {table}"), &[])
        .unwrap()
        .get(0)
}

/// Every blob name a row records exists in the blob store: no row points to nothing.
fn assert_no_dangling_row(db: &str, blobs: &MemoryBlobStore) {
    let stored = blobs.names();
    for row in admin(db)
        .query("SELECT object_name FROM vault_body_objects", &[])
        .unwrap()
    {
        let name: String = row.get(0);
        assert!(stored.contains(&name), "row names missing blob {name}");
    }
}

fn batch<'a>(bodies: &'a [Vec<u8>], first: u32) -> Vec<NewCertificate<'a>> {
    bodies
        .iter()
        .zip(first..)
        .map(|(ciphertext, n)| NewCertificate {
            cert_id: id(n),
            ciphertext,
            envelopes: &[("customs", b"customs envelope")],
        })
        .collect()
}

#[test]
fn bodies_are_random_named_blobs_and_the_rows_hold_no_ciphertext() {
    let (store, blobs, db) = open();
    let bodies: Vec<Vec<u8>> = (0..3).map(body).collect();
    store.put_certificates(&batch(&bodies, 0)).unwrap();
    let names = blobs.names();
    assert_eq!(names.len(), 3);
    for name in &names {
        // 128 random bits: nothing of the (public) certificate id in the name.
        assert_eq!(name.len(), 32);
        assert!(name.bytes().all(|b| b.is_ascii_hexdigit()));
        for n in 0..3 {
            assert!(!name.contains(&hex::encode(&id(n).as_bytes()[..4])));
        }
    }
    let mut stored = blobs.contents();
    stored.sort();
    let mut want = bodies.clone();
    want.sort();
    assert_eq!(stored, want, "each blob is exactly one ciphertext");
    assert_eq!(count(&db, "vault_bodies"), 0);
    assert_eq!(count(&db, "vault_body_objects"), 3);
    assert_eq!(count(&db, "vault_pending_objects"), 0);
    for n in 0..3 {
        assert_eq!(store.get_ciphertext(id(n)).unwrap(), Some(body(n)));
    }
}

#[test]
fn a_put_failing_midway_through_its_blobs_leaves_no_row_and_no_blob() {
    let (store, blobs, db) = open();
    let bodies: Vec<Vec<u8>> = (0..4).map(body).collect();
    blobs.fail_puts_after(2);
    let err = store.put_certificates(&batch(&bodies, 0)).unwrap_err();
    assert!(matches!(err, StoreError::Objects(_)), "{err}");
    assert!(
        blobs.names().is_empty(),
        "the two stored blobs were deleted"
    );
    assert_eq!(count(&db, "vault_certificates"), 0);
    assert_eq!(count(&db, "vault_pending_objects"), 0);
    blobs.set_down(false);
    store.put_certificates(&batch(&bodies, 0)).unwrap();
    assert_eq!(store.get_ciphertext(id(3)).unwrap(), Some(body(3)));
}

#[test]
fn a_refused_put_deletes_the_blobs_it_wrote() {
    let (store, blobs, db) = open();
    store
        .put_certificate(id(1), &body(1), &[("customs", b"e")])
        .unwrap();
    let bodies: Vec<Vec<u8>> = (0..3).map(body).collect();
    // Ids 0, 1, 2: 1 exists, so the batch is refused after its blobs were put.
    let err = store.put_certificates(&batch(&bodies, 0)).unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err}");
    assert_eq!(blobs.names().len(), 1, "only the first certificate's blob");
    assert_eq!(count(&db, "vault_pending_objects"), 0);
    assert_eq!(store.get_ciphertext(id(0)).unwrap(), None);
}

/// A frontend dying between its PUTs and its commit: its blobs stay, named only by pending rows; no row points
/// to a blob that is not there; the sweep deletes them once they are older than the grace period.
#[test]
fn a_crash_between_the_puts_and_the_commit_leaves_only_orphans_the_sweep_deletes() {
    let (store, blobs, db) = open();
    store.put_certificate(id(9), &body(9), &[]).unwrap();
    // The commit fails (its connection killed while it waits on a lock) and the clean-up cannot reach the
    // bucket: the state a crash at that moment leaves.
    let mut holder = admin(&db);
    let mut hold = holder.transaction().unwrap();
    hold.batch_execute("LOCK TABLE vault_envelopes IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    blobs.fail_deletes(true);
    let store = Arc::new(store);
    let putter = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || {
            let bodies: Vec<Vec<u8>> = (0..3).map(body).collect();
            store.put_certificates(&batch(&bodies, 0))
        })
    };
    let mut killer = admin(&db);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let killed: i64 = killer
            .query_one(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock' \
                   AND query LIKE 'INSERT INTO vault_envelopes%'",
                &[],
            )
            .unwrap()
            .get(0);
        if killed > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the put never reached its commit"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    hold.rollback().unwrap();
    assert!(putter.join().unwrap().is_err());
    blobs.fail_deletes(false);
    assert_eq!(blobs.names().len(), 4, "three orphans beside the live blob");
    assert_eq!(count(&db, "vault_pending_objects"), 3);
    assert_eq!(count(&db, "vault_body_objects"), 1);
    assert_no_dangling_row(&db, &blobs);
    // Too young for the sweep: a put may still be under way.
    assert_eq!(
        store.sweep_orphan_blobs(Duration::from_secs(3600)).unwrap(),
        0
    );
    assert_eq!(blobs.names().len(), 4);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        store.sweep_orphan_blobs(Duration::from_millis(10)).unwrap(),
        3
    );
    assert_eq!(blobs.names().len(), 1);
    assert_eq!(count(&db, "vault_pending_objects"), 0);
    assert_eq!(store.get_ciphertext(id(9)).unwrap(), Some(body(9)));
    // The ids were never taken.
    store.put_certificate(id(0), &body(0), &[]).unwrap();
    assert_eq!(store.get_ciphertext(id(0)).unwrap(), Some(body(0)));
}

/// A put slower than the grace period has its blobs swept under it: it is refused, never committed naming a
/// deleted blob.
#[test]
fn a_put_outlasting_the_grace_period_is_refused_not_committed_dangling() {
    let (store, blobs, db) = open();
    let store = Arc::new(store);
    let mut holder = admin(&db);
    let mut hold = holder.transaction().unwrap();
    hold.batch_execute("LOCK TABLE vault_envelopes IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let putter = {
        let store = Arc::clone(&store);
        std::thread::spawn(move || store.put_certificate(id(1), &body(1), &[("customs", b"e")]))
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while blobs.names().is_empty() {
        assert!(std::time::Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        store.sweep_orphan_blobs(Duration::from_millis(1)).unwrap(),
        1
    );
    hold.rollback().unwrap();
    let err = putter.join().unwrap().unwrap_err();
    assert!(err.to_string().contains("grace period"), "{err}");
    assert_eq!(count(&db, "vault_body_objects"), 0);
    assert!(blobs.names().is_empty());
    assert_eq!(store.get_ciphertext(id(1)).unwrap(), None);
}

#[test]
fn purge_deletes_the_blob_and_a_purge_that_cannot_changes_nothing() {
    let (store, blobs, db) = open();
    store
        .put_certificate(id(1), &body(1), &[("customs", b"e")])
        .unwrap();
    blobs.fail_deletes(true);
    let err = store.purge(id(1)).unwrap_err();
    assert!(matches!(err, StoreError::Objects(_)), "{err}");
    assert_eq!(store.get_ciphertext(id(1)).unwrap(), Some(body(1)));
    assert_eq!(store.list_recipients(id(1)).unwrap(), ["customs"]);
    blobs.fail_deletes(false);
    store.purge(id(1)).unwrap();
    assert!(
        blobs.names().is_empty(),
        "the purged body is gone from the bucket"
    );
    assert_eq!(count(&db, "vault_body_objects"), 0);
    assert_eq!(count(&db, "vault_envelopes"), 0);
    assert!(matches!(
        store.put_certificate(id(1), &body(1), &[]),
        Err(StoreError::Purged(_))
    ));
}

#[test]
fn a_tampered_truncated_swapped_or_missing_blob_is_corrupt_not_served() {
    let (store, blobs, db) = open();
    store.put_certificate(id(1), &body(1), &[]).unwrap();
    store.put_certificate(id(2), &body(2), &[]).unwrap();
    let name_of = |n: u32| -> String {
        admin(&db)
            .query_one(
                "SELECT object_name FROM vault_body_objects WHERE cert_id = $1",
                &[&id(n).as_bytes().as_slice()],
            )
            .unwrap()
            .get(0)
    };
    let (one, two) = (name_of(1), name_of(2));
    let corrupt = |store: &PgVaultStore, n: u32| {
        let err = store.get_ciphertext(id(n)).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
    };
    let mut flipped = body(1);
    flipped[100] ^= 1;
    blobs.tamper(&one, Some(flipped));
    corrupt(&store, 1);
    blobs.tamper(&one, Some(body(1)[..4000].to_vec()));
    corrupt(&store, 1);
    let mut longer = body(1);
    longer.push(0);
    blobs.tamper(&one, Some(longer));
    corrupt(&store, 1);
    // Certificate 2's own bytes under certificate 1's name: the checksum binds the id.
    blobs.tamper(&one, Some(body(2)));
    corrupt(&store, 1);
    blobs.tamper(&two, None);
    let err = store.get_ciphertext(id(2)).unwrap_err();
    assert!(err.to_string().contains("missing"), "{err}");
    // The bucket down is a clean error, not a missing body.
    blobs.set_down(true);
    assert!(matches!(
        store.get_ciphertext(id(1)),
        Err(StoreError::Objects(_))
    ));
}

#[test]
fn bodies_stored_as_rows_stay_readable_and_purgeable_once_blobs_are_on() {
    let db = pg_cluster::fresh_database();
    let rows = PgVaultStore::open(&db, 2).unwrap();
    rows.put_certificate(id(1), &body(1), &[("customs", b"e")])
        .unwrap();
    let blobs = Arc::new(MemoryBlobStore::new());
    let both = PgVaultStore::with_blobs(PgPool::connect(&db, 2).unwrap(), blobs.clone()).unwrap();
    both.put_certificate(id(2), &body(2), &[]).unwrap();
    assert_eq!(both.get_ciphertext(id(1)).unwrap(), Some(body(1)));
    assert_eq!(both.get_ciphertext(id(2)).unwrap(), Some(body(2)));
    // A frontend without the bucket says where the body is instead of "no such certificate".
    let err = rows.get_ciphertext(id(2)).unwrap_err();
    assert!(err.to_string().contains("without --bucket"), "{err}");
    both.purge(id(1)).unwrap();
    assert_eq!(count(&db, "vault_bodies"), 0);
    assert_eq!(both.get_ciphertext(id(1)).unwrap(), None);
}
