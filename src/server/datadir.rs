//! The data directory's owner: an exclusive lock on `DATA/lock`, taken before any other file is touched, so
//! that a second `serve` (or a `repair`) on a live directory stops before it changes anything.
//!
//! The lock is an advisory `flock` (std's `File::try_lock`) held for the life of the process; the kernel
//! releases it when the process dies, however it dies, so a stale lock file never blocks a restart. The file
//! holds the holder's pid only so that the refusal can name it.

use std::fs::{File, TryLockError};
use std::io::Write as _;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ledger::durable;

/// The held lock on a data directory; dropping it releases the directory.
#[derive(Debug)]
pub(crate) struct DataDirLock {
    _file: File,
}

impl DataDirLock {
    /// Creates `dir` if needed (mode 0700; an existing directory open to others is tightened, with a
    /// warning) and locks it, or fails with one line naming the process that holds it.
    pub(crate) fn acquire(dir: &Path) -> anyhow::Result<DataDirLock> {
        let looser = durable::create_private_dir(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
        let path = dir.join("lock");
        let (mut file, created) = durable::open_or_create(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        lock(&file).with_context(|| format!("locking {}", path.display()))?
            .map_err(|holder| {
                anyhow::anyhow!(
                    "data directory {} is in use by another tradeledger process ({holder}); stop it first",
                    dir.display()
                )
            })?;
        // Only the holder touches anything from here on.
        if let Some(mode) = looser {
            tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"),
                "the data directory was open to other users; tightened it to 0700");
            durable::make_private(dir).with_context(|| format!("tightening {}", dir.display()))?;
        }
        file.set_len(0)
            .and_then(|()| file.write_all(format!("{}\n", std::process::id()).as_bytes()))
            .and_then(|()| file.sync_data())
            .with_context(|| format!("writing {}", path.display()))?;
        if created {
            durable::sync_dir(dir).with_context(|| format!("syncing {}", dir.display()))?;
        }
        let (tightened, loose_files) =
            tighten_dirs(dir).with_context(|| format!("tightening {}", dir.display()))?;
        if tightened > 0 || loose_files > 0 {
            tracing::warn!(dir = %dir.display(), tightened, loose_files,
                "parts of the data directory were open to other users: its directories are now 0700; \
                 chmod 600 the files (log.key is refused until then)");
        }
        Ok(DataDirLock { _file: file })
    }
}

/// Takes group and other permissions from every directory under `dir` (left by an older version, or copied
/// in) and counts the files still open to others: files are not changed behind the operator's back, because
/// a secret that was exposed (log.key) must be noticed and replaced, not silently hidden. Returns
/// (directories tightened, files open to others). Symbolic links are not followed.
fn tighten_dirs(dir: &Path) -> std::io::Result<(usize, usize)> {
    use std::os::unix::fs::PermissionsExt as _;
    let (mut tightened, mut loose_files) = (0, 0);
    let mut dirs = vec![dir.to_owned()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            let open = meta.permissions().mode() & 0o077 != 0;
            if meta.is_dir() {
                if open {
                    durable::make_private(&entry.path())?;
                    tightened += 1;
                }
                dirs.push(entry.path());
            } else if meta.is_file() && open {
                loose_files += 1;
            }
        }
    }
    Ok((tightened, loose_files))
}

/// How long a lock that this very process seems to hold is waited for: see [`lock`].
const OWN_LOCK_WAIT: Duration = Duration::from_secs(2);

/// Takes the lock on `file`; `Ok(Err(holder))` if another holder has it.
///
/// A holder that wrote this process's pid is either a store this process opened and still has open (which no
/// wait resolves) or one it has just closed whose descriptor a child, forked meanwhile by another thread, still
/// shares until it execs: `flock` belongs to the open file, and every fork copies the descriptor however it
/// is marked close-on-exec. A service stopped and restarted inside one process (the tests, `LocalServer`)
/// would be refused for that instant, so such a lock is retried for [`OWN_LOCK_WAIT`] before it is reported.
fn lock(file: &File) -> std::io::Result<Result<(), String>> {
    let deadline = Instant::now() + OWN_LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Ok(())),
            Err(TryLockError::Error(e)) => return Err(e),
            Err(TryLockError::WouldBlock) => {
                let holder = holder(file);
                if holder != format!("pid {}", std::process::id()) || Instant::now() >= deadline {
                    return Ok(Err(holder));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

/// "pid N" as the holder wrote it, or what is known without it.
fn holder(file: &File) -> String {
    let mut buf = [0u8; 32];
    let n = file.read_at(&mut buf, 0).unwrap_or(0);
    let text = String::from_utf8_lossy(buf.get(..n).unwrap_or_default());
    match text.trim().parse::<u32>() {
        Ok(pid) => format!("pid {pid}"),
        Err(_) => "pid unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_lock_is_refused_naming_the_holder_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = DataDirLock::acquire(&data).unwrap();
        let err = DataDirLock::acquire(&data).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "in use by another tradeledger process (pid {})",
                std::process::id()
            )),
            "{err}"
        );
        drop(first);
        DataDirLock::acquire(&data).unwrap();
    }

    /// As when a child forked by another thread still shares the descriptor of a lock this process has just
    /// closed: the lock comes free within the wait, and is taken.
    #[test]
    fn a_lock_this_process_releases_within_the_wait_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = DataDirLock::acquire(&data).unwrap();
        let releasing = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
        });
        DataDirLock::acquire(&data).unwrap();
        releasing.join().unwrap();
    }
}
