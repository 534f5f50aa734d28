//! The registry store contract, run on both stores (redb in a temporary directory, PostgreSQL in a fresh
//! database of the test cluster), and the registry's in-order application over them.

#![allow(clippy::unwrap_used)]

use ledger::{CertId, Entry, PartyId, Role, SignedEntry};

use super::store::StoredCertificate;
use super::*;
use crate::server::pg_cluster;

/// A store under test, and what must outlive it.
struct Opened {
    store: Box<dyn RegistryStore>,
    _dir: Option<tempfile::TempDir>,
}

fn redb() -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let store = RedbRegistry::open(&dir.path().join("registry")).unwrap();
    Opened {
        store: Box::new(store),
        _dir: Some(dir),
    }
}

fn postgres_at(db: &str) -> Box<dyn RegistryStore> {
    Box::new(PgRegistry::open(vault::PgPool::connect(db, 2).unwrap()).unwrap())
}

fn postgres() -> Opened {
    Opened {
        store: postgres_at(&pg_cluster::fresh_database()),
        _dir: None,
    }
}

/// Runs `check` on each store, naming the store in a failure.
fn on_both(check: impl Fn(&dyn RegistryStore)) {
    for (name, open) in [("redb", redb as fn() -> Opened), ("postgres", postgres)] {
        let opened = open();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            check(&*opened.store);
        }));
        if let Err(panic) = outcome {
            eprintln!("the contract failed on the {name} store");
            std::panic::resume_unwind(panic);
        }
    }
}

fn party(name: &str) -> PartyId {
    PartyId::new(name).unwrap()
}

fn cert(n: u8) -> CertId {
    CertId([n; 16])
}

fn registered(n: u8, index: u64, time_ms: u64) -> Fact {
    Fact::Registered {
        cert_id: cert(n),
        registrant: party("acme"),
        index,
        time_ms,
    }
}

fn stored(index: u64, time_ms: u64, purged_index: Option<u64>) -> StoredCertificate {
    StoredCertificate {
        registrant: party("acme"),
        registration_index: index,
        registered_ms: time_ms,
        purged_index,
    }
}

#[test]
fn an_empty_store_holds_nothing() {
    on_both(|store| {
        assert_eq!(store.watermark().unwrap(), 0);
        assert!(store.party_entries().unwrap().is_empty());
        assert_eq!(store.certificate(&cert(1)).unwrap(), None);
        assert!(store.receipts(&cert(1)).unwrap().is_empty());
        assert!(store.held_before(u64::MAX, 10).unwrap().is_empty());
    });
}

#[test]
fn facts_read_back_and_the_watermark_moves_with_them() {
    on_both(|store| {
        let facts = [
            Fact::Party {
                index: 0,
                entry: b"operator".to_vec(),
            },
            Fact::Party {
                index: 1,
                entry: b"acme".to_vec(),
            },
            registered(1, 2, 500),
            Fact::Receipt {
                cert_id: cert(1),
                index: 4,
            },
            Fact::Receipt {
                cert_id: cert(1),
                index: 3,
            },
        ];
        store.apply(&facts, 5).unwrap();
        assert_eq!(store.watermark().unwrap(), 5);
        assert_eq!(
            store.party_entries().unwrap(),
            vec![(0, b"operator".to_vec()), (1, b"acme".to_vec())]
        );
        assert_eq!(
            store.certificate(&cert(1)).unwrap(),
            Some(stored(2, 500, None))
        );
        assert_eq!(
            store.receipts(&cert(1)).unwrap(),
            vec![3, 4],
            "in log order"
        );
        assert!(store.receipts(&cert(2)).unwrap().is_empty());
    });
}

#[test]
fn applying_again_changes_nothing_and_the_watermark_never_goes_back() {
    on_both(|store| {
        let facts = [
            registered(1, 0, 500),
            Fact::Purged {
                cert_id: cert(1),
                index: 1,
            },
            Fact::Receipt {
                cert_id: cert(1),
                index: 2,
            },
        ];
        store.apply(&facts, 3).unwrap();
        // A second frontend (or a restart after a lost watermark) applies the same range, and an older one.
        store.apply(&facts, 3).unwrap();
        store.apply(&facts[..1], 1).unwrap();
        assert_eq!(store.watermark().unwrap(), 3);
        assert_eq!(
            store.certificate(&cert(1)).unwrap(),
            Some(stored(0, 500, Some(1)))
        );
        assert_eq!(store.receipts(&cert(1)).unwrap(), vec![2]);
        assert!(store.held_before(u64::MAX, 10).unwrap().is_empty());
    });
}

#[test]
fn the_earliest_registration_and_purge_hold_and_an_unknown_purge_is_nothing() {
    on_both(|store| {
        store
            .apply(
                &[
                    registered(1, 3, 700),
                    Fact::Purged {
                        cert_id: cert(2),
                        index: 4,
                    },
                ],
                5,
            )
            .unwrap();
        // A later registration of the same id changes nothing; an earlier one (a log that holds two, applied
        // by a writer behind another) holds.
        store.apply(&[registered(1, 9, 900)], 10).unwrap();
        store.apply(&[registered(1, 1, 600)], 11).unwrap();
        // Not above the watermark: nothing (its facts are in already).
        store.apply(&[registered(1, 0, 100)], 11).unwrap();
        assert_eq!(
            store.certificate(&cert(1)).unwrap(),
            Some(stored(1, 600, None))
        );
        assert_eq!(store.certificate(&cert(2)).unwrap(), None);
        assert_eq!(store.held_before(u64::MAX, 10).unwrap(), vec![(cert(1), 1)]);
        let purge = |index| Fact::Purged {
            cert_id: cert(1),
            index,
        };
        store.apply(&[purge(12), purge(11)], 13).unwrap();
        store.apply(&[purge(14)], 15).unwrap();
        assert_eq!(
            store.certificate(&cert(1)).unwrap(),
            Some(stored(1, 600, Some(11)))
        );
    });
}

#[test]
fn two_registrations_of_one_id_at_one_time_leave_the_earlier_with_its_retention_key() {
    on_both(|store| {
        // The later one applied first (a writer behind another), then the earlier one: it takes over.
        store.apply(&[registered(1, 9, 500)], 10).unwrap();
        store.apply(&[registered(1, 1, 500)], 11).unwrap();
        assert_eq!(
            store.certificate(&cert(1)).unwrap(),
            Some(stored(1, 500, None))
        );
        assert_eq!(store.held_before(u64::MAX, 10).unwrap(), vec![(cert(1), 1)]);
        // A later one again: nothing changes, the retention key included.
        store.apply(&[registered(1, 12, 500)], 13).unwrap();
        assert_eq!(store.held_before(u64::MAX, 10).unwrap(), vec![(cert(1), 1)]);
    });
}

#[test]
fn a_call_applied_again_after_its_watermark_was_lost_leaves_what_one_application_leaves() {
    on_both(|store| {
        let facts = [
            registered(1, 0, 500),
            registered(2, 1, 500),
            Fact::Purged {
                cert_id: cert(2),
                index: 2,
            },
            registered(1, 3, 500),
        ];
        store.apply(&facts, 4).unwrap();
        store.rewind(0).unwrap();
        store.apply(&facts, 4).unwrap();
        assert_eq!(
            store.certificate(&cert(1)).unwrap(),
            Some(stored(0, 500, None))
        );
        assert_eq!(
            store.certificate(&cert(2)).unwrap(),
            Some(stored(1, 500, Some(2)))
        );
        assert_eq!(
            store.held_before(u64::MAX, 10).unwrap(),
            vec![(cert(1), 0)],
            "the purged one is out, the second registration of 1 left nothing"
        );
    });
}

#[test]
fn held_certificates_come_oldest_first_before_the_cutoff_and_up_to_the_limit() {
    on_both(|store| {
        store
            .apply(
                &[
                    registered(3, 0, 300),
                    registered(1, 1, 100),
                    registered(2, 2, 200),
                    registered(4, 3, 400),
                    Fact::Purged {
                        cert_id: cert(1),
                        index: 4,
                    },
                ],
                5,
            )
            .unwrap();
        assert_eq!(
            store.held_before(400, 10).unwrap(),
            vec![(cert(2), 2), (cert(3), 0)],
            "purged and not-yet-expired ones are left out; the cutoff is exclusive"
        );
        assert_eq!(store.held_before(u64::MAX, 1).unwrap(), vec![(cert(2), 2)]);
        assert!(store.held_before(0, 10).unwrap().is_empty());
    });
}

#[test]
fn a_store_is_found_as_left_after_it_is_opened_again() {
    let dir = tempfile::tempdir().unwrap();
    let db = pg_cluster::fresh_database();
    let open_redb = || -> Box<dyn RegistryStore> {
        Box::new(RedbRegistry::open(&dir.path().join("registry")).unwrap())
    };
    for open in [&open_redb as &dyn Fn() -> Box<dyn RegistryStore>, &|| {
        postgres_at(&db)
    }] {
        let store = open();
        store.apply(&[registered(1, 0, 500)], 1).unwrap();
        store.flush().unwrap();
        drop(store);
        let store = open();
        assert_eq!(store.watermark().unwrap(), 1);
        assert_eq!(
            store.certificate(&cert(1)).unwrap(),
            Some(stored(0, 500, None))
        );
    }
}

#[test]
fn an_earlier_builds_sled_registry_is_removed_after_the_first_durable_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry");
    std::fs::create_dir_all(path.join("blobs")).unwrap();
    for file in ["conf", "db", "snap.0000000000000042"] {
        std::fs::write(path.join(file), b"sled").unwrap();
    }
    let store = RedbRegistry::open(&path).unwrap();
    assert_eq!(store.watermark().unwrap(), 0, "the new store starts empty");
    assert!(
        path.join("db").exists(),
        "kept until the new store is durable"
    );
    store.apply(&[registered(1, 0, 500)], 1).unwrap();
    store.flush().unwrap();
    let mut left: Vec<_> = std::fs::read_dir(&path)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    left.sort();
    assert_eq!(left, vec![std::ffi::OsString::from("registry.redb")]);
    drop(store);
    let store = RedbRegistry::open(&path).unwrap();
    assert_eq!(store.watermark().unwrap(), 1);
}

// The registry over a store: in-order application, the view, and a start from the watermark.

fn key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

fn signed(entry: Entry, signer: &str, seed: u8) -> SignedEntry {
    SignedEntry::sign(entry, party(signer), &key(seed)).unwrap()
}

fn enrollment(name: &str, seed: u8) -> SignedEntry {
    let entry = Entry::Enrollment {
        party: party(name),
        role: Role::Importer,
        signing_key: key(seed).verifying_key().to_bytes(),
        encryption_key: [seed; 32],
        replaces: None,
        time_ms: 1,
    };
    signed(entry, "operator", 99)
}

fn rotation(name: &str, from: u8, to: u8) -> SignedEntry {
    let entry = Entry::Rotation {
        party: party(name),
        role: Role::Importer,
        signing_key: key(to).verifying_key().to_bytes(),
        encryption_key: [to; 32],
        replaces: key(from).verifying_key().to_bytes(),
        consent: [0; 64],
        time_ms: 2,
    };
    signed(entry, "operator", 99)
}

fn registration(n: u8, time_ms: u64) -> SignedEntry {
    let entry = Entry::Registration {
        cert_id: cert(n),
        commitment: [n; 32],
        registrant: party("acme"),
        grants: vec![[n; 32]],
        sealed: None,
        time_ms,
    };
    signed(entry, "acme", 1)
}

fn purge(n: u8) -> SignedEntry {
    signed(
        Entry::Purge {
            cert_id: cert(n),
            time_ms: 3,
        },
        "log",
        98,
    )
}

fn receipt(n: u8) -> SignedEntry {
    let entry = Entry::AccessReceipt {
        cert_id: cert(n),
        grant: [n; 32],
        time_ms: 4,
    };
    signed(entry, "log", 98)
}

/// A log of every kind of entry the registry takes in.
fn story() -> Vec<SignedEntry> {
    vec![
        enrollment("acme", 1),  // 0
        enrollment("acme", 2),  // 1: a conflicting second enrollment
        registration(1, 100),   // 2
        receipt(1),             // 3
        rotation("acme", 1, 3), // 4
        registration(2, 200),   // 5
        receipt(1),             // 6
        purge(1),               // 7
    ]
}

/// What the registry must say after `story()`.
fn check_story(registry: &Registry) {
    assert_eq!(registry.applied(), 8);
    let acme = registry.party(&party("acme")).unwrap();
    assert_eq!(acme.signing_key, key(3).verifying_key());
    assert_eq!(acme.enrollment_index, 4);
    assert_eq!(acme.previous_enrollments, vec![0]);
    assert_eq!(acme.retired_keys, vec![key(1).verifying_key().to_bytes()]);
    assert_eq!(acme.conflicting_enrollments, vec![1]);
    let first = registry.certificate(&cert(1)).unwrap().unwrap();
    assert!(first.purged);
    assert_eq!(first.registration_index, 2);
    assert_eq!(registry.receipts(&cert(1)).unwrap(), Some(vec![3, 6]));
    assert_eq!(registry.receipts(&cert(3)).unwrap(), None);
    assert_eq!(registry.expired(u64::MAX, 10).unwrap(), vec![cert(2)]);
    assert_eq!(registry.expired(200, 10).unwrap(), Vec::<CertId>::new());
}

/// Checks a stored party entry against `story()`, as the service checks it against its log.
fn in_log(index: u64, bytes: &[u8]) -> Result<bool, RegistryError> {
    let entries = story();
    let entry = usize::try_from(index).ok().and_then(|i| entries.get(i));
    Ok(entry.is_some_and(|e| e.encode() == bytes))
}

#[test]
fn a_party_entry_that_is_not_the_logs_is_refused_at_open() {
    on_registries(|open| {
        let entries = story();
        open().apply(0, &refs(&entries)).unwrap();
        let store = open().store;
        // Someone with write access to the store adds an enrollment the log does not hold.
        store
            .apply(
                &[Fact::Party {
                    index: 8,
                    entry: enrollment("mallory", 7).encode(),
                }],
                9,
            )
            .unwrap();
        let refused = Registry::open(store, in_log).err().unwrap();
        assert!(
            refused
                .to_string()
                .contains("the party entry at index 8 is not the log's"),
            "{refused}"
        );
    });
}

fn refs(entries: &[SignedEntry]) -> Vec<&SignedEntry> {
    entries.iter().collect()
}

#[test]
fn entries_apply_in_index_order_and_once() {
    on_registries(|open| {
        let registry = open();
        let entries = story();
        // Index 1 before index 0 is refused (not applied), a repeat is a no-op, an overlap applies the rest.
        assert!(!registry.apply(1, &refs(&entries[1..2])).unwrap());
        assert!(registry.party(&party("acme")).is_none());
        assert!(registry.apply(0, &refs(&entries[..3])).unwrap());
        assert!(registry.apply(0, &refs(&entries[..3])).unwrap());
        assert!(registry.apply(2, &refs(&entries[2..])).unwrap());
        check_story(&registry);
    });
}

#[test]
fn a_start_resumes_from_the_watermark_with_the_parties_as_they_were() {
    on_registries(|open| {
        let entries = story();
        open().apply(0, &refs(&entries)).unwrap();
        let registry = open();
        check_story(&registry);
        // Nothing to apply again: the next entry it takes is the log's next one.
        assert!(!registry.apply(9, &refs(&entries[..1])).unwrap());
    });
}

#[test]
fn a_torn_chunk_is_hidden_until_it_is_applied_again() {
    on_registries(|open| {
        let entries = story();
        let registry = open();
        registry.apply(0, &refs(&entries[..4])).unwrap();
        // A torn chunk: facts of entries 4.. in the store without the watermark that covers them. The
        // registry neither shows them nor trusts them.
        registry.apply(4, &refs(&entries[4..])).unwrap();
        registry.store.rewind(4).unwrap();
        drop(registry);
        let registry = open();
        assert_eq!(registry.applied(), 4);
        assert_eq!(registry.certificate(&cert(2)).unwrap(), None);
        assert!(!registry.certificate(&cert(1)).unwrap().unwrap().purged);
        assert_eq!(registry.party(&party("acme")).unwrap().enrollment_index, 0);
        // Resuming from the watermark applies them again, once.
        registry.apply(4, &refs(&entries[4..])).unwrap();
        check_story(&registry);
        drop(registry);
        check_story(&open());
    });
}

/// Runs `check` with a way to open a registry, again and again, over one store of each kind.
fn on_registries(check: impl Fn(&dyn Fn() -> Registry)) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("registry");
    let redb = || Registry::open(Box::new(RedbRegistry::open(&path).unwrap()), in_log).unwrap();
    check(&redb);
    let db = pg_cluster::fresh_database();
    let pg = || Registry::open(postgres_at(&db), in_log).unwrap();
    check(&pg);
}

#[test]
fn frontends_sharing_a_database_see_each_others_entries_at_their_own_pace() {
    let db = pg_cluster::fresh_database();
    let entries = story();
    let a = Registry::open(postgres_at(&db), in_log).unwrap();
    let b = Registry::open(postgres_at(&db), in_log).unwrap();
    a.apply(0, &refs(&entries[..6])).unwrap();
    // B has not applied entry 2 yet: the store holds certificate 1, but B's view does not.
    assert_eq!(b.certificate(&cert(1)).unwrap(), None);
    b.apply(0, &refs(&entries[..3])).unwrap();
    assert!(b.certificate(&cert(1)).unwrap().is_some());
    assert_eq!(b.certificate(&cert(2)).unwrap(), None);
    // A frontend started now begins where A got to, without replaying.
    let c = Registry::open(postgres_at(&db), in_log).unwrap();
    assert_eq!(c.applied(), 6);
    assert!(c.certificate(&cert(2)).unwrap().is_some());
    assert_eq!(c.party(&party("acme")).unwrap().enrollment_index, 4);
    c.apply(6, &refs(&entries[6..])).unwrap();
    b.apply(3, &refs(&entries[3..])).unwrap();
    check_story(&b);
    check_story(&c);
}
