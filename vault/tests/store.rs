//! The `VaultStore` contract, run against every implementation (memory, disk, PostgreSQL), plus the disk
//! store's own cases (reopen, corruption, torn tails, interrupted purges). PostgreSQL's own cases are in
//! pg_store.rs.
#![allow(clippy::unwrap_used)]

#[path = "support/pg_cluster.rs"]
mod pg_cluster;

use std::path::Path;
use std::sync::Arc;

use vault::{
    CertId, FsVaultStore, MemoryVaultStore, NewCertificate, PgVaultStore, StoreError, StoredId,
    VaultStore,
};

fn id(n: u32) -> CertId {
    let mut id = [0xA5u8; 16];
    id[..4].copy_from_slice(&n.to_be_bytes());
    CertId(id)
}

/// A ciphertext of 8.6 KB, distinct per certificate.
fn body(n: u32) -> Vec<u8> {
    (0..8600u32)
        .map(|i| (i.wrapping_mul(31) ^ n.wrapping_mul(7919)).to_le_bytes()[0])
        .collect()
}

fn put(store: &dyn VaultStore, n: u32, parties: &[&str]) {
    let envelopes: Vec<(&str, &[u8])> = parties.iter().map(|p| (*p, p.as_bytes())).collect();
    store.put_certificate(id(n), &body(n), &envelopes).unwrap();
}

mod contract {
    use super::*;

    pub(super) fn put_then_get(store: &dyn VaultStore) {
        put(store, 1, &["importer", "customs", "broker"]);
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), Some(body(1)));
        assert_eq!(
            store.get_envelope(id(1), "customs").unwrap(),
            Some(b"customs".to_vec())
        );
        assert_eq!(
            store.list_recipients(id(1)).unwrap(),
            ["broker", "customs", "importer"]
        );
        assert_eq!(store.get_envelope(id(1), "auditor").unwrap(), None);
        assert_eq!(store.get_ciphertext(id(2)).unwrap(), None);
        assert!(store.list_recipients(id(2)).unwrap().is_empty());
    }

    pub(super) fn put_refuses_an_existing_id(store: &dyn VaultStore) {
        put(store, 1, &["importer"]);
        let err = store
            .put_certificate(id(1), b"other", &[("x", b"y")])
            .unwrap_err();
        assert!(matches!(err, StoreError::AlreadyExists(_)), "{err}");
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), Some(body(1)));
        assert_eq!(store.list_recipients(id(1)).unwrap(), ["importer"]);
    }

    pub(super) fn a_refused_put_leaves_nothing(store: &dyn VaultStore) {
        // The second envelope is invalid: the whole put is refused, the first is not stored.
        let err = store
            .put_certificate(id(1), &body(1), &[("customs", b"e"), ("", b"e")])
            .unwrap_err();
        assert!(matches!(err, StoreError::InvalidParty), "{err}");
        let err = store
            .put_certificate(id(1), &body(1), &[("customs", b"e"), ("customs", b"f")])
            .unwrap_err();
        assert!(matches!(err, StoreError::DuplicateRecipient(_)), "{err}");
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), None);
        assert!(store.list_recipients(id(1)).unwrap().is_empty());
        // A batch with one existing id stores none of the others.
        put(store, 2, &["importer"]);
        let (b1, b3) = (body(1), body(3));
        let batch = [
            NewCertificate {
                cert_id: id(1),
                ciphertext: &b1,
                envelopes: &[("a", b"e")],
            },
            NewCertificate {
                cert_id: id(2),
                ciphertext: &b1,
                envelopes: &[],
            },
            NewCertificate {
                cert_id: id(3),
                ciphertext: &b3,
                envelopes: &[],
            },
        ];
        assert!(matches!(
            store.put_certificates(&batch).unwrap_err(),
            StoreError::AlreadyExists(_)
        ));
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), None);
        assert_eq!(store.get_ciphertext(id(3)).unwrap(), None);
        // The refused id is still free.
        put(store, 1, &["importer"]);
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), Some(body(1)));
    }

    pub(super) fn batch_put_stores_all(store: &dyn VaultStore) {
        let bodies: Vec<Vec<u8>> = (0..20).map(body).collect();
        let envs: [(&str, &[u8]); 2] = [("importer", b"i"), ("customs", b"c")];
        let batch: Vec<NewCertificate<'_>> = (0..20u32)
            .map(|n| NewCertificate {
                cert_id: id(n),
                ciphertext: &bodies[n as usize],
                envelopes: &envs,
            })
            .collect();
        store.put_certificates(&batch).unwrap();
        for n in 0..20 {
            assert_eq!(
                store.get_ciphertext(id(n)).unwrap().as_ref(),
                Some(&bodies[n as usize])
            );
            assert_eq!(
                store.get_envelope(id(n), "customs").unwrap(),
                Some(b"c".to_vec())
            );
        }
        let twice = [batch[0], batch[0]];
        assert!(matches!(
            store.put_certificates(&twice).unwrap_err(),
            StoreError::DuplicateInBatch(_)
        ));
    }

    pub(super) fn grant_and_revoke(store: &dyn VaultStore) {
        let err = store.add_envelope(id(1), "broker", b"b").unwrap_err();
        assert!(matches!(err, StoreError::NotFound(_)), "{err}");
        put(store, 1, &["importer", "customs"]);
        store
            .add_envelope(id(1), "broker", b"broker envelope")
            .unwrap();
        assert_eq!(
            store.get_envelope(id(1), "broker").unwrap(),
            Some(b"broker envelope".to_vec())
        );
        let err = store.add_envelope(id(1), "broker", b"again").unwrap_err();
        assert!(matches!(err, StoreError::DuplicateRecipient(_)), "{err}");
        assert_eq!(
            store.list_recipients(id(1)).unwrap(),
            ["broker", "customs", "importer"]
        );
        assert!(store.remove_envelope(id(1), "customs").unwrap());
        assert!(!store.remove_envelope(id(1), "customs").unwrap());
        assert_eq!(store.get_envelope(id(1), "customs").unwrap(), None);
        assert_eq!(
            store.list_recipients(id(1)).unwrap(),
            ["broker", "importer"]
        );
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), Some(body(1)));
        assert!(matches!(
            store.remove_envelope(id(9), "x").unwrap_err(),
            StoreError::NotFound(_)
        ));
    }

    pub(super) fn purge_removes_everything(store: &dyn VaultStore) {
        put(store, 1, &["importer", "customs"]);
        put(store, 2, &["importer"]);
        store.purge(id(1)).unwrap();
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), None);
        assert_eq!(store.get_envelope(id(1), "customs").unwrap(), None);
        assert!(store.list_recipients(id(1)).unwrap().is_empty());
        let purged = |r: Result<(), StoreError>| matches!(r, Err(StoreError::Purged(_)));
        assert!(purged(store.add_envelope(id(1), "broker", b"b")));
        assert!(purged(store.remove_envelope(id(1), "customs").map(|_| ())));
        assert!(purged(store.purge(id(1))));
        assert!(purged(store.put_certificate(id(1), &body(1), &[])));
        assert!(matches!(store.purge(id(3)), Err(StoreError::NotFound(_))));
        // Neighbours are untouched.
        assert_eq!(store.get_ciphertext(id(2)).unwrap(), Some(body(2)));
    }

    pub(super) fn list_ids_pages_through_live_and_purged_in_order(store: &dyn VaultStore) {
        assert!(store.list_ids(None, 10).unwrap().is_empty());
        // Inserted out of order, ids whose first bytes differ (0x00.., 0xff..) and that share a prefix.
        for n in [7, 0xFF00_0000, 3, 0, 0x0100_0000, 5] {
            put(store, n, &["importer"]);
        }
        store.purge(id(5)).unwrap();
        store.put_purged(id(4)).unwrap();
        let want: Vec<StoredId> = [0, 3, 4, 5, 7, 0x0100_0000, 0xFF00_0000]
            .into_iter()
            .map(|n| StoredId {
                cert_id: id(n),
                purged: n == 4 || n == 5,
            })
            .collect();
        assert_eq!(store.list_ids(None, 100).unwrap(), want);
        // Paging by the last id seen gives every id once, in order.
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = store.list_ids(after, 3).unwrap();
            assert!(page.len() <= 3);
            let Some(last) = page.last() else { break };
            after = Some(last.cert_id);
            seen.extend(page);
        }
        assert_eq!(seen, want);
        assert!(store.list_ids(Some(id(0xFF00_0000)), 5).unwrap().is_empty());
        assert!(store.list_ids(None, 0).unwrap().is_empty());
    }

    pub(super) fn put_purged_records_a_tombstone(store: &dyn VaultStore) {
        store.put_purged(id(1)).unwrap();
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), None);
        assert!(store.list_recipients(id(1)).unwrap().is_empty());
        assert!(matches!(
            store.put_certificate(id(1), &body(1), &[]),
            Err(StoreError::Purged(_))
        ));
        assert!(matches!(
            store.add_envelope(id(1), "broker", b"b"),
            Err(StoreError::Purged(_))
        ));
        assert!(matches!(
            store.put_purged(id(1)),
            Err(StoreError::Purged(_))
        ));
        put(store, 2, &["importer"]);
        assert!(matches!(
            store.put_purged(id(2)),
            Err(StoreError::AlreadyExists(_))
        ));
        assert_eq!(store.get_ciphertext(id(2)).unwrap(), Some(body(2)));
    }

    pub(super) fn concurrent_writers(store: Arc<dyn VaultStore>) {
        let threads: Vec<_> = (0..8u32)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0..40 {
                        put(&*store, t * 1000 + i, &["importer", "customs"]);
                    }
                    // Same-certificate races: a grant and a purge, in either order, stay consistent.
                    let shared = id(t * 1000);
                    let _ = store.add_envelope(shared, "broker", b"b");
                    store.purge(id(t * 1000 + 1)).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        for t in 0..8u32 {
            for i in 2..40 {
                assert_eq!(
                    store.get_ciphertext(id(t * 1000 + i)).unwrap(),
                    Some(body(t * 1000 + i))
                );
            }
            assert_eq!(store.get_ciphertext(id(t * 1000 + 1)).unwrap(), None);
            assert_eq!(
                store.list_recipients(id(t * 1000)).unwrap(),
                ["broker", "customs", "importer"]
            );
        }
    }
}

macro_rules! contract_tests {
    ($module:ident, $make:expr) => {
        mod $module {
            use super::*;

            #[test]
            fn put_then_get() {
                let (_dir, store) = $make;
                contract::put_then_get(&*store);
            }
            #[test]
            fn put_refuses_an_existing_id() {
                let (_dir, store) = $make;
                contract::put_refuses_an_existing_id(&*store);
            }
            #[test]
            fn a_refused_put_leaves_nothing() {
                let (_dir, store) = $make;
                contract::a_refused_put_leaves_nothing(&*store);
            }
            #[test]
            fn batch_put_stores_all() {
                let (_dir, store) = $make;
                contract::batch_put_stores_all(&*store);
            }
            #[test]
            fn grant_and_revoke() {
                let (_dir, store) = $make;
                contract::grant_and_revoke(&*store);
            }
            #[test]
            fn purge_removes_everything() {
                let (_dir, store) = $make;
                contract::purge_removes_everything(&*store);
            }
            #[test]
            fn list_ids_pages_through_live_and_purged_in_order() {
                let (_dir, store) = $make;
                contract::list_ids_pages_through_live_and_purged_in_order(&*store);
            }
            #[test]
            fn put_purged_records_a_tombstone() {
                let (_dir, store) = $make;
                contract::put_purged_records_a_tombstone(&*store);
            }
            #[test]
            fn concurrent_writers() {
                let (_dir, store) = $make;
                contract::concurrent_writers(store);
            }
        }
    };
}

fn memory() -> (Option<tempfile::TempDir>, Arc<dyn VaultStore>) {
    (None, Arc::new(MemoryVaultStore::new()))
}

fn fs() -> (Option<tempfile::TempDir>, Arc<dyn VaultStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store = FsVaultStore::open(dir.path()).unwrap();
    (Some(dir), Arc::new(store))
}

/// A store on a fresh database of this binary's throwaway PostgreSQL cluster.
fn pg() -> (Option<tempfile::TempDir>, Arc<dyn VaultStore>) {
    let store = PgVaultStore::open(&pg_cluster::fresh_database(), 16).unwrap();
    (None, Arc::new(store))
}

contract_tests!(memory_store, memory());
contract_tests!(pg_store, pg());
contract_tests!(fs_store, fs());
contract_tests!(fs_inline_baseline, {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn VaultStore> =
        Arc::new(FsVaultStore::open_inline_baseline(dir.path()).unwrap());
    (Some(dir), store)
});

mod memory_faults {
    use super::*;

    #[test]
    fn a_failed_sync_leaves_nothing() {
        let store = MemoryVaultStore::new();
        store.fail_next_sync();
        assert!(matches!(
            store.put_certificate(id(1), &body(1), &[("a", b"e")]),
            Err(StoreError::Io(_))
        ));
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), None);
        put(&store, 1, &["importer"]);
        store.fail_next_sync();
        assert!(store.add_envelope(id(1), "customs", b"c").is_err());
        assert_eq!(store.get_envelope(id(1), "customs").unwrap(), None);
        store.fail_next_sync();
        assert!(store.purge(id(1)).is_err());
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), Some(body(1)));
        store.fail_next_sync();
        assert!(store.remove_envelope(id(1), "importer").is_err());
        assert_eq!(store.list_recipients(id(1)).unwrap(), ["importer"]);
    }
}

mod fs_only {
    use super::*;

    fn segment_files(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut files: Vec<_> = std::fs::read_dir(dir.join("segments"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        files
    }

    #[test]
    fn reopen_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = FsVaultStore::open(dir.path()).unwrap();
            put(&store, 1, &["importer", "customs"]);
            put(&store, 2, &["importer"]);
            store.add_envelope(id(2), "broker", b"broker").unwrap();
            store.remove_envelope(id(1), "customs").unwrap();
            store.purge(id(2)).unwrap();
        }
        let store = FsVaultStore::open(dir.path()).unwrap();
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), Some(body(1)));
        assert_eq!(store.list_recipients(id(1)).unwrap(), ["importer"]);
        assert_eq!(store.get_ciphertext(id(2)).unwrap(), None);
        assert!(matches!(
            store.put_certificate(id(2), b"x", &[]),
            Err(StoreError::Purged(_))
        ));
        put(&store, 3, &["customs"]);
        assert_eq!(store.get_ciphertext(id(3)).unwrap(), Some(body(3)));
    }

    #[test]
    fn a_corrupted_segment_byte_is_detected() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsVaultStore::open(dir.path()).unwrap();
        put(&store, 1, &["importer"]);
        put(&store, 2, &["importer"]);
        let segment = &segment_files(dir.path())[0];
        let mut bytes = std::fs::read(segment).unwrap();
        // Inside the first record's body (28-byte header).
        bytes[28 + 4000] ^= 0x01;
        std::fs::write(segment, &bytes).unwrap();
        let err = store.get_ciphertext(id(1)).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt(_)), "{err}");
        assert_eq!(store.get_ciphertext(id(2)).unwrap(), Some(body(2)));
    }

    #[test]
    fn a_torn_tail_is_ignored_and_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = FsVaultStore::open(dir.path()).unwrap();
            put(&store, 1, &["importer"]);
        }
        // A crash during an unacknowledged append leaves a partial record that no index entry names.
        let segment = segment_files(dir.path())[0].clone();
        let mut bytes = std::fs::read(&segment).unwrap();
        bytes.extend_from_slice(&b"TLV1"[..]);
        bytes.extend_from_slice(&[0x55; 300]);
        std::fs::write(&segment, &bytes).unwrap();
        let store = FsVaultStore::open(dir.path()).unwrap();
        put(&store, 2, &["importer"]);
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), Some(body(1)));
        assert_eq!(store.get_ciphertext(id(2)).unwrap(), Some(body(2)));
    }

    #[test]
    fn purge_overwrites_the_ciphertext_on_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsVaultStore::open(dir.path()).unwrap();
        put(&store, 1, &["importer"]);
        put(&store, 2, &["importer"]);
        store.purge(id(1)).unwrap();
        let all: Vec<u8> = segment_files(dir.path())
            .iter()
            .flat_map(|f| std::fs::read(f).unwrap())
            .collect();
        let contains = |needle: &[u8]| all.windows(needle.len()).any(|w| w == needle);
        assert!(
            !contains(&body(1)[100..164]),
            "purged bytes still in a segment"
        );
        assert!(contains(&body(2)[100..164]));
    }

    #[test]
    fn an_interrupted_purge_is_finished_on_open() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = FsVaultStore::open(dir.path()).unwrap();
            put(&store, 1, &["importer", "customs"]);
        }
        {
            // A crash right after the purge intent became durable: only the intent is on disk.
            let db = sled::open(dir.path().join("index")).unwrap();
            let mut key = vec![b'p'];
            key.extend_from_slice(id(1).as_bytes());
            db.insert(key, &[]).unwrap();
            db.flush().unwrap();
        }
        let store = FsVaultStore::open(dir.path()).unwrap();
        assert_eq!(store.get_ciphertext(id(1)).unwrap(), None);
        assert!(store.list_recipients(id(1)).unwrap().is_empty());
        assert!(matches!(store.purge(id(1)), Err(StoreError::Purged(_))));
        let segment = std::fs::read(&segment_files(dir.path())[0]).unwrap();
        let needle = &body(1)[100..164];
        assert!(!segment.windows(64).any(|w| w == needle));
    }

    /// The child side of `acknowledged_puts_survive_sigkill`: writes until killed.
    #[test]
    fn crash_child() {
        let Some(dir) = std::env::var_os("VAULT_CRASH_DIR") else {
            return;
        };
        let store = Arc::new(FsVaultStore::open(Path::new(&dir)).unwrap());
        let round: u32 = std::env::var("VAULT_CRASH_ROUND").unwrap().parse().unwrap();
        let writers: Vec<_> = (0..4u32)
            .map(|t| {
                let store = Arc::clone(&store);
                std::thread::spawn(move || {
                    for i in 0.. {
                        let n = round * 1_000_000 + t * 100_000 + i;
                        put(&*store, n, &["importer", "customs"]);
                        if i % 7 == 3 {
                            store.add_envelope(id(n), "broker", b"broker").unwrap();
                        }
                        // The parent stops reading before it kills us: ignore the broken pipe.
                        let line = format!("acked {n} {}\n", u8::from(i % 7 == 3));
                        let _ = std::io::Write::write_all(
                            &mut std::io::stdout().lock(),
                            line.as_bytes(),
                        );
                    }
                })
            })
            .collect();
        for w in writers {
            w.join().unwrap();
        }
    }

    #[test]
    fn acknowledged_puts_survive_sigkill() {
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        let mut acked: Vec<(u32, bool)> = Vec::new();
        for round in 1..=6u32 {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--exact",
                    "fs_only::crash_child",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("VAULT_CRASH_DIR", dir.path())
                .env("VAULT_CRASH_ROUND", round.to_string())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
            let target = 20 + 37 * round as usize;
            let mut seen = 0;
            for line in lines {
                let line = line.unwrap();
                let Some(rest) = line.strip_prefix("acked ") else {
                    continue;
                };
                let (n, granted) = rest.split_once(' ').unwrap();
                acked.push((n.parse().unwrap(), granted == "1"));
                seen += 1;
                if seen == target {
                    break;
                }
            }
            child.kill().unwrap(); // SIGKILL: no destructor, no flush, sled's buffers lost
            child.wait().unwrap();
            let store = FsVaultStore::open(dir.path()).unwrap();
            for (n, granted) in &acked {
                assert_eq!(
                    store.get_ciphertext(id(*n)).unwrap(),
                    Some(body(*n)),
                    "round {round}"
                );
                let mut expected = vec!["customs", "importer"];
                if *granted {
                    expected.insert(0, "broker");
                }
                assert_eq!(
                    store.list_recipients(id(*n)).unwrap(),
                    expected,
                    "round {round}"
                );
            }
        }
    }
}
