//! A throwaway PostgreSQL cluster for one test binary: `initdb` + `pg_ctl` in a temporary directory, listening
//! on a unix socket only (no TCP port), started on first use and stopped (and its directory removed) by a
//! watchdog process once the test binary exits, however it exits. As root, the server runs as the `postgres`
//! OS user (`runuser -u postgres --`), since PostgreSQL refuses to run as root.
//!
//! A missing PostgreSQL is a test failure naming what to install, never a skip: `scripts/test` installs
//! Debian's `postgresql`. Shared by the vault's, the ledger's and the service's tests (`#[path]`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The running cluster of this test binary.
pub(crate) struct PgCluster {
    /// The directory of the server's unix socket.
    socket_dir: PathBuf,
    bin: PathBuf,
    next_db: AtomicU32,
}

/// The cluster, started on first call.
pub(crate) fn cluster() -> &'static PgCluster {
    static CLUSTER: OnceLock<PgCluster> = OnceLock::new();
    CLUSTER.get_or_init(PgCluster::start)
}

/// A fresh, empty database on the test cluster; returns its connection settings (`key=value` form).
pub(crate) fn fresh_database() -> String {
    cluster().create_database()
}

impl PgCluster {
    fn start() -> PgCluster {
        let bin = find_bin_dir();
        let root = tempfile::Builder::new()
            .prefix("tl-pg-")
            .tempdir()
            .expect("creating a temporary directory for PostgreSQL")
            .keep();
        let data = root.join("data");
        let socket_dir = root.join("sock");
        std::fs::create_dir(&socket_dir).unwrap();
        let as_root = is_root();
        if as_root {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(&root)
                .status()
                .expect("running chown");
            assert!(
                status.success(),
                "chown of {} to postgres failed",
                root.display()
            );
        }
        let log = root.join("server.log");
        run(
            as_root,
            &bin.join("initdb"),
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "postgres".as_ref(),
                "-A".as_ref(),
                "trust".as_ref(),
                "--no-sync".as_ref(),
                "-E".as_ref(),
                "UTF8".as_ref(),
            ],
        );
        // Durable as in production (fsync on); unix socket only; enough connections for parallel tests.
        let options = format!(
            "-c listen_addresses='' -k {} -c fsync=on -c max_connections=300",
            socket_dir.display()
        );
        run(
            as_root,
            &bin.join("pg_ctl"),
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-l".as_ref(),
                log.as_os_str(),
                "-o".as_ref(),
                options.as_ref(),
                "-w".as_ref(),
                "start".as_ref(),
            ],
        );
        spawn_watchdog(as_root, &bin, &root, &data);
        PgCluster {
            socket_dir,
            bin,
            next_db: AtomicU32::new(0),
        }
    }

    /// Connection settings for database `dbname`.
    pub(crate) fn settings(&self, dbname: &str) -> String {
        format!(
            "host={} user=postgres dbname={dbname}",
            self.socket_dir.display()
        )
    }

    /// The directory holding `initdb`, `pg_ctl`, `psql`.
    pub(crate) fn bin(&self) -> &Path {
        &self.bin
    }

    fn create_database(&self) -> String {
        let n = self.next_db.fetch_add(1, Ordering::SeqCst);
        let name = format!("t{}_{n}", std::process::id());
        let mut admin = postgres::Client::connect(&self.settings("postgres"), postgres::NoTls)
            .expect("connecting to the test cluster");
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("creating a test database");
        self.settings(&name)
    }
}

/// `/usr/lib/postgresql/<highest>/bin` (Debian's layout), else the directory of `pg_ctl` on `PATH`.
fn find_bin_dir() -> PathBuf {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return bin;
    }
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .find(|dir| dir.join("pg_ctl").exists() && dir.join("initdb").exists())
    });
    on_path.unwrap_or_else(|| {
        panic!(
            "PostgreSQL is not installed: no initdb/pg_ctl in /usr/lib/postgresql/*/bin or on PATH. \
             Run scripts/test (as root it installs Debian's postgresql) or `apt-get install postgresql`."
        )
    })
}

fn is_root() -> bool {
    let out = Command::new("id")
        .arg("-u")
        .output()
        .expect("running id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// Runs a PostgreSQL program, as `postgres` when we are root; panics with its output if it fails.
fn run(as_root: bool, program: &Path, args: &[&std::ffi::OsStr]) {
    let mut command = if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    // A directory the postgres user can enter (the test's own may not be).
    let out = command
        .args(args)
        .current_dir("/")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    assert!(
        out.status.success(),
        "{} failed: {}\n{}",
        program.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A shell that waits for this process to end, then stops the server at once and removes its directory.
fn spawn_watchdog(as_root: bool, bin: &Path, root: &Path, data: &Path) {
    let stop = format!(
        "{} -D '{}' -m immediate stop",
        bin.join("pg_ctl").display(),
        data.display()
    );
    let stop = if as_root {
        format!("runuser -u postgres -- {stop}")
    } else {
        stop
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; cd /; {stop} >/dev/null 2>&1; rm -rf '{root}'",
        pid = std::process::id(),
        root = root.display()
    );
    // Never waited for: it must outlive this process (init reaps it).
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting the PostgreSQL watchdog");
}
