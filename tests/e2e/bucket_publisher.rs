//! The S3 client and the publisher against moto, without a service: moto's conditional writes, two publishers
//! racing on one bucket, another log's publisher refused, and a publishing rate.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use ledger::{FsStore, Log, NoteSigner};
use tradeledger::bucket::{BucketError, Publisher, Put, S3};

use crate::bucket::note_size;
use crate::moto::Moto;

#[tokio::test]
async fn moto_enforces_conditional_writes() {
    let moto = Moto::start();
    let s3 = moto.bucket("tl-conditional", "p").await;
    assert_eq!(
        s3.put_new("k", b"one".to_vec(), "no-cache").await.unwrap(),
        Put::Written
    );
    assert_eq!(
        s3.put_new("k", b"two".to_vec(), "no-cache").await.unwrap(),
        Put::PreconditionFailed,
        "If-None-Match: * must refuse to overwrite"
    );
    let first = s3.get("k").await.unwrap().unwrap();
    assert_eq!(first.bytes, b"one");
    let etag = first.etag.clone().expect("moto sends an ETag");
    assert_eq!(
        s3.put_replacing(
            "k",
            b"three".to_vec(),
            "no-cache",
            "\"0123456789abcdef0123456789abcdef\""
        )
        .await
        .unwrap(),
        Put::PreconditionFailed,
        "If-Match on a stale ETag must fail"
    );
    assert_eq!(
        s3.put_replacing("k", b"three".to_vec(), "no-cache", &etag)
            .await
            .unwrap(),
        Put::Written
    );
    assert_eq!(s3.get("k").await.unwrap().unwrap().bytes, b"three");
    assert_eq!(
        s3.put_replacing("k", b"four".to_vec(), "no-cache", &etag)
            .await
            .unwrap(),
        Put::PreconditionFailed,
        "the ETag read before the last write is stale now"
    );
    assert_eq!(s3.head("missing").await.unwrap(), None);
    assert!(s3.get("missing").await.unwrap().is_none());
    // The public prefix is readable without credentials, as audit --tiles reads it.
    let anonymous = reqwest::get(format!("{}/k", moto.public_url("tl-conditional", "p")))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 200);
    assert_eq!(anonymous.bytes().await.unwrap().as_ref(), b"three");
}

/// A log of `sizes.last()` entries and its checkpoint note at each of `sizes`.
fn grow_log(dir: &std::path::Path, name: &str, sizes: &[u64]) -> (Arc<Log>, Vec<(u64, Vec<u8>)>) {
    let signer = NoteSigner::generate(name).unwrap();
    let log = Arc::new(Log::open(FsStore::open(dir).unwrap(), signer, name).unwrap());
    let mut notes = Vec::new();
    for &size in sizes {
        let entries = (log.size()..size)
            .map(|i| format!("{name} entry {i}").into_bytes())
            .collect();
        log.append_batch(entries).unwrap();
        assert_eq!(log.size(), size);
        notes.push((size, log.checkpoint()));
    }
    (log, notes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_publishers_racing_publish_identical_objects_and_the_checkpoint_only_grows() {
    let moto = Moto::start();
    let s3 = moto.bucket("tl-race", "race").await;
    let dir = tempfile::tempdir().unwrap();
    // Past 2 × 256 entries, so full tiles, partial tiles and a level-1 tile are all raced for.
    let sizes = [1, 2, 37, 255, 256, 257, 300, 511, 512, 513, 700];
    let (log, notes) = grow_log(dir.path(), "example.com/race", &sizes);
    let first = Publisher::new(
        S3::new(&moto.location("tl-race", "race")).unwrap(),
        log.clone(),
    );
    let second = Publisher::new(
        S3::new(&moto.location("tl-race", "race")).unwrap(),
        log.clone(),
    );

    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let done = done.clone();
        let s3 = S3::new(&moto.location("tl-race", "race")).unwrap();
        tokio::spawn(async move {
            let mut seen = vec![0u64];
            while !done.load(Ordering::Relaxed) {
                if let Some(object) = s3.get("checkpoint").await.unwrap() {
                    let size = note_size(&object.bytes);
                    assert!(
                        size >= *seen.last().unwrap(),
                        "the checkpoint went back: {seen:?} then {size}"
                    );
                    seen.push(size);
                }
            }
            seen
        })
    };
    let race = |publisher: Publisher| {
        let notes = notes.clone();
        tokio::spawn(async move {
            for (size, note) in &notes {
                let now = publisher.publish(*size, note).await.unwrap();
                assert!(now >= *size, "published {size}, the bucket says {now}");
            }
        })
    };
    let (a, b) = tokio::join!(race(first), race(second));
    a.unwrap();
    b.unwrap();
    done.store(true, Ordering::Relaxed);
    let seen = watcher.await.unwrap();
    assert!(seen.len() > 1, "the watcher never saw a checkpoint");

    let (last_size, last_note) = notes.last().unwrap();
    assert_eq!(
        s3.get("checkpoint").await.unwrap().unwrap().bytes,
        *last_note
    );
    // Every object either publisher could have written holds exactly the log's bytes.
    let mut checked = 0;
    for &size in &sizes {
        let (index, width) = (size / 256, size % 256);
        let partial = |kind: &str| match width {
            0 => format!("tile/{kind}/{index:03}"),
            w => format!("tile/{kind}/{index:03}.p/{w}"),
        };
        for (name, expected) in [
            (
                partial("0"),
                log.read_tile(0, index, u8::try_from(width).ok().filter(|w| *w > 0))
                    .ok(),
            ),
            (
                partial("entries"),
                log.read_entry_bundle(index, u8::try_from(width).ok().filter(|w| *w > 0))
                    .ok(),
            ),
        ] {
            if let (Some(object), Some(expected)) = (s3.get(&name).await.unwrap(), expected) {
                assert_eq!(object.bytes, expected, "{name}");
                checked += 1;
            }
        }
    }
    assert_eq!(
        s3.get("tile/1/000.p/2").await.unwrap().unwrap().bytes,
        log.read_tile(1, 0, Some(2)).unwrap()
    );
    assert!(checked >= 6, "too few objects compared ({checked})");
    assert_eq!(*last_size, 700);

    // Another log (another key, other entries) publishing to the same prefix is refused, not merged.
    let other_dir = tempfile::tempdir().unwrap();
    let (other, other_notes) = grow_log(other_dir.path(), "example.com/other", &[800]);
    let intruder = Publisher::new(S3::new(&moto.location("tl-race", "race")).unwrap(), other);
    let (size, note) = &other_notes[0];
    let refused = intruder.publish(*size, note).await.unwrap_err();
    assert!(refused.is_fatal(), "{refused}");
    assert!(
        matches!(refused, BucketError::ForeignCheckpoint(_)),
        "{refused}"
    );
    assert_eq!(
        s3.get("checkpoint").await.unwrap().unwrap().bytes,
        *last_note
    );
}

/// A figure for docs/distributed.md: how fast one publisher fills an empty moto bucket from a log of 70,000
/// entries (about 560 objects), and how long one small round takes. Run with
/// `cargo test -p tradeledger --test e2e measure_publish_rate -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, not a check"]
async fn measure_publish_rate() {
    let moto = Moto::start();
    moto.bucket("tl-measure", "").await;
    let dir = tempfile::tempdir().unwrap();
    let (log, notes) = grow_log(dir.path(), "example.com/measure", &[70_000, 70_010]);
    let publisher = Publisher::new(S3::new(&moto.location("tl-measure", "")).unwrap(), log);
    let (size, note) = &notes[0];
    let started = Instant::now();
    assert_eq!(publisher.publish(*size, note).await.unwrap(), *size);
    let fill = started.elapsed();
    let (next, next_note) = &notes[1];
    let started = Instant::now();
    assert_eq!(publisher.publish(*next, next_note).await.unwrap(), *next);
    let round = started.elapsed();
    println!(
        "filled {size} entries in {:.2} s ({:.0} entries/s); one round of 10 more entries: {:.1} ms",
        fill.as_secs_f64(),
        *size as f64 / fill.as_secs_f64(),
        round.as_secs_f64() * 1000.0
    );
}
