//! Durability, locking and privacy of the data directory (issue 8, items 1, 2 and 10): every file the service
//! writes is on disk before anything is acknowledged, one service owns a data directory at a time, derived
//! files can be rebuilt from the journal, and nothing under DATA or TRADELEDGER_HOME is readable by others.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use sha2::{Digest as _, Sha256};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use vault::{PartyId, PartyKeys, Role};

use crate::support::{Server, World, cli, example, run_cli, save_keys};

/// A fresh directory holding an operator's key files, and the path of its `.pub`.
fn operator_files(dir: &Path) -> (PartyKeys, PathBuf) {
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    save_keys(dir, &operator);
    let public = dir.join("operator.key.pub");
    (operator, public)
}

/// Starts `tradeledger serve` (optionally under `wrapper`, e.g. strace) and waits for its `listening` line.
async fn spawn_serve(
    wrapper: &[&str],
    home: &Path,
    data: &Path,
    operator_pub: &Path,
) -> tokio::process::Child {
    let exe = env!("CARGO_BIN_EXE_tradeledger");
    let mut cmd = match wrapper.split_first() {
        Some((program, args)) => {
            let mut cmd = tokio::process::Command::new(program);
            cmd.args(args).arg(exe);
            cmd
        }
        None => tokio::process::Command::new(exe),
    };
    cmd.env("TRADELEDGER_HOME", home)
        .env_remove("RUST_LOG")
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .arg("--operator")
        .arg(operator_pub)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawning tradeledger serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(25), lines.next_line())
        .await
        .expect("serve prints its address")
        .unwrap()
        .unwrap_or_default();
    assert!(line.starts_with("listening on "), "{line:?}");
    child
}

async fn kill_9(child: &mut tokio::process::Child) {
    child.start_kill().unwrap();
    child.wait().await.unwrap();
}

/// The pids whose parent is `parent` (from /proc/*/stat).
fn children_of(parent: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // `pid (comm) state ppid ...`; comm may hold spaces, so split after its closing parenthesis.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse::<u32>().ok());
        if ppid == Some(parent) {
            out.push(pid);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Item 1: what a power cut keeps.

/// Replays an `strace -f -y` trace of the service, up to its first acknowledgement (the `listening` line on
/// stdout), against the rules a power cut enforces: a file's data survives only once the file was fsynced
/// (or fdatasynced) after its last write, and a new or renamed directory entry only once its directory was
/// fsynced after the change.
#[derive(Default)]
struct PowerCut {
    /// Files written since their last fsync.
    unsynced_data: BTreeSet<PathBuf>,
    /// Directory entries created or renamed into place since their directory's last fsync.
    unsynced_entries: BTreeSet<PathBuf>,
    /// Files renamed into place before their data was synced (a cut can leave them empty).
    torn_renames: Vec<String>,
    /// Every path that exists (as far as the trace tells).
    live: BTreeSet<PathBuf>,
    acknowledged: bool,
}

/// The quoted strings of a trace line, in order (strace escapes quotes inside strings, paths have none).
fn quoted(line: &str) -> Vec<PathBuf> {
    line.split('"')
        .skip(1)
        .step_by(2)
        .map(PathBuf::from)
        .collect()
}

/// The path strace -y prints for the first file descriptor argument: `fsync(7</a/b>)`.
fn first_fd_path(args: &str) -> Option<PathBuf> {
    let start = args.find('<')? + 1;
    let end = start + args[start..].find('>')?;
    Some(PathBuf::from(&args[start..end]))
}

/// The path of the descriptor a call returned: `... = 7</a/b>`.
fn returned_path(line: &str) -> Option<PathBuf> {
    let (_, ret) = line.rsplit_once(" = ")?;
    if ret.starts_with('-') {
        return None;
    }
    first_fd_path(ret)
}

impl PowerCut {
    fn replay(trace: &str) -> PowerCut {
        let mut cut = PowerCut::default();
        for line in trace.lines() {
            if cut.acknowledged {
                break;
            }
            cut.event(line);
        }
        cut
    }

    fn failed(line: &str) -> bool {
        line.rsplit_once(" = ")
            .is_some_and(|(_, r)| r.starts_with('-'))
    }

    fn event(&mut self, line: &str) {
        let line = match line.strip_prefix("[pid ") {
            Some(rest) => rest.split_once("] ").map_or(rest, |(_, l)| l),
            None => line.split_once(' ').map_or(line, |(pid, l)| {
                if pid.bytes().all(|b| b.is_ascii_digit()) {
                    l
                } else {
                    line
                }
            }),
        };
        // strace pads the pid column (`9818  write(...)`).
        let line = line.trim_start();
        if line.starts_with("<...") || Self::failed(line) {
            return;
        }
        let Some((call, args)) = line.split_once('(') else {
            return;
        };
        match call {
            "write" | "writev" if args.starts_with("1<") => self.acknowledged = true,
            "write" | "pwrite64" | "writev" | "pwritev" | "pwritev2" | "ftruncate"
            | "fallocate" => {
                if let Some(path) = first_fd_path(args) {
                    self.unsynced_data.insert(path);
                }
            }
            "fsync" | "fdatasync" => {
                if let Some(path) = first_fd_path(args) {
                    self.unsynced_data.remove(&path);
                    self.unsynced_entries
                        .retain(|entry| entry.parent() != Some(path.as_path()));
                }
            }
            "open" | "openat" | "creat" if line.contains("O_CREAT") || call == "creat" => {
                if let Some(path) = returned_path(line)
                    && self.live.insert(path.clone())
                {
                    self.unsynced_entries.insert(path);
                }
            }
            "mkdir" | "mkdirat" => {
                if let Some(path) = quoted(args).pop() {
                    self.live.insert(path.clone());
                    self.unsynced_entries.insert(path);
                }
            }
            "rename" | "renameat" | "renameat2" | "link" | "linkat" => {
                let paths = quoted(args);
                let (Some(from), Some(to)) = (paths.first(), paths.last()) else {
                    return;
                };
                if self.unsynced_data.contains(from) {
                    self.torn_renames.push(format!(
                        "{} renamed to {} before its data was synced",
                        from.display(),
                        to.display()
                    ));
                }
                if call.starts_with("rename") {
                    self.unsynced_data.remove(from);
                    self.live.remove(from);
                    self.unsynced_entries.remove(from);
                    // A renamed directory takes what is tracked inside it along.
                    for set in [
                        &mut self.live,
                        &mut self.unsynced_data,
                        &mut self.unsynced_entries,
                    ] {
                        let inside: Vec<PathBuf> = set
                            .iter()
                            .filter(|p| p.starts_with(from))
                            .cloned()
                            .collect();
                        for path in inside {
                            set.remove(&path);
                            let rest = path.strip_prefix(from).unwrap();
                            set.insert(to.join(rest));
                        }
                    }
                }
                self.live.insert(to.clone());
                self.unsynced_entries.insert(to.clone());
            }
            "unlink" | "unlinkat" | "rmdir" => {
                if let Some(path) = quoted(args).pop() {
                    self.live.remove(&path);
                    self.unsynced_data.remove(&path);
                    self.unsynced_entries.remove(&path);
                }
            }
            _ => {}
        }
    }
}

/// Files of the log store that are derived from the journal: by the store's contract they are durable only up
/// to the last checkpoint, and recovery re-derives the rest.
fn derived(data: &Path, path: &Path) -> bool {
    let log = data.join("log");
    path.parent() == Some(log.as_path())
        && path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n == "ends" || n.starts_with("level-"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_power_cut_after_the_first_start_keeps_every_file_it_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let (_, operator_pub) = operator_files(dir.path());
    let data = dir.path().join("data");
    let trace = dir.path().join("trace");
    let strace = [
        "strace",
        "-f",
        "-qq",
        "-y",
        "-s",
        "40",
        "-o",
        trace.to_str().unwrap(),
        "-e",
        "trace=?open,openat,?creat,?mkdir,mkdirat,?rename,renameat,renameat2,?link,linkat,?unlink,\
         unlinkat,?rmdir,write,pwrite64,writev,pwritev,pwritev2,ftruncate,fallocate,fsync,fdatasync",
    ];
    let mut traced = spawn_serve(&strace, dir.path(), &data, &operator_pub).await;
    // Kill the service, not strace: strace then writes out the whole trace and exits.
    let strace_pid = traced.id().unwrap();
    for pid in children_of(strace_pid) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
    }
    tokio::time::timeout(Duration::from_secs(20), traced.wait())
        .await
        .expect("strace exits once the service is killed")
        .unwrap();
    let trace = std::fs::read_to_string(&trace)
        .expect("strace wrote a trace (CI must `apt-get install -y strace`)");

    let cut = PowerCut::replay(&trace);
    assert!(cut.acknowledged, "the trace shows the `listening` line");
    let under_data = |p: &&PathBuf| p.starts_with(&data);
    for must in [
        data.join("log.key"),
        data.join("log/checkpoint"),
        data.join("policies/tradeledger.cedarschema"),
        data.join("vault/index/conf"),
    ] {
        assert!(
            cut.live.contains(&must),
            "the trace shows {}",
            must.display()
        );
    }
    let unsynced: Vec<&PathBuf> = cut
        .unsynced_data
        .iter()
        .filter(under_data)
        .filter(|p| !derived(&data, p))
        .collect();
    assert!(
        unsynced.is_empty(),
        "written but not fsynced when the service said it was listening: {unsynced:#?}"
    );
    let entries: Vec<&PathBuf> = cut
        .unsynced_entries
        .iter()
        .filter(|p| p.starts_with(&data))
        .collect();
    assert!(
        entries.is_empty(),
        "created or renamed, but their directory was not fsynced afterwards: {entries:#?}"
    );
    assert!(cut.torn_renames.is_empty(), "{:#?}", cut.torn_renames);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_right_after_the_first_start_leaves_a_service_that_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let (_, operator_pub) = operator_files(dir.path());
    let data = dir.path().join("data");
    let mut first = spawn_serve(&[], dir.path(), &data, &operator_pub).await;
    kill_9(&mut first).await;
    let mut second = spawn_serve(&[], dir.path(), &data, &operator_pub).await;
    kill_9(&mut second).await;
    let stale = std::fs::read_to_string(data.join("lock")).unwrap_or_default();
    assert!(!stale.is_empty(), "the lock file names its last holder");
}

// ---------------------------------------------------------------------------------------------------------
// Item 2: one service per data directory, and rebuilding what the journal determines.

/// SHA-256 of every file under `dir`, by path.
fn hash_tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(path, hex::encode(Sha256::digest(&bytes)));
            }
        }
    }
    out
}

/// The hashes of `dir` once the live service has stopped writing to it: the log stores its latest checkpoint up to
/// half a second after publishing it (ledger's `PERSIST_INTERVAL`), so a snapshot taken at once may miss that write.
async fn settled_tree(dir: &Path) -> BTreeMap<PathBuf, String> {
    let mut last = hash_tree(dir);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let now = hash_tree(dir);
        if now == last {
            return now;
        }
        last = now;
    }
    panic!(
        "{} kept changing for 14 s with no request in flight",
        dir.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_serve_on_a_live_directory_is_refused_and_changes_nothing() {
    let w = World::new().await;
    w.register(&example("usmca.json"), &[&w.cbp]).await;
    let size = w.server.size().await;
    let tile = format!("/tile/0/000.p/{size}");
    let (status, tile_before) = w.server.get(&tile).await;
    assert_eq!(status, 200);
    let files = tempfile::tempdir().unwrap();
    let operator_pub = files.path().join("operator.pub");
    w.operator.keys.public().save(&operator_pub).unwrap();
    let data = w.server.data.clone();
    let before = settled_tree(&data).await;

    let home = files.path();
    let run = run_cli(
        home,
        &[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--data",
            data.to_str().unwrap(),
            "--operator",
            operator_pub.to_str().unwrap(),
        ],
    )
    .await;
    let err = run.failure();
    assert!(err.contains("in use"), "{err}");
    assert!(
        err.contains(&format!("pid {}", std::process::id())),
        "names the holder: {err}"
    );
    let run = run_cli(home, &["repair", "--data", data.to_str().unwrap()]).await;
    let err = run.failure();
    assert!(err.contains("in use"), "{err}");

    assert_eq!(
        hash_tree(&data),
        before,
        "the refused instances changed nothing"
    );
    assert_eq!(w.server.get(&tile).await, (200, tile_before));
    assert_eq!(w.server.size().await, size);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repair_rebuilds_deleted_and_corrupted_tile_files_from_the_journal() {
    let w = World::new().await;
    for name in ["usmca.json", "cafta-dr.json", "nafta-434.json"] {
        w.register(&example(name), &[&w.cbp]).await;
    }
    let vkey = w.vkey().to_owned();
    let client = w.server.client();
    let checkpoint = client.get_checkpoint().await.unwrap();
    let size = w.server.size().await;
    let data = w.server.data.clone();
    let operator = w.operator.keys.public();
    let World { server, .. } = w;
    server.stop().await;

    // Derived files lost or damaged: the offsets gone, a leaf hash flipped.
    let log = data.join("log");
    std::fs::remove_file(log.join("ends")).unwrap();
    let mut level0 = std::fs::read(log.join("level-0")).unwrap();
    level0[40] ^= 0x55;
    std::fs::write(log.join("level-0"), &level0).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = tradeledger::server::ServeConfig::new(data.clone(), operator.clone());
    let refused = tradeledger::server::serve(listener, config, std::future::ready(()))
        .await
        .unwrap_err();
    assert!(format!("{refused:#}").contains("log"), "{refused:#}");

    let home = tempfile::tempdir().unwrap();
    let out = run_cli(home.path(), &["repair", "--data", data.to_str().unwrap()])
        .await
        .success();
    assert!(out.contains(&format!("{size} entries")), "{out}");
    assert!(out.contains("ends") && out.contains("level-0"), "{out}");
    assert!(out.contains("checkpoint"), "{out}");

    let server = Server::start(&data, &operator).await;
    assert_eq!(server.client().get_checkpoint().await.unwrap(), checkpoint);
    let out = run_cli(
        home.path(),
        &["audit", "--server", &server.url, "--log-key", &vkey],
    )
    .await
    .success();
    assert!(out.contains("problems: none"), "{out}");
    server.stop().await;

    // A journal that no longer reaches the signed checkpoint cannot be repaired: said, and nothing rewritten.
    let journal = log.join("journal");
    let bytes = std::fs::read(&journal).unwrap();
    std::fs::write(&journal, &bytes[..bytes.len() / 2]).unwrap();
    let store_files = || {
        let mut files = hash_tree(&data);
        files.remove(&data.join("lock"));
        files
    };
    let before = store_files();
    let err = run_cli(home.path(), &["repair", "--data", data.to_str().unwrap()])
        .await
        .failure();
    assert!(err.contains("journal"), "{err}");
    assert_eq!(store_files(), before, "a refused repair writes nothing");
}

// ---------------------------------------------------------------------------------------------------------
// Item 10: private files.

/// Every directory under `root` (and `root`) with mode 0700 and every file 0600; the offenders otherwise.
fn not_private(root: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let mode = meta.permissions().mode() & 0o777;
        let want = if meta.is_dir() { 0o700 } else { 0o600 };
        if mode != want {
            bad.push(format!("{} has mode {mode:o}", path.display()));
        }
        if meta.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
        }
    }
    bad
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_directory_and_the_client_home_are_private_to_their_user() {
    let w = World::new().await;
    let (cert_id, _) = w.register(&example("usmca.json"), &[&w.cbp]).await;
    w.open(&w.cbp, &cert_id).await.unwrap();
    let keys = tempfile::tempdir().unwrap();
    let importer_key = save_keys(keys.path(), &w.importer.keys);
    let home = keys.path().join("home");
    let cafta = "docs/examples/cafta-dr.json";
    run_cli(
        &home,
        &[
            "register",
            "--server",
            &w.server.url,
            "--log-key",
            w.vkey(),
            "--key",
            importer_key.to_str().unwrap(),
            "--to",
            "cbp",
            cafta,
        ],
    )
    .await
    .success();
    let audit_state = home.join("audit.state");
    let mut audit = cli(&home);
    audit.args([
        "audit",
        "--server",
        &w.server.url,
        "--state",
        audit_state.to_str().unwrap(),
    ]);
    assert!(
        audit
            .stdout(Stdio::null())
            .status()
            .await
            .unwrap()
            .success()
    );
    let data = w.server.data.clone();
    let World { server, .. } = w;
    server.stop().await;

    let bad = not_private(&data);
    assert!(bad.is_empty(), "{bad:#?}");
    assert!(home.join("grants").is_dir() && home.join("config.json").is_file());
    let bad = not_private(&home);
    assert!(bad.is_empty(), "{bad:#?}");
}
