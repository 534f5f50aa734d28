//! Schemathesis (an independent property-based API tester) against a real `tradeledger serve`, driven by the
//! served /openapi.json: no answer may be a 5xx, and every answer must have a documented status, content type
//! and body schema. Requests with the signature headers are signed for real by an enrolled operator and
//! importer (tests/interop/schemathesis_hooks.py), so generated bodies reach the handlers. A bounded run: few
//! examples per operation, one worker, a fixed seed.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt as _, BufReader};
use vault::{PartyId, PartyKeys, Role};

use tradeledger::client::{Client, ops};

use crate::support::{cli, save_keys};

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// $PYTHON if set, else the interpreter of the virtual environment `tests/interop/pyenv.sh` keeps under
/// target/ with the pinned requirements (made on first use).
fn python() -> String {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| {
        let out = std::process::Command::new("sh")
            .arg(interop_dir().join("pyenv.sh"))
            .output()
            .expect("running tests/interop/pyenv.sh");
        assert!(
            out.status.success(),
            "tests/interop/pyenv.sh could not set up Python with the pinned requirements:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    });
    let probe = std::process::Command::new(&python)
        .args(["-c", "import schemathesis"])
        .output();
    match probe {
        Ok(out) if out.status.success() => python,
        other => panic!("{python} cannot import schemathesis: {other:?}"),
    }
}

/// The checks that make sense here: "valid data is accepted" is left out, since schema-valid bytes are rarely
/// a valid signed entry (they are refused with a documented 400).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
    response_headers_conformance,response_schema_conformance,negative_data_rejection,\
    missing_required_header,unsupported_method";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_against_the_served_document() {
    let python = tokio::task::spawn_blocking(python).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let operator_key = save_keys(dir.path(), &operator);
    let importer = PartyKeys::generate(PartyId::new("acme-imports").unwrap(), Role::Importer);
    let importer_key = save_keys(dir.path(), &importer);
    let mut server = cli(dir.path())
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path().join("data"))
        .arg("--operator")
        .arg(dir.path().join("operator.key.pub"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("serve prints its address")
        .unwrap()
        .unwrap();
    let url = line.strip_prefix("listening on ").unwrap().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let client = Client::new(&url)
        .unwrap()
        .with_identity(operator.id(), operator.signing_key());
    ops::enroll(&client, &operator, &importer.public())
        .await
        .unwrap();

    let started = Instant::now();
    let run = tokio::process::Command::new(&python)
        .args(["-m", "schemathesis.cli", "run"])
        .arg(format!("{url}/openapi.json"))
        .args(["--checks", CHECKS])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", "30", "--seed", "8", "--workers", "1"])
        .args(["--request-timeout", "20", "--no-color"])
        .env(
            "SCHEMATHESIS_HOOKS",
            interop_dir().join("schemathesis_hooks.py"),
        )
        .env(
            "TRADELEDGER_SIGN_AS",
            format!("{},{}", operator_key.display(), importer_key.display()),
        )
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .current_dir(dir.path())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(110), run)
        .await
        .expect("schemathesis finishes within its bound")
        .unwrap();
    let _ = server.kill().await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "schemathesis found problems ({:?}):\n{stdout}\n{}",
        started.elapsed(),
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "schemathesis passed in {:?}:\n{}",
        started.elapsed(),
        stdout.lines().rev().take(8).collect::<Vec<_>>().join("\n")
    );
}
