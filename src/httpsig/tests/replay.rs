//! The replay memory: replays refused, expiry, pressure, threads, and fair shares.

use super::*;

#[test]
fn replays_are_refused() {
    let guard = ReplayGuard::default();
    let headers = signed("POST", "/p", BODY);
    assert!(verify_request("POST", "/p", &headers, BODY, NOW, lookup, &guard).is_ok());
    assert_eq!(
        verify_request("POST", "/p", &headers, BODY, NOW + 10, lookup, &guard),
        Err(SigError::ReplayedRequest)
    );
    // The same nonce from another party is another request.
    let n = "AAAAAAAAAAAAAAAAAAAAAA";
    let a = to_map(sign_with_nonce("POST", "/p", BODY, "importer-1", &key(1), NOW, n).unwrap());
    let b = to_map(sign_with_nonce("POST", "/p", BODY, "customs-cbp", &key(2), NOW, n).unwrap());
    assert!(verify_request("POST", "/p", &a, BODY, NOW, lookup, &guard).is_ok());
    assert!(verify_request("POST", "/p", &b, BODY, NOW, lookup, &guard).is_ok());
    // A failed verification does not consume the nonce.
    let c = to_map(
        sign_with_nonce(
            "POST",
            "/p",
            BODY,
            "customs-cbp",
            &key(2),
            NOW,
            "BBBBBBBBBBBBBBBBBBBBBA",
        )
        .unwrap(),
    );
    assert_eq!(
        verify_request("PUT", "/p", &c, BODY, NOW, lookup, &guard),
        Err(SigError::BadSignature)
    );
    assert!(verify_request("POST", "/p", &c, BODY, NOW, lookup, &guard).is_ok());
}

#[test]
fn replay_guard_expires_and_refuses_under_pressure() {
    let guard = ReplayGuard::new(ReplayConfig {
        max_skew_secs: 10,
        max_entries_per_party: 3,
        max_entries_total: 5,
    });
    for i in 0..3 {
        guard
            .check_and_insert("a", &format!("n{i}"), NOW, NOW)
            .unwrap();
    }
    assert_eq!(
        guard.check_and_insert("a", "n3", NOW, NOW),
        Err(SigError::ReplayQuotaExceeded)
    );
    guard.check_and_insert("b", "n0", NOW, NOW).unwrap();
    guard.check_and_insert("c", "n0", NOW, NOW).unwrap();
    assert_eq!(
        guard.check_and_insert("d", "n0", NOW, NOW),
        Err(SigError::ReplayCacheFull)
    );
    assert_eq!(guard.len(), 5);
    // Still inside the window: still remembered.
    assert_eq!(
        guard.check_and_insert("a", "n0", NOW, NOW + 10),
        Err(SigError::ReplayedRequest)
    );
    // Past created + skew: forgotten, memory released, new requests accepted.
    guard
        .check_and_insert("d", "n0", NOW + 11, NOW + 11)
        .unwrap();
    assert_eq!(guard.len(), 1);
    guard
        .check_and_insert("a", "n3", NOW + 11, NOW + 11)
        .unwrap();
}

#[test]
fn replay_guard_is_thread_safe() {
    let guard = std::sync::Arc::new(ReplayGuard::default());
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let guard = guard.clone();
            std::thread::spawn(move || {
                (0..1000)
                    .filter(|i| {
                        guard
                            .check_and_insert(&format!("p{}", i % 7), &format!("n{i}"), NOW, NOW)
                            .is_ok()
                    })
                    .count()
            })
        })
        .collect();
    let accepted: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
    // Four threads race on the same 1000 (party, nonce) pairs: each pair is accepted exactly once.
    assert_eq!(accepted, 1000);
    assert_eq!(guard.len(), 1000);
}

#[test]
fn one_party_cannot_take_more_than_its_share_of_the_replay_memory() {
    let guard = ReplayGuard::new(ReplayConfig {
        max_skew_secs: 10,
        max_entries_per_party: 1_000,
        max_entries_total: 60,
    });
    guard.set_party_count(6);
    for i in 0..10 {
        guard
            .check_and_insert("noisy", &format!("n{i}"), NOW, NOW)
            .unwrap();
    }
    assert_eq!(
        guard.check_and_insert("noisy", "n10", NOW, NOW),
        Err(SigError::ReplayQuotaExceeded)
    );
    // Every other party still has its whole share, so the total is never reached.
    for party in ["a", "b", "c", "d", "e"] {
        for i in 0..10 {
            guard
                .check_and_insert(party, &format!("n{i}"), NOW, NOW)
                .unwrap();
        }
    }
    assert_eq!(guard.len(), 60);
}
