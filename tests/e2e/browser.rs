//! The auditor's page (src/web/, served at `/`) in Debian's headless Chromium, driven by
//! tests/browser/page.mjs with playwright-core: against real `tradeledger serve` processes, a real bundle and
//! receipt verify, one changed byte fails with its reason, a log that forked between two visits is reported
//! as a fork, and the published vectors pass in the page's own code. Chromium and the npm package are
//! installed by scripts/test; their absence fails this test.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tradeledger::client::ops;
use vault::{PartyId, PartyKeys, Role};

use crate::spawned::{Spawned, SpawnedWorld};
use crate::support::{Party, example, save_keys};

const CHROMIUM: &str = "/usr/bin/chromium";
/// RFC 6962 vector files, plus five signed-note cases (two published, three must-reject variants).
const VECTORS: usize = 196 + 5;

/// Integers at the i64/u64 edges and beyond, binary64 spellings (`1.0`, `1e3`, `-0`), escapes, non-ASCII,
/// empty containers, null and booleans, and a key that needs `~0` and `~1` in its pointer.
const TRICKY: &str = r#"{"regime": "USMCA",
    "n": {"int": 1, "float": 1.0, "exp": 1e3, "neg": -12, "negzero": -0, "frac": 0.1,
          "u64max": 18446744073709551615, "i64min": -9223372036854775808, "beyond": 18446744073709551616},
    "s": {"esc": "line\nbreak \u00e9 \ud83d\ude00 \"quoted\"", "empty": ""},
    "shape": {"obj": {}, "arr": [], "null": null, "t": true, "f": false},
    "a~b/c": "tilde and slash"}"#;

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `shared/vectors`, found by walking up from the repository as the ledger's vector test does.
fn vectors() -> PathBuf {
    repo()
        .ancestors()
        .map(|dir| dir.join("shared/vectors"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| panic!("no shared/vectors directory above {}", repo().display()))
}

/// What scripts/test installs; missing, the test fails and says how to get it.
pub(crate) fn prerequisites() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: run scripts/test (as root it installs Debian's chromium)"
    );
    assert!(
        repo()
            .join("tests/browser/node_modules/playwright-core/package.json")
            .exists(),
        "playwright-core is missing: run scripts/test (npm ci in tests/browser)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_verifies_bundles_receipts_and_reports_a_fork() {
    prerequisites();
    // Log A: two enrolled parties, two certificates, a disclosure (its opening is an access receipt).
    let a = SpawnedWorld::start(&[], None).await;
    let vkey = a.vkey();
    let importer = a.importer.actor(&vkey);
    let to = [a.cbp.id().clone()];
    let reg = ops::register(&importer, &example("usmca.json"), &to)
        .await
        .unwrap();
    let cafta = ops::register(&importer, &example("cafta-dr.json"), &to)
        .await
        .unwrap();
    let cert_id = ops::parse_cert_id(&reg.cert_id).unwrap();
    let opens = opens_share_a_receipt(
        &a,
        &vkey,
        &cert_id,
        &ops::parse_cert_id(&cafta.cert_id).unwrap(),
    )
    .await;
    let pointers = ["/exporter/name".to_owned(), "/regime".to_owned()];
    let bundle = ops::disclose(&importer, &cert_id, &pointers).await.unwrap();
    let (receipt, _) = ops::fetch_receipt(&a.importer.client, &vkey, reg.index)
        .await
        .unwrap();
    // A body whose leaves exercise every value encoding and pointer escape (docs/formats.md "Leaf value
    // encoding"), parsed as the Rust side parses it: the page must rebuild the same leaves.
    let tricky: serde_json::Value = serde_json::from_str(TRICKY).unwrap();
    let odd = ops::register_unvalidated(&importer, &tricky, &to)
        .await
        .unwrap();
    let odd_id = ops::parse_cert_id(&odd.cert_id).unwrap();
    let all = ["/n", "/s", "/shape", "/a~0b~1c"].map(str::to_owned);
    let tricky_bundle = ops::disclose(&importer, &odd_id, &all).await.unwrap();
    ops::purge(&importer, &odd_id).await.unwrap();

    // Log B: another history under the same log key (its data directory got A's key file), longer than A
    // (which has fewer than 13 entries besides the receipts of those opens, at most one entry each).
    let dir = tempfile::tempdir().unwrap();
    let data_b = dir.path().join("data");
    std::fs::create_dir(&data_b).unwrap();
    std::fs::copy(a.data.join("log.key"), data_b.join("log.key")).unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    save_keys(dir.path(), &operator);
    let b = Spawned::start(&data_b, &dir.path().join("operator.key.pub"), &[], None).await;
    let operator = Party::with_keys(operator, &b.url);
    for i in 0..12 + opens {
        let party = PartyKeys::generate(PartyId::new(&format!("party-{i}")).unwrap(), Role::Broker);
        ops::enroll(&operator.client, &operator.keys, &party.public())
            .await
            .unwrap();
    }
    wait_for_size(&b.url, 13 + opens as u64).await;

    let work = tempfile::tempdir().unwrap();
    let bundle_path = work.path().join("bundle.json");
    std::fs::write(&bundle_path, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
    let tricky_path = work.path().join("tricky.json");
    std::fs::write(&tricky_path, serde_json::to_vec(&tricky_bundle).unwrap()).unwrap();
    let receipt_path = work.path().join("registration.tlog-proof");
    std::fs::write(&receipt_path, &receipt).unwrap();
    let shots = repo().join("target/browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let config = serde_json::json!({
        "urlA": a.server.url, "urlB": b.url, "vkey": vkey, "certId": reg.cert_id, "purgedId": odd.cert_id,
        "bundle": bundle_path, "tricky": tricky_path, "receipt": receipt_path, "pointers": pointers,
        "vectors": vectors(), "expectVectors": VECTORS, "web": repo().join("src/web"), "shots": shots,
    });
    run_page(work.path(), &config).await;
    for shot in [
        "log",
        "history",
        "bundle",
        "bundle-tampered",
        "receipt",
        "fork",
    ] {
        assert!(
            shots.join(format!("{shot}.png")).exists(),
            "no screenshot {shot}.png"
        );
    }
}

/// Opens both certificates concurrently until one access receipt (kind 0x09) records a release of `first`
/// together with another release: the page must check such a group's receipt release by release, and show it
/// in `first`'s history ("one of N releases in this receipt"). A group forms while the previous one is being
/// committed, so this takes a round or two. Returns how many opens it made.
async fn opens_share_a_receipt(
    a: &SpawnedWorld,
    vkey: &str,
    first: &vault::CertId,
    second: &vault::CertId,
) -> usize {
    let reader = a.cbp.actor(vkey);
    let open = |cert_id: &vault::CertId| {
        let (reader, cert_id) = (&reader, *cert_id);
        async move {
            let opened = ops::open(reader, &cert_id).await.unwrap();
            (cert_id, opened.receipt_index)
        }
    };
    for round in 1..=20 {
        // On this one task, so the eight requests are in flight together.
        let (r1, r2, r3, r4, r5, r6, r7, r8) = tokio::join!(
            open(first),
            open(second),
            open(first),
            open(second),
            open(first),
            open(second),
            open(first),
            open(second)
        );
        let receipts = [r1, r2, r3, r4, r5, r6, r7, r8];
        let shared = receipts.iter().any(|(cert, index)| {
            cert == first && receipts.iter().filter(|(_, i)| i == index).count() > 1
        });
        if shared {
            return 8 * round;
        }
    }
    panic!("20 rounds of 8 concurrent opens never shared an access receipt");
}

/// A live log with a 2-of-2 witness policy: the page must verify both cosignatures made by real
/// `tradeledger witness` processes, and refuse the checkpoint under a policy they do not meet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_checks_a_live_logs_witness_quorum() {
    prerequisites();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    // The log key comes first: the policy names it.
    let signer = ledger::NoteSigner::generate("tradeledger.example/log").unwrap();
    let key_file = data.join("log.key");
    std::fs::write(&key_file, format!("{}\n", &*signer.to_signer_key())).unwrap();
    std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let vkey = signer.verifier().to_vkey();
    let mut policy = format!("log {vkey}\n");
    let mut witnesses = Vec::new();
    for i in 0..2 {
        let (url, wvkey, child) = start_witness(dir.path(), i, &vkey).await;
        policy += &format!("witness w{i} {wvkey} {url}\n");
        witnesses.push(child);
    }
    policy += "group both all w0 w1\nquorum both\n";
    let policy_path = dir.path().join("policy");
    std::fs::write(&policy_path, &policy).unwrap();
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    save_keys(dir.path(), &operator);
    let policy_arg = policy_path.to_str().unwrap();
    let extra = [
        "--witness-policy",
        policy_arg,
        "--cosign-interval-ms",
        "100",
    ];
    let server = Spawned::start(&data, &dir.path().join("operator.key.pub"), &extra, None).await;
    let operator = Party::with_keys(operator, &server.url);
    let broker = PartyKeys::generate(PartyId::new("broker").unwrap(), Role::Broker);
    ops::enroll(&operator.client, &operator.keys, &broker.public())
        .await
        .unwrap();
    let mut published = 0;
    for _ in 0..200 {
        if let Ok(answer) = reqwest::get(format!("{}/checkpoint", server.url)).await {
            let text = answer.text().await.unwrap_or_default();
            published = text
                .lines()
                .nth(1)
                .and_then(|l| l.parse().ok())
                .unwrap_or(0);
            if published >= 2 {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        published >= 2,
        "no cosigned checkpoint of 2 entries was published"
    );
    let config = serde_json::json!({
        "mode": "witnessed", "urlA": server.url, "vkey": vkey, "policy": policy,
        "shots": repo().join("target/browser-screenshots"),
    });
    run_page(dir.path(), &config).await;
    drop(witnesses);
}

/// Makes a witness key (`witness-keygen`) and runs `tradeledger witness` for the log `log_vkey`; returns its
/// URL, its vkey and the child (killed on drop).
async fn start_witness(
    dir: &Path,
    i: usize,
    log_vkey: &str,
) -> (String, String, tokio::process::Child) {
    let bin = env!("CARGO_BIN_EXE_tradeledger");
    let key = dir.join(format!("witness{i}.key"));
    let name = format!("witness{i}.example");
    let out = tokio::process::Command::new(bin)
        .args(["witness-keygen", "--name", &name, "--out"])
        .arg(&key)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let vkey = std::fs::read_to_string(dir.join(format!("witness{i}.key.vkey"))).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut child = tokio::process::Command::new(bin)
        .args([
            "witness",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--data",
        ])
        .arg(dir.join(format!("witness{i}")))
        .arg("--key")
        .arg(&key)
        .args(["--log", log_vkey])
        .env_remove("TRADELEDGER_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let line = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stdout))
        .next_line()
        .await
        .unwrap();
    assert_eq!(line, Some(format!("listening on {url}")));
    (url, vkey.trim().to_owned(), child)
}

/// Runs tests/browser/page.mjs with `config` (written under `dir`); fails with its output unless every check
/// passed.
pub(crate) async fn run_page(dir: &Path, config: &serde_json::Value) {
    let config_path = dir.join("page-config.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    std::fs::create_dir_all(repo().join("target/browser-screenshots")).unwrap();
    let run = tokio::process::Command::new("node")
        .arg(repo().join("tests/browser/page.mjs"))
        .arg(&config_path)
        .current_dir(repo())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(240), run)
        .await
        .expect("the browser run took more than 240 s")
        .expect("node runs (scripts/test needs Node.js)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "page.mjs failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("page.mjs: all checks passed"), "{stdout}");
}

/// Waits until the published checkpoint of `url` covers `size` entries.
async fn wait_for_size(url: &str, size: u64) {
    let client = tradeledger::client::Client::new(url).unwrap();
    for _ in 0..100 {
        let note = client.get_checkpoint_covering(size).await.unwrap();
        let text = String::from_utf8(note).unwrap();
        let published: u64 = text
            .lines()
            .nth(1)
            .and_then(|l| l.parse().ok())
            .unwrap_or(0);
        if published >= size {
            return;
        }
    }
    panic!("{url} did not publish a checkpoint of {size} entries");
}

/// A CORS preflight for `path`; the answer, lowercased.
async fn preflight(addr: &str, path: &str) -> String {
    let request = format!(
        "OPTIONS {path} HTTP/1.1\r\nHost: x\r\nOrigin: null\r\nAccess-Control-Request-Method: GET\r\nConnection: close\r\n\r\n"
    );
    let (answer, _) =
        crate::spawned::exchange(addr, request.as_bytes(), Duration::from_secs(5)).await;
    answer.to_ascii_lowercase()
}

/// One GET with an `Origin` header, as a page opened from a file sends it; the answer, lowercased.
async fn get(addr: &str, path: &str) -> String {
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nOrigin: null\r\nConnection: close\r\n\r\n");
    let (answer, _) =
        crate::spawned::exchange(addr, request.as_bytes(), Duration::from_secs(5)).await;
    answer.to_ascii_lowercase()
}

/// The served page carries its content types and CSP; public reads carry CORS, signed endpoints do not.
#[tokio::test]
async fn the_page_is_served_with_its_headers_and_public_reads_with_cors() {
    let a = SpawnedWorld::start(&[], None).await;
    let addr = a.server.addr.as_str();
    let index = get(addr, "/").await;
    assert!(index.starts_with("http/1.1 200"), "{index}");
    assert!(
        index.contains("content-type: text/html; charset=utf-8"),
        "{index}"
    );
    assert!(
        index.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{index}"
    );
    assert!(
        index.contains("<script defer src=\"js/app.js\"></script>"),
        "{index}"
    );
    let script = get(addr, "/js/merkle.js").await;
    assert!(
        script.contains("content-type: text/javascript; charset=utf-8"),
        "{script}"
    );
    assert!(
        script.contains("x-content-type-options: nosniff"),
        "{script}"
    );
    assert!(
        get(addr, "/style.css")
            .await
            .contains("content-type: text/css; charset=utf-8")
    );
    assert!(
        get(addr, "/js/nothing.js")
            .await
            .starts_with("http/1.1 404")
    );
    let checkpoint = get(addr, "/checkpoint").await;
    assert!(
        checkpoint.contains("access-control-allow-origin: *"),
        "{checkpoint}"
    );
    let missing = get(addr, "/v1/entries/999").await;
    assert!(
        missing.starts_with("http/1.1 404") && missing.contains("access-control-allow-origin: *"),
        "{missing}"
    );
    let sealed = get(
        addr,
        "/v1/certificates/00112233445566778899aabbccddeeff/sealed",
    )
    .await;
    assert!(!sealed.contains("access-control-allow-origin"), "{sealed}");
    let allowed = preflight(addr, "/tile/entries/000.p/3").await;
    assert!(allowed.starts_with("http/1.1 204"), "{allowed}");
    assert!(
        allowed.contains("access-control-allow-origin: *")
            && allowed.contains("access-control-allow-methods: get"),
        "{allowed}"
    );
    let refused = preflight(addr, "/v1/certificates").await;
    assert!(
        !refused.contains("access-control-allow-origin"),
        "{refused}"
    );
}
