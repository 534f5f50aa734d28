//! The command line as a user types it: `tradeledger serve` in its own process and every client command
//! against it, with `TRADELEDGER_HOME` set to a temporary directory.

use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt as _, BufReader};

use crate::support::{Server, World, cli, run_cli};

/// `tradeledger serve` running as a child process.
pub(crate) struct Served {
    pub(crate) child: tokio::process::Child,
    pub(crate) url: String,
}

/// Starts `tradeledger serve` over `data` on an ephemeral port and waits for its `listening` line.
pub(crate) async fn serve(
    home: &std::path::Path,
    data: &std::path::Path,
    operator_pub: &std::path::Path,
) -> Served {
    let mut child = cli(home)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data)
        .arg("--operator")
        .arg(operator_pub)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(std::time::Duration::from_secs(20), lines.next_line())
        .await
        .expect("serve prints its address")
        .unwrap()
        .unwrap();
    let url = line
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    Served { child, url }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_walkthrough_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let d = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
    std::fs::create_dir_all(&home).unwrap();

    for (party, role) in [
        ("operator", "operator"),
        ("acme-imports", "importer"),
        ("cbp", "customs"),
        ("swift-brokers", "broker"),
    ] {
        let out = run_cli(
            &home,
            &[
                "keygen",
                "--party",
                party,
                "--role",
                role,
                "--json",
                "--out",
                &d(party),
            ],
        )
        .await
        .success();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["party"], party);
    }
    let served = serve(
        &home,
        &dir.path().join("data"),
        &dir.path().join("operator.pub"),
    )
    .await;
    let url = served.url.clone();
    let vkey_file = d("data/log.vkey");
    let with = |key: &str, args: &[&str]| {
        let mut all = vec![
            "--server".to_owned(),
            url.clone(),
            "--key".to_owned(),
            d(key),
        ];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all
    };
    let run = |args: Vec<String>| {
        let home = home.clone();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_cli(&home, &args).await
        }
    };

    // Enrollment; the first command that verifies the log pins the key from the file.
    for party in ["acme-imports", "cbp", "swift-brokers"] {
        let out = run(with(
            "operator",
            &["enroll", "--json", &d(&format!("{party}.pub"))],
        ))
        .await
        .success();
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["party"], party);
    }
    let out = run(with(
        "acme-imports",
        &[
            "register",
            "--log-key",
            &vkey_file,
            "--to",
            "cbp",
            "--json",
            "docs/examples/usmca.json",
        ],
    ))
    .await
    .success();
    let v: Value = serde_json::from_str(&out).unwrap();
    let cert = v["cert_id"].as_str().unwrap().to_owned();
    assert_eq!(v["index"], 4);
    let config = std::fs::read_to_string(home.join("config.json")).unwrap();
    assert!(config.contains(std::fs::read_to_string(&vkey_file).unwrap().trim()));

    // CBP opens (pinned key, no flag); the broker is refused until granted, and again after revocation.
    let out = run(with("cbp", &["open", &cert])).await.success();
    let body: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(body, crate::support::example("usmca.json"));
    let refused = run(with("swift-brokers", &["open", &cert])).await;
    assert_eq!(refused.stdout, "");
    let err = refused.failure();
    assert!(err.contains("403") && err.contains("forbidden"), "{err}");
    let out = run(with(
        "acme-imports",
        &["grant", &cert, "--to", "swift-brokers"],
    ))
    .await
    .success();
    assert!(out.contains("granted swift-brokers"), "{out}");
    let body_file = d("body.json");
    run(with("swift-brokers", &["open", &cert, "--out", &body_file]))
        .await
        .success();
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&body_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the opened body is written private");
    let body: Value = serde_json::from_slice(&std::fs::read(&body_file).unwrap()).unwrap();
    assert_eq!(body, crate::support::example("usmca.json"));
    run(with(
        "acme-imports",
        &["revoke", &cert, "--from", "swift-brokers"],
    ))
    .await
    .success();
    let refused = run(with("swift-brokers", &["open", &cert])).await;
    assert_eq!(refused.stdout, "");
    assert!(refused.failure().contains("forbidden"));

    // Disclose two fields; verify offline (no server given); audit.
    let bundle = d("bundle.json");
    run(with(
        "acme-imports",
        &[
            "disclose",
            &cert,
            "--fields",
            "/regime,/exporter/name",
            "--out",
            &bundle,
        ],
    ))
    .await
    .success();
    let out = run(vec![
        "verify".into(),
        "--log-key".into(),
        vkey_file.clone(),
        bundle.clone(),
    ])
    .await
    .success();
    assert!(out.contains("/regime = \"USMCA\""), "{out}");
    assert!(
        out.contains("/exporter/name = \"Bajío Autopartes S.A. de C.V.\""),
        "{out}"
    );
    assert!(!out.contains("Great Lakes"), "{out}");
    let out = run(vec![
        "audit".into(),
        "--server".into(),
        url.clone(),
        "--json".into(),
    ])
    .await
    .success();
    let report: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["problems"], Value::Array(Vec::new()));
    assert_eq!(report["receipts"].as_array().unwrap().len(), 4, "{report}");

    // SIGTERM: a graceful stop, exit 0.
    let pid = served.child.id().unwrap().to_string();
    let mut child = served.child;
    let killed = tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_schema_invalid_certificate_is_refused_before_anything_is_sent() {
    let w = World::new().await;
    let dir = tempfile::tempdir().unwrap();
    let key = crate::support::save_keys(dir.path(), &w.importer.keys);
    let size = w.server.size().await;
    let requests_before = requests_served(&w.server).await;

    let invalid = "docs/examples/invalid/usmca-rule-breaches.json";
    let run = run_cli(
        dir.path(),
        &[
            "register",
            "--server",
            &w.server.url,
            "--log-key",
            w.vkey(),
            "--key",
            key.to_str().unwrap(),
            "--to",
            "cbp",
            invalid,
        ],
    )
    .await;
    let stdout = run.stdout.clone();
    let err = run.failure();
    assert!(err.contains("nothing was sent"), "{err}");
    // Every violation, each with its JSON pointer and rule, as the .violations file lists them.
    let expected =
        std::fs::read_to_string("docs/examples/invalid/usmca-rule-breaches.violations").unwrap();
    let expected: Vec<&str> = expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
    assert!(expected.len() >= 9);
    for line in &expected {
        let (pointer, rule) = line.split_once(' ').unwrap();
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(&format!("{invalid}: {pointer}: "))
                    && l.ends_with(&format!("[{rule}]"))),
            "{pointer} [{rule}] not reported in:\n{stdout}"
        );
    }
    assert_eq!(stdout.lines().count(), expected.len(), "{stdout}");

    // A directory with one bad file among good ones: nothing at all is registered.
    let batch = dir.path().join("batch");
    std::fs::create_dir_all(&batch).unwrap();
    std::fs::copy("docs/examples/usmca.json", batch.join("a-good.json")).unwrap();
    std::fs::write(batch.join("b-bad.json"), b"{\"regime\": \"USMCA\",").unwrap();
    let run = run_cli(
        dir.path(),
        &[
            "register",
            "--server",
            &w.server.url,
            "--key",
            key.to_str().unwrap(),
            "--to",
            "cbp",
            batch.to_str().unwrap(),
        ],
    )
    .await;
    assert!(
        run.stdout.contains("b-bad.json: (body): not valid JSON"),
        "{}",
        run.stdout
    );
    run.failure();

    // Only the metrics request itself was answered since: the CLI never talked to the server.
    assert_eq!(
        requests_served(&w.server).await,
        requests_before + 1,
        "the CLI talked to the server"
    );
    assert_eq!(w.server.size().await, size, "the log grew");
}

/// Requests the server answered so far, from its metrics (the asking request is counted after it answers).
async fn requests_served(server: &Server) -> u64 {
    let (_, body) = server.get("/metrics").await;
    String::from_utf8(body)
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("tradeledger_requests_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}
