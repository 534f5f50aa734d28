//! Reads the embedded registry's file once, in the background, so that the kernel's page cache holds it.
//!
//! Why: a certificate id is random, so at 10M entries every registration's duplicate check reaches a random
//! leaf of a 2 GB file, and no fixed cache of redb's holds the leaves. When the kernel's page cache does not
//! hold them either (after a reboot, or once other work evicted them), each of those reads goes to the disk, on
//! a check thread: docs/performance.md, issue 12 step 11, measured 0.7 page read from disk and 36 µs more
//! kernel CPU per registration on the check threads than over a fresh log. One sequential pass at start costs
//! a fraction of a second of CPU, never delays the start (its own thread; nothing waits for it), and its
//! memory is the kernel's, given back under pressure (then the reads go to the disk again, as before).
//! Reading, rather than `posix_fadvise(WILLNEED)`, keeps the crate free of `unsafe`.

use std::io::Read as _;
use std::path::Path;
use std::time::Instant;

/// Each read's size: few system calls for the pass, and a modest buffer.
const CHUNK: usize = 1 << 20;

/// Starts the pass over `path` on a thread of its own; a failure only costs the warm-up, so it is logged.
pub(super) fn in_background(path: &Path) {
    let path = path.to_owned();
    let spawned = std::thread::Builder::new()
        .name("registry-warm".to_owned())
        .spawn(move || pass(&path));
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "cannot start reading the registry store ahead");
    }
}

fn pass(path: &Path) {
    let clock = Instant::now();
    match read_through(path) {
        Ok(bytes) => tracing::info!(
            bytes,
            ms = clock.elapsed().as_millis(),
            "the registry store is in the page cache"
        ),
        Err(e) => tracing::warn!(error = %e, "reading the registry store ahead failed"),
    }
}

/// Reads the whole file, discarding what it reads; the number of bytes read.
fn read_through(path: &Path) -> std::io::Result<u64> {
    let mut file = std::fs::File::open(path)?;
    let mut buffer = vec![0; CHUNK];
    let mut total = 0_u64;
    loop {
        match file.read(&mut buffer) {
            Ok(0) => return Ok(total),
            Ok(n) => total = total.saturating_add(u64::try_from(n).unwrap_or(u64::MAX)),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn reads_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("file");
        std::fs::write(&path, vec![7_u8; super::CHUNK * 2 + 3]).unwrap();
        assert_eq!(
            super::read_through(&path).unwrap(),
            u64::try_from(super::CHUNK * 2 + 3).unwrap()
        );
    }
}
