//! The command line as a user types it, for what needs no server: parsing, keygen, refusals.
#![allow(clippy::unwrap_used)]

use std::process::Command;

use clap::Parser as _;
use tradeledger::cli::{Cli, Command as Cmd};

fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
    Cli::try_parse_from(std::iter::once("tradeledger").chain(args.iter().copied()))
}

#[test]
fn design_md_command_lines_parse() {
    for line in [
        "keygen --party acme --role importer --out acme.key",
        "serve --data DIR --listen 127.0.0.1:0 --operator op.key.pub --policies policies --origin example/log",
        "enroll --key op.key acme.key.pub",
        "register --key acme.key --to cbp --to broker cert.json",
        "grant --key acme.key 00112233445566778899aabbccddeeff --to broker",
        "revoke --key acme.key 00112233445566778899aabbccddeeff --from broker",
        "open --key cbp.key 00112233445566778899aabbccddeeff --out body.json",
        "disclose --key acme.key 00112233445566778899aabbccddeeff --fields /regime,/goods/0/hs --out b.json",
        "verify --log-key example/log+01020304+AQ== b.json",
        "audit --log-key example/log+01020304+AQ== --state audit.json",
        "demo",
        "--json demo",
        "audit --json --server http://127.0.0.1:1",
    ] {
        parse(&line.split(' ').collect::<Vec<_>>()).unwrap_or_else(|e| panic!("{line}: {e}"));
    }
}

#[test]
fn flags_land_where_they_belong() {
    let cli = parse(&[
        "disclose", "--key", "k", "0", "--fields", "/a,/b/c", "--out", "o", "--json",
    ])
    .unwrap();
    assert!(cli.global.json);
    assert_eq!(cli.global.key.as_deref(), Some(std::path::Path::new("k")));
    let Cmd::Disclose(args) = cli.command else {
        panic!("not disclose")
    };
    assert_eq!(args.fields, ["/a", "/b/c"]);

    let cli = parse(&["register", "--to", "cbp", "--to", "broker", "dir"]).unwrap();
    let Cmd::Register(args) = cli.command else {
        panic!("not register")
    };
    assert_eq!(args.to, ["cbp", "broker"]);
}

#[test]
fn missing_required_arguments_are_refused() {
    assert!(
        parse(&["register", "cert.json"]).is_err(),
        "register needs --to"
    );
    assert!(
        parse(&["disclose", "id", "--out", "o"]).is_err(),
        "disclose needs --fields"
    );
    assert!(parse(&["keygen", "--party", "a"]).is_err());
    assert!(parse(&["frobnicate"]).is_err());
}

fn tradeledger(home: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tradeledger"));
    cmd.env("TRADELEDGER_HOME", home)
        .env_remove("TRADELEDGER_SERVER")
        .env_remove("TRADELEDGER_KEY")
        .env_remove("TRADELEDGER_LOG_KEY");
    cmd
}

#[test]
fn keygen_writes_a_private_key_and_a_public_identity() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("acme.key");
    let out = tradeledger(dir.path())
        .args([
            "keygen", "--party", "acme", "--role", "importer", "--json", "--out",
        ])
        .arg(&key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["party"], "acme");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let public = vault::PartyPublic::load(&dir.path().join("acme.key.pub")).unwrap();
    assert_eq!(public.id.as_str(), "acme");

    // A second keygen to the same file is refused, with one line on stderr.
    let again = tradeledger(dir.path())
        .args(["keygen", "--party", "acme", "--role", "importer", "--out"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(!again.status.success());
    let stderr = String::from_utf8(again.stderr).unwrap();
    assert!(
        stderr.starts_with("error: ") && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn failures_are_one_line_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &[
            "keygen", "--party", "Bad Id", "--role", "importer", "--out", "x",
        ][..],
        &["keygen", "--party", "a", "--role", "king", "--out", "x"],
        &["open", "00112233445566778899aabbccddeeff"],
        &["audit"],
        &["verify", "no-such-bundle.json"],
    ] {
        let out = tradeledger(dir.path())
            .current_dir(dir.path())
            .args(args)
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.starts_with("error: ") && stderr.lines().count() == 1,
            "{args:?}: {stderr}"
        );
    }
}

#[test]
fn verify_without_a_log_key_refuses_on_first_contact() {
    let dir = tempfile::tempdir().unwrap();
    let out = tradeledger(dir.path())
        .args(["verify", "bundle.json"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8(out.stderr).unwrap().contains("--log-key"));
}

/// Runs the binary with its stdout a pipe whose reading end is already closed, as in `tradeledger ... | true`
/// once `true` has exited: every write to stdout fails with EPIPE.
fn run_with_closed_stdout(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    tradeledger(home)
        .current_dir(home)
        .args(args)
        .stdout(writer)
        .output()
        .unwrap()
}

#[test]
fn a_closed_stdout_ends_output_quietly_never_in_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("acme.key");
    let key = key.to_str().unwrap();
    // Commands that succeed: no panic, nothing on stderr, exit 0, and the work is done.
    for args in [
        &[
            "keygen", "--party", "acme", "--role", "importer", "--json", "--out", key,
        ][..],
        &[
            "witness-keygen",
            "--name",
            "w.example/w1",
            "--out",
            "w1.key",
        ],
        &["demo"],
        &["--json", "demo"],
    ] {
        let out = run_with_closed_stdout(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
    }
    assert!(
        dir.path().join("acme.key.pub").exists(),
        "keygen did its work"
    );
    assert!(
        dir.path().join("w1.key").exists(),
        "witness-keygen did its work"
    );
    // A command that fails still ends with its one `error:` line.
    let out = run_with_closed_stdout(
        dir.path(),
        &[
            "keygen", "--party", "acme", "--role", "importer", "--out", key,
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.lines().count() == 1,
        "{stderr}"
    );
}

#[test]
fn bench_prints_the_ed25519_reference_and_the_ratios() {
    // A small run against the embedded server: the table gains the yardstick line and, per phase, the
    // server's CPU per request (read from its /metrics) in µs and in verifies, and ops/s ÷ verifies/s.
    let dir = tempfile::tempdir().unwrap();
    let out = tradeledger(dir.path())
        .args(["bench", "--count", "200", "--clients", "4", "--opens", "50"])
        .args(["--open-clients", "4", "--importers", "4"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reference = stdout
        .lines()
        .find(|l| l.starts_with("reference: Ed25519 verify_strict"))
        .unwrap_or_else(|| panic!("no reference line in {stdout}"));
    assert!(reference.contains("/s = "), "{reference}");
    let header = stdout
        .lines()
        .find(|l| l.starts_with("| operation"))
        .unwrap();
    for column in [
        "server CPU µs/req",
        "server CPU/req (verifies)",
        "ops/s ÷ verifies/s",
    ] {
        assert!(header.contains(column), "{header}");
    }
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| register") || l.starts_with("| open"))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        // cells[0] is empty; the last three columns before the trailing empty cell are the new ones.
        let n = cells.len();
        for cell in &cells[n - 4..n - 1] {
            let value: f64 = cell.parse().unwrap_or_else(|_| panic!("{cell:?} in {row}"));
            assert!(value > 0.0, "{row}");
        }
    }
    // Issue 10: registrations are timed to the first published checkpoint covering them (the embedded
    // server's /checkpoint here), and each server's rate is shown (one server: the total).
    let columns: Vec<&str> = header.split('|').map(str::trim).collect();
    let at = |name: &str| columns.iter().position(|c| *c == name).unwrap();
    let register = stdout
        .lines()
        .find(|l| l.starts_with("| register"))
        .unwrap();
    let cells: Vec<&str> = register.split('|').map(str::trim).collect();
    for name in ["ack→published p50", "ack→published p99"] {
        let ms: f64 = cells[at(name)].trim_end_matches(" ms").parse().unwrap();
        assert!((0.0..30_000.0).contains(&ms), "{name} in {register}");
    }
    assert_eq!(
        cells[at("ops/s per server")],
        cells[at("ops/s")],
        "{register}"
    );
}
