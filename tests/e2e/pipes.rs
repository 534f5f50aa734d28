//! A closed stdout (`tradeledger open CERT --json | true`): every command that prints ends quietly, with
//! its work done and its own exit status, never in a panic.

use std::path::Path;

use tradeledger::client::ops;

use crate::support::{World, cli, example, save_keys};

/// Runs the CLI with its stdout a pipe whose reading end is already closed: every write fails with EPIPE.
async fn run_with_closed_stdout(home: &Path, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    // Not `output()`: tokio's replaces the stdout given with a pipe of its own.
    cli(home)
        .args(args)
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
        .wait_with_output()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_that_print_end_quietly_on_a_closed_stdout() {
    let w = World::new().await;
    let vkey = w.vkey().to_owned();
    let url = w.server.url.clone();
    let (cert_id, _) = w.register(&example("usmca.json"), &[&w.cbp]).await;
    let cert = cert_id.to_string();
    let dir = tempfile::tempdir().unwrap();
    let cbp_key = save_keys(dir.path(), &w.cbp.keys);
    let cbp_key = cbp_key.to_str().unwrap();
    let importer_key = save_keys(dir.path(), &w.importer.keys);
    let importer_key = importer_key.to_str().unwrap();
    let bundle = ops::disclose(&w.importer.actor(&vkey), &cert_id, &["/regime".to_owned()])
        .await
        .unwrap();
    let bundle_file = dir.path().join("bundle.json");
    std::fs::write(&bundle_file, serde_json::to_vec(&bundle).unwrap()).unwrap();
    let bundle_file = bundle_file.to_str().unwrap();

    let common = ["--server", url.as_str(), "--log-key", vkey.as_str()];
    let commands: [&[&str]; 9] = [
        &["open", "--key", cbp_key, &cert],
        &["open", "--json", "--key", cbp_key, &cert],
        &["verify", bundle_file],
        &["verify", "--json", bundle_file],
        &["audit"],
        &["audit", "--json"],
        &["receipt", &cert],
        &["accesses", "--key", importer_key, &cert],
        &[
            "grant",
            "--key",
            importer_key,
            &cert,
            "--to",
            "swift-brokers",
        ],
    ];
    for args in commands {
        let all: Vec<&str> = common.iter().chain(args).copied().collect();
        let out = run_with_closed_stdout(dir.path(), &all).await;
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
        assert!(out.status.success(), "{args:?}: {:?}", out.status);
    }
    // The grant whose confirmation nobody read was made all the same.
    let opened = w.open(&w.broker, &cert_id).await.unwrap();
    assert_eq!(opened.body, example("usmca.json"));
}
