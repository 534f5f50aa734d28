//! The `VaultStore` contract (support/contract.rs), run against every implementation (memory, disk,
//! PostgreSQL, PostgreSQL with blobs), plus the disk store's own cases (reopen, corruption, torn tails, interrupted purges). PostgreSQL's own cases are in
//! pg_store.rs.
#![allow(clippy::unwrap_used)]

#[path = "support/pg_cluster.rs"]
mod pg_cluster;

use std::path::Path;
use std::sync::Arc;

use vault::{
    FsVaultStore, MemoryBlobStore, MemoryVaultStore, PgVaultStore, StoreError, VaultStore,
};

#[path = "support/contract.rs"]
mod contract;

use contract::{body, id, put};

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

/// The same, with the ciphertexts as blobs of an in-memory blob store (the bucket's stand-in; tests/e2e runs
/// the contract against a real S3 server too).
fn pg_blobs() -> (Option<tempfile::TempDir>, Arc<dyn VaultStore>) {
    let pool = vault::PgPool::connect(&pg_cluster::fresh_database(), 16).unwrap();
    let store = PgVaultStore::with_blobs(pool, Arc::new(MemoryBlobStore::new())).unwrap();
    (None, Arc::new(store))
}

contract_tests!(memory_store, memory());
contract_tests!(pg_store, pg());
contract_tests!(pg_blob_store, pg_blobs());
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
    fn a_segment_cut_short_under_a_record_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let store = FsVaultStore::open(dir.path()).unwrap();
        put(&store, 1, &["importer"]);
        put(&store, 2, &["importer"]);
        let segment = segment_files(dir.path())[0].clone();
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(&segment)
            .unwrap();
        let len = file.metadata().unwrap().len();
        // The two records are the same length. Into the second one's payload, then into its header.
        for cut in [len - 100, len / 2 + 10] {
            file.set_len(cut).unwrap();
            let err = store.get_ciphertext(id(2)).unwrap_err();
            assert!(matches!(err, StoreError::Corrupt(_)), "cut at {cut}: {err}");
            assert_eq!(store.get_ciphertext(id(1)).unwrap(), Some(body(1)));
        }
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
