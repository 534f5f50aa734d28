//! Another RFC 9180 implementation (Python `pyhpke`) opens what the vault seals and seals what the vault
//! opens, following docs/formats.md alone: the proof that a partner with other software can read our data.
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use vault::{CertId, DataKey, GrantSalt, PartyId, PartyKeys, Role};

fn interop_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/interop");
    assert!(
        dir.join("open_envelope.py").is_file(),
        "missing {}",
        dir.display()
    );
    dir
}

/// $PYTHON if set, else the interpreter of the virtual environment `tests/interop/pyenv.sh` keeps under target/
/// with the pinned requirements (made on first use); pyhpke must import, or the test fails with the reason.
fn python() -> String {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| {
        let out = Command::new("sh")
            .arg(interop_dir().join("pyenv.sh"))
            .output()
            .expect("running tests/interop/pyenv.sh");
        assert!(
            out.status.success(),
            "tests/interop/pyenv.sh could not set up Python with the pinned requirements:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("a UTF-8 path")
            .trim()
            .to_owned()
    });
    let probe = Command::new(&python).args(["-c", "import pyhpke"]).output();
    match probe {
        Err(e) => panic!("cannot run {python} ({e}): the interop test needs Python 3 with pyhpke"),
        Ok(out) if !out.status.success() => panic!(
            "{python} cannot import pyhpke:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Ok(_) => python,
    }
}

/// Runs a script with a JSON request on stdin (secrets stay off the command line).
fn run(script: &str, request: &Value) -> Result<Value, String> {
    let mut child = Command::new(python())
        .arg(interop_dir().join(script))
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(request.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap())
}

fn customs() -> PartyKeys {
    PartyKeys::generate(PartyId::new("cbp").unwrap(), Role::Customs)
}

#[test]
fn pyhpke_opens_a_vault_envelope() {
    let cbp = customs();
    let cert = CertId::random();
    let key = DataKey::generate();
    let salt = GrantSalt::generate();
    let envelope = vault::wrap(&cert, cbp.id(), &cbp.public().encryption_key, &key, &salt).unwrap();
    let mut request = json!({
        "cert_id": cert.to_string(),
        "party": "cbp",
        "secret_key": hex::encode(cbp.encryption_secret().as_bytes()),
        "envelope": hex::encode(&envelope),
    });
    let got = run("open_envelope.py", &request).unwrap();
    assert_eq!(got["data_key"], hex::encode(key.expose_secret()));
    assert_eq!(got["grant_salt"], hex::encode(salt.expose_secret()));

    // The AAD binds the recipient: the same key under another party id does not open.
    request["party"] = json!("cbq");
    let refused = run("open_envelope.py", &request).unwrap_err();
    assert!(refused.contains("decryption failed"), "{refused}");
}

#[test]
fn pyhpke_opens_a_whole_sealed_certificate() {
    let acme = PartyKeys::generate(PartyId::new("acme").unwrap(), Role::Importer);
    let cbp = customs();
    let cert = CertId::random();
    let body = json!({"hs_code": "850440", "net_cost": 12.5, "producer": {"name": "Widgets SA"}});
    let sealed = vault::seal_certificate(&cert, &body, &acme.public(), &[cbp.public()]).unwrap();
    let got = run(
        "open_envelope.py",
        &json!({
            "cert_id": cert.to_string(),
            "party": "cbp",
            "secret_key": hex::encode(cbp.encryption_secret().as_bytes()),
            "envelope": hex::encode(&sealed.envelopes[1].envelope),
            "commitment": hex::encode(sealed.commitment),
            "ciphertext": hex::encode(&sealed.ciphertext),
        }),
    )
    .unwrap();
    assert_eq!(
        got["master_salt"],
        hex::encode(sealed.master_salt.expose_secret())
    );
    let text = got["body"].as_str().unwrap();
    assert_eq!(text.as_bytes(), vault::canonical_json(&body));
}

#[test]
fn vault_opens_a_pyhpke_envelope() {
    let cbp = customs();
    let cert = CertId::random();
    let key = DataKey::generate();
    let salt = GrantSalt::generate();
    let got = run(
        "seal_envelope.py",
        &json!({
            "cert_id": cert.to_string(),
            "party": "cbp",
            "public_key": hex::encode(cbp.public().encryption_key.as_bytes()),
            "data_key": hex::encode(key.expose_secret()),
            "grant_salt": hex::encode(salt.expose_secret()),
        }),
    )
    .unwrap();
    let envelope = hex::decode(got["envelope"].as_str().unwrap()).unwrap();
    assert_eq!(envelope.len(), vault::ENVELOPE_LEN);
    let (got_key, got_salt) = vault::unwrap(&cert, &cbp, &envelope).unwrap();
    assert_eq!(got_key.expose_secret(), key.expose_secret());
    assert_eq!(got_salt.expose_secret(), salt.expose_secret());
    assert!(matches!(
        vault::unwrap(&CertId::random(), &cbp, &envelope),
        Err(vault::Error::DecryptionFailed)
    ));
}
