//! Durable storage of a witness's latest cosigned checkpoint per log: files fsynced and renamed into place, and an
//! in-memory store with fault injection for tests.

use std::collections::HashMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use sha2::{Digest as _, Sha256};

/// The lowercase hex SHA-256 of a log origin: the file name of its state and the `<origin hash>` of the
/// tlog-witness monitoring URL.
pub fn origin_hash(origin: &str) -> String {
    hex::encode(Sha256::digest(origin.as_bytes()))
}

/// Where a witness keeps, per log origin, the latest checkpoint it cosigned (a signed note carrying the log's
/// signature and the witness's cosignature).
///
/// Contract:
/// - `save` returns `Ok` only once the note is durable (it survives a crash or power loss), and it replaces the
///   previous note atomically: after any crash, `load` returns the old note or the new one, never a mix or nothing.
/// - If `save` fails, the stored note may be the old or the new one; the witness then answers 500 and does not
///   cosign, and the log retries with the size the witness reports.
/// - The witness serialises calls for one origin (it holds that origin's lock); calls for different origins may
///   run concurrently from several threads. Calls block: run them off the async workers.
pub trait WitnessStore: Send + Sync {
    /// The stored note for `origin`, if the witness ever cosigned that log.
    fn load(&self, origin: &str) -> io::Result<Option<String>>;
    /// Durably and atomically replaces the note for `origin`.
    fn save(&self, origin: &str, note: &str) -> io::Result<()>;
}

/// One file per origin in a directory: written to a temporary file, fsynced, renamed over the old one, then the
/// directory fsynced so the rename itself is durable.
#[derive(Debug)]
pub struct FsWitnessStore {
    dir: PathBuf,
}

impl FsWitnessStore {
    /// Opens (creating it if needed) the store in `dir`.
    pub fn open(dir: &Path) -> io::Result<Self> {
        if ledger::durable::create_private_dir(dir)?.is_some() {
            ledger::durable::make_private(dir)?;
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }

    fn path(&self, origin: &str, suffix: &str) -> PathBuf {
        self.dir.join(format!("{}{suffix}", origin_hash(origin)))
    }
}

impl WitnessStore for FsWitnessStore {
    fn load(&self, origin: &str) -> io::Result<Option<String>> {
        match fs::read_to_string(self.path(origin, ".checkpoint")) {
            Ok(note) => Ok(Some(note)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn save(&self, origin: &str, note: &str) -> io::Result<()> {
        ledger::durable::write_atomic(&self.path(origin, ".checkpoint"), note.as_bytes())
    }
}

/// An in-memory store for tests; [`MemoryWitnessStore::fail_saves`] makes every `save` fail without storing.
#[derive(Debug, Default)]
pub struct MemoryWitnessStore {
    notes: Mutex<HashMap<String, String>>,
    failing: AtomicBool,
}

impl MemoryWitnessStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// While `fail` is true, `save` returns an error and stores nothing (a full or broken disk).
    pub fn fail_saves(&self, fail: bool) {
        self.failing.store(fail, Ordering::SeqCst);
    }
}

impl WitnessStore for MemoryWitnessStore {
    fn load(&self, origin: &str) -> io::Result<Option<String>> {
        let notes = self
            .notes
            .lock()
            .map_err(|_| io::Error::other("store lock poisoned"))?;
        Ok(notes.get(origin).cloned())
    }

    fn save(&self, origin: &str, note: &str) -> io::Result<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(io::Error::other("injected save failure"));
        }
        let mut notes = self
            .notes
            .lock()
            .map_err(|_| io::Error::other("store lock poisoned"))?;
        notes.insert(origin.to_owned(), note.to_owned());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn fs_store_replaces_notes_and_ignores_stray_temp_files() {
        let dir = tempfile::TempDir::new().unwrap();
        let store = FsWitnessStore::open(&dir.path().join("checkpoints")).unwrap();
        assert_eq!(store.load("o").unwrap(), None);
        store.save("o", "first\n").unwrap();
        store.save("o", "second\n").unwrap();
        // A crash between writing the temp file and the rename leaves the temp file behind: it is ignored.
        fs::write(store.path("o", ".tmp"), "torn").unwrap();
        let reopened = FsWitnessStore::open(&dir.path().join("checkpoints")).unwrap();
        assert_eq!(reopened.load("o").unwrap().as_deref(), Some("second\n"));
        assert_eq!(reopened.load("other").unwrap(), None);
        assert_eq!(origin_hash("o").len(), 64);
    }
}
