//! The lifecycle commands as a user types them.

use super::*;

#[test]
fn lifecycle_command_lines_parse() {
    use clap::Parser as _;
    use tradeledger::cli::{Cli, Command as Cmd};
    let parse = |line: &str| {
        Cli::try_parse_from(std::iter::once("tradeledger").chain(line.split(' ')))
            .unwrap_or_else(|e| panic!("{line}: {e}"))
    };
    let cert = "00112233445566778899aabbccddeeff";
    parse(&format!("accesses {cert}"));
    parse(&format!("accesses --key acme.key --json {cert}"));
    parse("rotate --key old.key --new-key new.key --operator-key op.key");
    parse("rotate --key old.key --new-key new.key --out request.json");
    parse("rotate --key op.key --request request.json");
    parse("rewrap --key acme.key --party swift-brokers");
    parse(&format!(
        "rewrap --key acme.key --party swift-brokers {cert} {cert}"
    ));
    parse(&format!("purge --key acme.key {cert}"));
    let Cmd::Serve(args) = parse("serve --data d --operator op.pub").command else {
        panic!("not serve")
    };
    assert_eq!(args.retention, 1826);
    let Cmd::Serve(args) = parse("serve --data d --operator op.pub --retention 30").command else {
        panic!("not serve")
    };
    assert_eq!(args.retention, 30);
    for refused in [
        "rotate --key old.key",
        "rotate --key old.key --new-key n --operator-key o --out r",
        "rotate --key op.key --request r --new-key n",
        "rewrap --key acme.key",
        "purge --key acme.key",
    ] {
        assert!(
            Cli::try_parse_from(std::iter::once("tradeledger").chain(refused.split(' '))).is_err(),
            "{refused} should be refused"
        );
    }
}

/// Runs the `tradeledger` binary as a user types it (off the async workers); returns stdout, or stderr on failure.
async fn cli(home: &Path, server: &Server, args: &[&str]) -> Result<String, String> {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_tradeledger"));
    cmd.current_dir(home)
        .env("TRADELEDGER_HOME", home)
        .env("TRADELEDGER_SERVER", &server.url)
        .env("TRADELEDGER_LOG_KEY", &server.vkey)
        .env_remove("TRADELEDGER_KEY")
        .args(args);
    let out = tokio::task::spawn_blocking(move || cmd.output())
        .await
        .unwrap()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8(out.stdout).unwrap())
    } else {
        Err(String::from_utf8(out.stderr).unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_line_rotates_in_two_steps_rewraps_reads_the_trail_and_purges() {
    let server = Server::start(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path();
    server.operator.save(&home.join("op.key")).unwrap();
    for (party, role, file) in [
        ("acme-imports", "importer", "acme.key"),
        ("cbp", "customs", "cbp.key"),
        ("swift-brokers", "broker", "broker.key"),
    ] {
        cli(
            home,
            &server,
            &["keygen", "--party", party, "--role", role, "--out", file],
        )
        .await
        .unwrap();
        let public = format!("{file}.pub");
        cli(home, &server, &["enroll", "--key", "op.key", &public])
            .await
            .unwrap();
    }
    std::fs::write(
        home.join("cert.json"),
        include_str!("../../docs/examples/usmca.json"),
    )
    .unwrap();
    let registered = cli(
        home,
        &server,
        &[
            "register",
            "--key",
            "acme.key",
            "--to",
            "cbp",
            "--to",
            "swift-brokers",
            "--json",
            "cert.json",
        ],
    )
    .await
    .unwrap();
    let registered: serde_json::Value = serde_json::from_str(&registered).unwrap();
    let cert = registered["cert_id"].as_str().unwrap().to_owned();
    cli(home, &server, &["open", "--key", "broker.key", &cert])
        .await
        .unwrap();

    // The party signs its consent; the operator countersigns later from the request file.
    cli(
        home,
        &server,
        &[
            "keygen",
            "--party",
            "swift-brokers",
            "--role",
            "broker",
            "--out",
            "broker2.key",
        ],
    )
    .await
    .unwrap();
    cli(
        home,
        &server,
        &[
            "rotate",
            "--key",
            "broker.key",
            "--new-key",
            "broker2.key",
            "--out",
            "rotation.json",
        ],
    )
    .await
    .unwrap();
    cli(
        home,
        &server,
        &["rotate", "--key", "op.key", "--request", "rotation.json"],
    )
    .await
    .unwrap();
    let refused = cli(home, &server, &["open", "--key", "broker.key", &cert])
        .await
        .unwrap_err();
    assert!(refused.contains("bad_signature"), "{refused}");
    let rewrapped = cli(
        home,
        &server,
        &["rewrap", "--key", "acme.key", "--party", "swift-brokers"],
    )
    .await
    .unwrap();
    assert!(rewrapped.contains("1 grant(s) re-wrapped"), "{rewrapped}");
    cli(home, &server, &["open", "--key", "broker2.key", &cert])
        .await
        .unwrap();

    // The registrant names the readers; without a key only the count shows.
    let trail = cli(
        home,
        &server,
        &["accesses", "--key", "acme.key", "--json", &cert],
    )
    .await
    .unwrap();
    let trail: serde_json::Value = serde_json::from_str(&trail).unwrap();
    assert_eq!(trail["view"], "registrant");
    let readers: Vec<&str> = trail["accesses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["party"].as_str().unwrap_or("?"))
        .collect();
    // broker (old key), the registrant's own fetch for the re-wrap, broker (new key).
    assert_eq!(readers, ["swift-brokers", "acme-imports", "swift-brokers"]);
    let count = cli(home, &server, &["accesses", &cert]).await.unwrap();
    assert_eq!(count.trim(), "3");

    cli(home, &server, &["purge", "--key", "acme.key", &cert])
        .await
        .unwrap();
    let refused = cli(home, &server, &["open", "--key", "cbp.key", &cert])
        .await
        .unwrap_err();
    assert!(refused.contains("purged"), "{refused}");
    server.shutdown().await;
}
