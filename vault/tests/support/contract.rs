//! The `VaultStore` contract as functions over `&dyn VaultStore`, shared by vault/tests/store.rs (memory,
//! disk, PostgreSQL) and tests/e2e/vault_bucket.rs (PostgreSQL with the ciphertexts in a real S3 server).
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use vault::{CertId, NewCertificate, StoreError, StoredId, VaultStore};

pub(crate) fn id(n: u32) -> CertId {
    let mut id = [0xA5u8; 16];
    id[..4].copy_from_slice(&n.to_be_bytes());
    CertId(id)
}

/// A ciphertext of 8.6 KB, distinct per certificate.
pub(crate) fn body(n: u32) -> Vec<u8> {
    (0..8600u32)
        .map(|i| (i.wrapping_mul(31) ^ n.wrapping_mul(7919)).to_le_bytes()[0])
        .collect()
}

pub(crate) fn put(store: &dyn VaultStore, n: u32, parties: &[&str]) {
    let envelopes: Vec<(&str, &[u8])> = parties.iter().map(|p| (*p, p.as_bytes())).collect();
    store.put_certificate(id(n), &body(n), &envelopes).unwrap();
}

pub(crate) fn put_then_get(store: &dyn VaultStore) {
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

pub(crate) fn put_refuses_an_existing_id(store: &dyn VaultStore) {
    put(store, 1, &["importer"]);
    let err = store
        .put_certificate(id(1), b"other", &[("x", b"y")])
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err}");
    assert_eq!(store.get_ciphertext(id(1)).unwrap(), Some(body(1)));
    assert_eq!(store.list_recipients(id(1)).unwrap(), ["importer"]);
}

pub(crate) fn a_refused_put_leaves_nothing(store: &dyn VaultStore) {
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

pub(crate) fn batch_put_stores_all(store: &dyn VaultStore) {
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

pub(crate) fn grant_and_revoke(store: &dyn VaultStore) {
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

pub(crate) fn purge_removes_everything(store: &dyn VaultStore) {
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

pub(crate) fn list_ids_pages_through_live_and_purged_in_order(store: &dyn VaultStore) {
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

pub(crate) fn put_purged_records_a_tombstone(store: &dyn VaultStore) {
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

pub(crate) fn concurrent_writers(store: Arc<dyn VaultStore>) {
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
