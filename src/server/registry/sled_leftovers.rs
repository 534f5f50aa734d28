//! What an earlier build's sled registry left in `DATA/registry` (its `conf`, `db`, `blobs/`, snapshots).
//!
//! The registry is derived from the log, so the redb store beside them starts empty and the start replays the
//! log into it; sled's files are removed once the new store has made a durable commit, so that a start
//! interrupted before that still finds one registry or the other on disk.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::store::RegistryError;

/// Entries of the registry's directory other than the redb file, until removed.
pub(super) struct SledLeftovers {
    dir: PathBuf,
    paths: Mutex<Vec<PathBuf>>,
}

impl SledLeftovers {
    /// Everything in `dir` but `keep`.
    pub(super) fn find(dir: &Path, keep: &str) -> std::io::Result<SledLeftovers> {
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            if entry.file_name() != keep {
                paths.push(entry.path());
            }
        }
        Ok(SledLeftovers {
            dir: dir.to_owned(),
            paths: Mutex::new(paths),
        })
    }

    /// Removes them (once; after a durable commit of the new store).
    pub(super) fn remove(&self) -> Result<(), RegistryError> {
        let mut paths = self.paths.lock().unwrap_or_else(|p| p.into_inner());
        if paths.is_empty() {
            return Ok(());
        }
        let io = |e: std::io::Error| {
            RegistryError::Unavailable(format!(
                "removing sled's files in {}: {e}",
                self.dir.display()
            ))
        };
        for path in paths.iter() {
            let removed = if path.is_dir() {
                std::fs::remove_dir_all(path)
            } else {
                std::fs::remove_file(path)
            };
            match removed {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(e)),
                _ => {}
            }
        }
        ledger::durable::sync_dir(&self.dir).map_err(io)?;
        tracing::info!(
            dir = %self.dir.display(),
            files = paths.len(),
            "removed the sled registry of an earlier build (rebuilt from the log into registry.redb)"
        );
        paths.clear();
        Ok(())
    }
}
