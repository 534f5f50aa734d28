//! Grouped access receipts against a real log: concurrent releases share entries signed by the log key, each
//! opener gets the index of an entry that lists its release, and each is told "queued" before "done".
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ledger::{CertId, Entry, PartyId, Release, Role, SignedEntry};
use vault::PartyKeys;

use crate::server::{AppState, ServeConfig};

fn state() -> (tempfile::TempDir, Arc<AppState>) {
    let dir = tempfile::tempdir().unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let config = ServeConfig::new(dir.path().join("data"), operator.public());
    let state = Arc::new(AppState::open(config).unwrap());
    (dir, state)
}

fn release(i: u8) -> Release {
    Release {
        cert_id: CertId([i; 16]),
        grant: [i.wrapping_add(1); 32],
    }
}

fn logged(state: &AppState, index: u64) -> SignedEntry {
    SignedEntry::decode(&state.log.entry(index).unwrap()).unwrap()
}

#[test]
fn a_lone_release_is_logged_at_once_in_its_own_entry() {
    let (_dir, state) = state();
    let queued = AtomicBool::new(false);
    let index = state
        .releases
        .log(&state, release(7), || queued.store(true, Ordering::SeqCst))
        .unwrap();
    assert!(queued.load(Ordering::SeqCst));
    let entry = logged(&state, index);
    assert_eq!(entry.signer().as_str(), "log");
    entry
        .verify(&state.log_key.signing_key().verifying_key())
        .unwrap();
    assert!(matches!(entry.entry(), Entry::AccessReceipts { .. }));
    assert_eq!(entry.entry().releases(), vec![release(7)]);
}

#[test]
fn concurrent_releases_share_signed_entries_and_each_finds_its_own() {
    let (_dir, state) = state();
    let before = state.log.size();
    let openers = 48u8;
    let outcomes: Vec<(u8, u64, bool)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..openers)
            .map(|i| {
                let state = &state;
                s.spawn(move || {
                    let queued = AtomicBool::new(false);
                    let index = state
                        .releases
                        .log(state, release(i), || queued.store(true, Ordering::SeqCst))
                        .unwrap();
                    (i, index, queued.load(Ordering::SeqCst))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let key = state.log_key.signing_key().verifying_key();
    let mut entries = BTreeMap::new();
    for (i, index, queued) in &outcomes {
        assert!(
            queued,
            "opener {i} was answered without being told its entry is queued"
        );
        let entry = entries
            .entry(*index)
            .or_insert_with(|| logged(&state, *index));
        entry.verify(&key).unwrap();
        assert!(
            entry.entry().releases().contains(&release(*i)),
            "entry {index} does not list opener {i}'s release"
        );
    }
    // Every release is in exactly one entry, and the log holds nothing else from these openers.
    let listed: usize = entries.values().map(|e| e.entry().releases().len()).sum();
    assert_eq!(listed, usize::from(openers));
    let appended = usize::try_from(state.log.size() - before).unwrap();
    assert_eq!(appended, entries.len());
    // While one group is committed the others wait and go together: fewer entries than releases.
    assert!(
        entries.len() < usize::from(openers),
        "{} entries for {openers} concurrent releases: nothing was shared",
        entries.len()
    );
    // Nothing is left waiting, and the next lone release leads at once.
    let index = state.releases.log(&state, release(200), || {}).unwrap();
    assert_eq!(logged(&state, index).entry().releases(), vec![release(200)]);
}
