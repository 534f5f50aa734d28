//! Credentials in (issue 9): Verifiable Credentials through every lifecycle command, as a user types them: a VC-JOSE credential signed by
//! the registrant's enrolled key, one signed by software nobody here wrote (PyPI `cryptography`), one whose
//! key cannot be resolved offline, a forged one, and plain JSON credentials valid and invalid.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};
use tradeledger::cert::vc::envelope::envelop;
use tradeledger::jose::{did_jwk, jws};

use crate::support::{Run, World, run_cli, save_keys};

const USMCA: &str = "docs/examples/credentials/usmca-certification-of-origin.json";
const ORIGIN: &str = "docs/examples/credentials/certification-of-origin.json";

fn example(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The CLI as `party` (its own home and key file), against the world's server.
struct As<'a> {
    w: &'a World,
    home: PathBuf,
    key: PathBuf,
}

impl<'a> As<'a> {
    fn new(w: &'a World, dir: &Path, keys: &vault::PartyKeys) -> As<'a> {
        let home = dir.join(keys.id().as_str());
        std::fs::create_dir_all(&home).unwrap();
        As {
            w,
            key: save_keys(dir, keys),
            home,
        }
    }

    async fn run(&self, args: &[&str]) -> Run {
        let mut all = vec![
            "--server",
            &self.w.server.url,
            "--log-key",
            self.w.vkey(),
            "--key",
            self.key.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        run_cli(&self.home, &all).await
    }
}

/// Registers `file` for cbp and returns (certificate id, stderr).
async fn register(acme: &As<'_>, file: &Path) -> (String, String) {
    let run = acme
        .run(&["register", "--to", "cbp", "--json", file.to_str().unwrap()])
        .await;
    let stderr = run.stderr.clone();
    let v: Value = serde_json::from_str(&run.success()).unwrap();
    (v["cert_id"].as_str().unwrap().to_owned(), stderr)
}

/// The interpreter of tests/interop/pyenv.sh's virtual environment.
fn python() -> String {
    let out = std::process::Command::new("sh")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/pyenv.sh"))
        .output()
        .expect("running tests/interop/pyenv.sh");
    assert!(
        out.status.success(),
        "tests/interop/pyenv.sh could not set up Python with the pinned requirements:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A VC-JOSE token of `credential` made by tests/interop/sign_vc_jose.py (PyPI `cryptography`).
fn signed_in_python(credential: &str, extra: &[&str]) -> String {
    let out = std::process::Command::new(python())
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/sign_vc_jose.py"))
        .arg(credential)
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jws_credential_goes_through_every_lifecycle_command() {
    let w = World::new().await;
    let dir = tempfile::tempdir().unwrap();
    let acme = As::new(&w, dir.path(), &w.importer.keys);
    let cbp = As::new(&w, dir.path(), &w.cbp.keys);
    let broker = As::new(&w, dir.path(), &w.broker.keys);

    // The importer issues the credential with its enrolled key, as `export --format vc-jose` does.
    let key = w.importer.signing_key().verifying_key();
    let mut credential = example(USMCA);
    credential["issuer"]["id"] = json!(did_jwk::encode(&key));
    let mut header = Map::new();
    header.insert("typ".into(), json!("vc+jwt"));
    header.insert("kid".into(), json!(did_jwk::verification_method(&key)));
    let token = jws::sign(
        header,
        &serde_json::to_vec(&credential).unwrap(),
        w.importer.signing_key(),
    );
    let file = dir.path().join("credential.jwt");
    std::fs::write(&file, format!("{token}\n")).unwrap();

    let (cert, said) = register(&acme, &file).await;
    assert!(
        said.contains("the issuer's signature verified with key did:jwk:"),
        "{said}"
    );

    // Customs opens: the credential as registered (the token kept), the issuer's key named and recognised.
    let run = cbp.run(&["open", &cert]).await;
    let stderr = run.stderr.clone();
    let body: Value = serde_json::from_str(&run.success()).unwrap();
    assert_eq!(body, envelop(&token).unwrap());
    assert_eq!(
        body["credentialSubject"]["goods"][0]["commodityCode"],
        "8483.40"
    );
    let kid = did_jwk::verification_method(&key);
    assert!(
        stderr.contains(&format!("the issuer's signature verified with key {kid}"))
            && stderr.contains("it is the registrant's key enrolled on the log"),
        "{stderr}"
    );
    let run = cbp.run(&["open", "--json", &cert]).await;
    let v: Value = serde_json::from_str(&run.success()).unwrap();
    assert_eq!(v["issuer_signature"]["status"], "verified");
    assert_eq!(v["issuer_signature"]["kid"], kid.as_str());
    assert_eq!(v["issuer_signature"]["enrolled"], true);
    assert_eq!(v["conforms"], true);

    // Grants work as on a native certificate.
    assert!(
        broker
            .run(&["open", &cert])
            .await
            .failure()
            .contains("forbidden")
    );
    acme.run(&["grant", &cert, "--to", "swift-brokers"])
        .await
        .success();
    let opened: Value =
        serde_json::from_str(&broker.run(&["open", &cert]).await.success()).unwrap();
    assert_eq!(opened, body);

    // Field-by-field disclosure with pointers into the credential, verified offline with the log key only.
    let bundle = dir.path().join("bundle.json");
    acme.run(&[
        "disclose",
        &cert,
        "--fields",
        "/credentialSubject/goods/0/commodityCode,/credentialSubject/goods/0/originCriterion",
        "--out",
        bundle.to_str().unwrap(),
    ])
    .await
    .success();
    let out = run_cli(
        dir.path(),
        &["verify", "--log-key", w.vkey(), bundle.to_str().unwrap()],
    )
    .await
    .success();
    assert!(
        out.contains("/credentialSubject/goods/0/commodityCode = \"8483.40\""),
        "{out}"
    );
    assert!(
        out.contains("/credentialSubject/goods/0/originCriterion = \"B\""),
        "{out}"
    );
    let text = std::fs::read_to_string(&bundle).unwrap();
    for secret in ["Engranes del Norte", "Great Plains", "eyJ", "Spur gears"] {
        assert!(!text.contains(secret), "the bundle discloses {secret}");
    }

    // Revocation, then purge: the body is gone for everyone, the registration stays provable.
    acme.run(&["revoke", &cert, "--from", "swift-brokers"])
        .await
        .success();
    assert!(
        broker
            .run(&["open", &cert])
            .await
            .failure()
            .contains("forbidden")
    );
    acme.run(&["purge", &cert]).await.success();
    let gone = cbp.run(&["open", &cert]).await;
    assert!(!gone.ok && gone.stdout.is_empty(), "{gone:?}");
    let receipt = acme.run(&["receipt", &cert]).await;
    assert!(receipt.ok, "{receipt:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_signed_elsewhere_are_verified_or_reported_and_forgeries_refused() {
    let w = World::new().await;
    let dir = tempfile::tempdir().unwrap();
    let acme = As::new(&w, dir.path(), &w.importer.keys);
    let cbp = As::new(&w, dir.path(), &w.cbp.keys);

    // Signed by PyPI `cryptography` under a did:jwk that is not the registrant's enrolled key.
    let token = signed_in_python(ORIGIN, &[]);
    let file = dir.path().join("origin.jwt");
    std::fs::write(&file, &token).unwrap();
    let (cert, _) = register(&acme, &file).await;
    let run = cbp.run(&["open", &cert]).await;
    let stderr = run.stderr.clone();
    let body: Value = serde_json::from_str(&run.success()).unwrap();
    assert_eq!(
        body["credentialSubject"]["items"][0]["product"]["commodity"]["commodityCode"],
        "0901.21"
    );
    assert!(
        stderr.contains("the issuer's signature verified with key did:jwk:")
            && stderr.contains("it is NOT the registrant's key enrolled on the log"),
        "{stderr}"
    );

    // A did:web key cannot be resolved offline: registered, and said so at registration and on every open.
    let token = signed_in_python(
        USMCA,
        &["--kid", "did:web:lakeshore-gear.example.com#key-1"],
    );
    let file = dir.path().join("usmca-did-web.jwt");
    std::fs::write(&file, &token).unwrap();
    let (cert, said) = register(&acme, &file).await;
    assert!(
        said.contains("NOT verified") && said.contains("did:web:lakeshore-gear.example.com#key-1"),
        "{said}"
    );
    let run = cbp.run(&["open", "--json", &cert]).await;
    let v: Value = serde_json::from_str(&run.success()).unwrap();
    assert_eq!(v["issuer_signature"]["status"], "unverifiable");
    assert_eq!(
        v["issuer_signature"]["issuer"],
        "did:web:lakeshore-gear.example.com"
    );
    let run = cbp.run(&["open", &cert]).await;
    assert!(
        run.stderr
            .contains("the issuer's signature was NOT verified"),
        "{run:?}"
    );

    // One byte of the signature changed: refused before anything is sent, with the pointer and rule.
    let size = w.server.size().await;
    let good = signed_in_python(USMCA, &[]);
    let (rest, signature) = good.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let forged = format!("{rest}.{flipped}{}", &signature[1..]);
    let file = dir.path().join("forged.jwt");
    std::fs::write(&file, &forged).unwrap();
    let run = acme
        .run(&["register", "--to", "cbp", file.to_str().unwrap()])
        .await;
    assert!(
        run.stdout
            .contains("/tradeledger:envelope/id: the issuer's signature does NOT verify")
            && run.stdout.contains("[jws.signature]"),
        "{run:?}"
    );
    assert!(run.failure().contains("nothing was sent"));
    assert_eq!(w.server.size().await, size, "the log grew");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_json_credentials_register_open_and_invalid_ones_are_refused_with_pointers() {
    let w = World::new().await;
    let dir = tempfile::tempdir().unwrap();
    let acme = As::new(&w, dir.path(), &w.importer.keys);
    let cbp = As::new(&w, dir.path(), &w.cbp.keys);
    for path in [USMCA, ORIGIN] {
        let (cert, _) = register(&acme, Path::new(path)).await;
        let run = cbp.run(&["open", &cert]).await;
        let stderr = run.stderr.clone();
        let body: Value = serde_json::from_str(&run.success()).unwrap();
        assert_eq!(body, example(path));
        assert!(stderr.contains("carries no issuer signature"), "{stderr}");
    }

    let invalid = "docs/examples/credentials/invalid/usmca-credential-mistakes.json";
    let run = acme.run(&["register", "--to", "cbp", invalid]).await;
    let stdout = run.stdout.clone();
    assert!(run.failure().contains("nothing was sent"));
    let expected = std::fs::read_to_string(
        "docs/examples/credentials/invalid/usmca-credential-mistakes.violations",
    )
    .unwrap();
    let expected: Vec<&str> = expected
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .collect();
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
}

/// Issue 9, item 5's round trip: a credential tradeledger exported is registered again through `register`, and
/// customs opens it with the issuer's signature verified (the registrant's own enrolled key, named by did:jwk).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exported_credential_registers_again_and_customs_opens_it_verified() {
    let w = World::new().await;
    let dir = tempfile::tempdir().unwrap();
    let acme = As::new(&w, dir.path(), &w.importer.keys);
    let cbp = As::new(&w, dir.path(), &w.cbp.keys);
    let kid = did_jwk::verification_method(&w.importer.signing_key().verifying_key());
    for (native, credential_type) in [
        ("usmca.json", "USMCACertificationOfOrigin"),
        ("cafta-dr.json", "CertificationOfOrigin"),
        ("nafta-434.json", "CertificationOfOrigin"),
    ] {
        let (cert, _) = register(&acme, &Path::new("docs/examples").join(native)).await;
        let token_file = dir.path().join(format!("{native}.jwt"));
        acme.run(&[
            "export",
            &cert,
            "--format",
            "vc-jose",
            "--out",
            token_file.to_str().unwrap(),
        ])
        .await
        .success();
        let (again, said) = register(&acme, &token_file).await;
        assert_ne!(again, cert);
        assert!(
            said.contains(&format!("verified with key {kid}")),
            "{native}: {said}"
        );

        let run = cbp.run(&["open", "--json", &again]).await;
        let v: Value = serde_json::from_str(&run.success()).unwrap();
        assert_eq!(v["conforms"], true, "{native}: {v}");
        assert_eq!(v["issuer_signature"]["status"], "verified", "{native}");
        assert_eq!(v["issuer_signature"]["kid"], kid.as_str());
        assert_eq!(v["issuer_signature"]["issuer_key"], true);
        assert_eq!(v["issuer_signature"]["enrolled"], true);
        assert_eq!(v["body"]["type"][1], credential_type, "{native}");
        let token = std::fs::read_to_string(&token_file).unwrap();
        assert_eq!(
            v["body"],
            envelop(&token).unwrap(),
            "{native}: the body is the exported credential"
        );
    }
}
