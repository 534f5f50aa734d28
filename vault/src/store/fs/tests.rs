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
