//! A failed sync: the caller gets the error, the store refuses further writes, and after reopening
//! the failed put is wholly there or wholly absent.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::Ordering;

use super::*;

#[test]
fn a_failed_sync_poisons_until_reopened() {
    let dir = tempfile::tempdir().unwrap();
    let (body, envelopes) = (
        vec![7u8; 9000],
        [("importer", &b"i"[..]), ("customs", &b"c"[..])],
    );
    {
        let store = FsVaultStore::open(dir.path()).unwrap();
        store
            .put_certificate(CertId([1; 16]), &body, &envelopes)
            .unwrap();
        store.fail_next_sync.store(true, Ordering::SeqCst);
        let err = store
            .put_certificate(CertId([2; 16]), &body, &envelopes)
            .unwrap_err();
        assert!(matches!(err, StoreError::Io(_)), "{err}");
        let later = store.put_certificate(CertId([3; 16]), &body, &envelopes);
        assert!(matches!(later, Err(StoreError::Poisoned)));
        assert!(matches!(
            store.purge(CertId([1; 16])),
            Err(StoreError::Poisoned)
        ));
        // Reads still answer from what is known to be durable.
        assert_eq!(
            store.get_ciphertext(CertId([1; 16])).unwrap(),
            Some(body.clone())
        );
    }
    let store = FsVaultStore::open(dir.path()).unwrap();
    assert_eq!(
        store.get_ciphertext(CertId([1; 16])).unwrap(),
        Some(body.clone())
    );
    match store.get_ciphertext(CertId([2; 16])).unwrap() {
        Some(stored) => {
            assert_eq!(stored, body);
            assert_eq!(
                store.list_recipients(CertId([2; 16])).unwrap(),
                ["customs", "importer"]
            );
        }
        None => assert!(store.list_recipients(CertId([2; 16])).unwrap().is_empty()),
    }
    assert_eq!(store.get_ciphertext(CertId([3; 16])).unwrap(), None);
    store
        .put_certificate(CertId([3; 16]), &body, &envelopes)
        .unwrap();
}

#[test]
fn index_writes_cut_short_are_completed_on_open() {
    // A commit's index entries are written key by key and a crash keeps a prefix of sled's log (see
    // `writes`): here only the first of a batch's three entries, and no checkpoint after them.
    let dir = tempfile::tempdir().unwrap();
    let body = vec![7u8; 9000];
    let envelopes = [("importer", &b"i"[..]), ("customs", &b"c"[..])];
    let ids = [CertId([1; 16]), CertId([2; 16]), CertId([3; 16])];
    {
        let store = FsVaultStore::open(dir.path()).unwrap();
        let certs: Vec<_> = ids
            .iter()
            .map(|&cert_id| NewCertificate {
                cert_id,
                ciphertext: &body,
                envelopes: &envelopes,
            })
            .collect();
        store.put_certificates(&certs).unwrap();
    }
    {
        let db = sled::open(dir.path().join("index")).unwrap();
        let start = index::encode_checkpoint(0, 0);
        db.insert(index::checkpoint_key(), &start).unwrap();
        for id in &ids[1..] {
            db.remove(index::index_key(*id)).unwrap();
        }
        db.flush().unwrap();
    }
    let store = FsVaultStore::open(dir.path()).unwrap();
    for id in ids {
        assert_eq!(store.get_ciphertext(id).unwrap(), Some(body.clone()));
        assert_eq!(store.list_recipients(id).unwrap(), ["customs", "importer"]);
    }
}
