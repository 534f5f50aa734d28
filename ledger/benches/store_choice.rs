//! The measurement behind FsStore's layout: one group commit of 256 entries of 200 bytes (plus their leaf
//! hashes) made durable three ways. Run: `cargo bench -p ledger --bench store_choice`.
//!
//! (a) sled 0.34: entries and hashes inserted as one batch, `flush()`, then a real fdatasync of sled's `db`
//!     file (flush alone is only sync_file_range).
//! (b) tile files as the spec lays them out: per commit the partial entry bundle and partial level-0 tile are
//!     rewritten atomically (write temp, fsync, rename) and the directory fsynced.
//! (c) FsStore: entries and leaf hashes appended to one journal, one fdatasync; tile hash files are synced only
//!     when a checkpoint is stored (every 500 ms), not per commit.
#![allow(missing_docs, clippy::unwrap_used)]

mod common;

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{disk_bytes, entry, header, row, tempdir};
use ledger::{Batch, FsStore, Store, leaf_hash};

const COMMITS: u64 = 150;
const GROUP: u64 = 256;

fn group(c: u64) -> Vec<(Vec<u8>, [u8; 32])> {
    (0..GROUP)
        .map(|i| entry(0, c * GROUP + i))
        .map(|e| {
            let h = leaf_hash(&e);
            (e, h)
        })
        .collect()
}

fn measure(name: &str, dir: &Path, mut commit: impl FnMut(u64)) {
    let mut lat = Vec::new();
    let start = Instant::now();
    for c in 0..COMMITS {
        let t = Instant::now();
        commit(c);
        lat.push(t.elapsed());
    }
    let wall = start.elapsed();
    row(
        &format!("{name}: commits of {GROUP}"),
        lat.clone(),
        wall,
        COMMITS,
    );
    let entries = COMMITS * GROUP;
    println!(
        "  => {:.0} durable entries/s, {:.1} bytes on disk per 200-byte entry",
        entries as f64 / wall.as_secs_f64(),
        disk_bytes(dir) as f64 / entries as f64
    );
}

fn atomic_write(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!("{name}.tmp"));
    let mut f = File::create(&tmp).unwrap();
    f.write_all(bytes).unwrap();
    f.sync_all().unwrap();
    std::fs::rename(tmp, dir.join(name)).unwrap();
}

fn main() {
    header();
    // (a) sled.
    let dir = tempdir();
    let db = sled::open(dir.path().join("sled")).unwrap();
    let entries = db.open_tree("entries").unwrap();
    let hashes = db.open_tree("level0").unwrap();
    let db_file = File::open(dir.path().join("sled").join("db")).unwrap();
    measure("sled insert+flush+fdatasync", dir.path(), |c| {
        let (mut eb, mut hb) = (sled::Batch::default(), sled::Batch::default());
        for (i, (e, h)) in (c * GROUP..).zip(group(c)) {
            eb.insert(&i.to_be_bytes(), e);
            hb.insert(&i.to_be_bytes(), &h);
        }
        entries.apply_batch(eb).unwrap();
        hashes.apply_batch(hb).unwrap();
        db.flush().unwrap();
        db_file.sync_data().unwrap();
    });
    drop(db);

    // (b) tile files rewritten per commit.
    let dir = tempdir();
    let (mut bundle, mut tile) = (Vec::new(), Vec::new());
    let dir_file = File::open(dir.path()).unwrap();
    measure("tile files, atomic partial rewrite", dir.path(), |c| {
        // One commit of 256 fills exactly one bundle and one tile: write them as the spec names them.
        bundle.clear();
        tile.clear();
        for (e, h) in group(c) {
            bundle.extend_from_slice(&u16::try_from(e.len()).unwrap().to_be_bytes());
            bundle.extend_from_slice(&e);
            tile.extend_from_slice(&h);
        }
        atomic_write(dir.path(), &format!("bundle-{c}"), &bundle);
        atomic_write(dir.path(), &format!("tile0-{c}"), &tile);
        dir_file.sync_all().unwrap();
    });

    // (c) FsStore's journal.
    let dir = tempdir();
    let store = FsStore::open(dir.path()).unwrap();
    store.recover(0).unwrap();
    measure("FsStore journal append+fdatasync", dir.path(), |c| {
        store
            .append(&Batch {
                first: c * GROUP,
                entries: group(c),
                tiles: Vec::new(),
            })
            .unwrap();
        store.sync().unwrap();
    });
    let _ = Duration::ZERO;
}
