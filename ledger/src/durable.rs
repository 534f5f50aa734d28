//! Writing files so that a power cut keeps them whole and private: the one helper every tradeledger crate
//! routes its file writes through (the vault and the binary depend on this crate, so there is one copy).
//!
//! The rules a power cut enforces (and that the e2e test `durability` checks against an strace of the service):
//! a file's data survives only once the file is fsynced after its last write, and a new or renamed directory
//! entry only once its directory is fsynced after the change. So a replaced file is written to a temporary
//! file in the same directory, fsynced, renamed over the old one, and the directory fsynced; an append-only
//! file's directory is fsynced once after the file is created.
//!
//! Privacy: files are created 0600 and directories 0700 by the creating call itself (the umask can only remove
//! bits), never loosened and then tightened.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

/// Mode of every file the service creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory the service creates.
pub const DIR_MODE: u32 = 0o700;

/// Atomically and durably replaces `path` with `bytes` (mode 0600): temporary file in the same directory,
/// write, fsync, rename, fsync of the directory. After a crash at any moment the file holds the old or the new
/// bytes, never a mix or nothing.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent(path)?;
    // tempfile creates the file with O_EXCL and mode 0600.
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// [`write_atomic`] for a file meant to be handed to others (a `.pub` identity): `mode` instead of 0600.
pub fn write_atomic_public(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let dir = parent(path)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .permissions(std::fs::Permissions::from_mode(mode))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Like [`write_atomic`], but fails with [`io::ErrorKind::AlreadyExists`] instead of replacing an existing
/// file (key files are never overwritten).
pub fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = parent(path)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Opens `path` read-write, creating it (mode 0600) if needed; returns whether it was created. A created file's
/// directory entry is durable only after [`sync_dir`] of its directory.
pub fn open_or_create(path: &Path) -> io::Result<(File, bool)> {
    match OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(file) => Ok((file, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            let file = OpenOptions::new().read(true).write(true).open(path)?;
            Ok((file, false))
        }
        Err(e) => Err(e),
    }
}

/// Creates directory `dir` (and missing parents) with mode 0700, each new one made durable by an fsync of its
/// parent. Returns the mode an already existing `dir` had if it grants anything to group or others (the
/// caller decides whether to tighten it with [`make_private`] and says so).
pub fn create_private_dir(dir: &Path) -> io::Result<Option<u32>> {
    match std::fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => {
            let mode = meta.permissions().mode() & 0o777;
            return Ok((mode & 0o077 != 0).then_some(mode));
        }
        Ok(_) => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a directory", dir.display()),
            ));
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let up = parent(dir)?;
    if !up.as_os_str().is_empty() && !up.exists() {
        create_private_dir(up)?;
    }
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => {}
        // Another process made it meanwhile: its own creation syncs it.
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(None),
        Err(e) => return Err(e),
    }
    sync_dir(up)?;
    Ok(None)
}

/// Takes every permission from group and others on `path` (which exists), keeping the owner's.
pub fn make_private(path: &Path) -> io::Result<()> {
    let mode = std::fs::symlink_metadata(path)?.permissions().mode();
    if mode & 0o077 != 0 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o700))?;
    }
    Ok(())
}

/// Makes the directory entries of `dir` (files created, renamed or removed in it) durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// The directory of `path`; `.` for a bare file name.
fn parent(path: &Path) -> io::Result<&Path> {
    match path.parent() {
        Some(p) if p.as_os_str().is_empty() => Ok(Path::new(".")),
        Some(p) => Ok(p),
        None => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} has no parent directory", path.display()),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_directories_are_private_from_creation_and_replaced_whole() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        assert_eq!(create_private_dir(&dir).unwrap(), None);
        assert_eq!((mode(&root.path().join("a")), mode(&dir)), (0o700, 0o700));
        let file = dir.join("f");
        write_atomic(&file, b"one").unwrap();
        write_atomic(&file, b"two").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        assert_eq!(mode(&file), 0o600);
        let err = write_new(&file, b"three").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&file).unwrap(), b"two");
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let (_, created) = open_or_create(&dir.join("g")).unwrap();
        let (_, again) = open_or_create(&dir.join("g")).unwrap();
        assert!(created && !again);
        assert_eq!(mode(&dir.join("g")), 0o600);

        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(create_private_dir(&dir).unwrap(), Some(0o755));
        make_private(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }
}
