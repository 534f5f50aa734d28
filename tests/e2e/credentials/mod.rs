//! Credentials out (issue 9): `export --format vc-jose`, `disclose --format sd-jwt` and `verify`, through the
//! binary as a user types them, and every exported artifact checked by libraries nobody here wrote: npm `jose`
//! (+ `ajv` against the vocabulary's schema), npm `@sd-jwt/sd-jwt-vc` and PyPI `sd-jwt`.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use tradeledger::jose::{b64, did_jwk, jws};

use crate::cli::serve;
use crate::support::run_cli;

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn setup_script(name: &str) -> String {
    let out = Command::new("sh")
        .arg(interop_dir().join(name))
        .output()
        .unwrap_or_else(|e| panic!("running tests/interop/{name}: {e}"));
    assert!(
        out.status.success(),
        "tests/interop/{name} failed (scripts/test installs what it needs):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A verdict of an independent verifier: `Ok(json it printed)` or `Err(its refusal)`.
type Verdict = Result<Value, String>;

fn verdict(mut cmd: Command) -> Verdict {
    let out = cmd
        .output()
        .expect("the verifier runs (node and the interop Python are required)");
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).expect("the verifier prints JSON"))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

struct Verifiers {
    npm: String,
    python: String,
}

impl Verifiers {
    fn new() -> Verifiers {
        Verifiers {
            npm: setup_script("npmenv.sh"),
            python: setup_script("pyenv.sh"),
        }
    }

    fn node(&self, args: &[&str]) -> Verdict {
        let mut cmd = Command::new("node");
        cmd.arg(Path::new(&self.npm).join("verify.mjs")).args(args);
        verdict(cmd)
    }

    fn jose(&self, token: &Path, schema: &str) -> Verdict {
        let schema = interop_dir().join(format!("traceability/credentials/{schema}.yml"));
        self.node(&["vc-jose", token.to_str().unwrap(), schema.to_str().unwrap()])
    }

    fn sd_jwt_vc(&self, presentation: &Path) -> Verdict {
        self.node(&["sd-jwt", presentation.to_str().unwrap()])
    }

    fn pypi_sd_jwt(&self, presentation: &Path) -> Verdict {
        let mut cmd = Command::new(&self.python);
        cmd.arg(interop_dir().join("verify_sd_jwt.py"))
            .arg(presentation);
        verdict(cmd)
    }
}

/// One byte of the token changed: a character in the middle of the signed payload.
fn one_byte_changed(token: &str) -> String {
    let at = token.find('.').unwrap() + 40;
    let mut bytes = token.as_bytes().to_vec();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

struct Story {
    dir: tempfile::TempDir,
    home: PathBuf,
    url: String,
    _served: crate::cli::Served,
}

impl Story {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    async fn run(&self, key: &str, args: &[&str]) -> crate::support::Run {
        let mut all = vec![
            "--server".to_owned(),
            self.url.clone(),
            "--key".to_owned(),
            self.path(key),
            "--log-key".to_owned(),
            self.path("data/log.vkey"),
        ];
        all.extend(args.iter().map(|a| (*a).to_owned()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        run_cli(&self.home, &all).await
    }

    async fn start() -> Story {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        std::fs::create_dir_all(&home).unwrap();
        for (party, role) in [
            ("operator", "operator"),
            ("acme-imports", "importer"),
            ("cbp", "customs"),
        ] {
            let out = dir.path().join(party);
            run_cli(
                &home,
                &[
                    "keygen",
                    "--party",
                    party,
                    "--role",
                    role,
                    "--out",
                    out.to_str().unwrap(),
                ],
            )
            .await
            .success();
        }
        let served = serve(
            &home,
            &dir.path().join("data"),
            &dir.path().join("operator.pub"),
        )
        .await;
        let story = Story {
            url: served.url.clone(),
            _served: served,
            home,
            dir,
        };
        for party in ["acme-imports", "cbp"] {
            story
                .run(
                    "operator",
                    &["enroll", &story.path(&format!("{party}.pub"))],
                )
                .await
                .success();
        }
        story
    }

    async fn register(&self, example: &str) -> String {
        let out = self
            .run(
                "acme-imports",
                &[
                    "register",
                    "--to",
                    "cbp",
                    "--json",
                    &format!("docs/examples/{example}.json"),
                ],
            )
            .await
            .success();
        let v: Value = serde_json::from_str(&out).unwrap();
        v["cert_id"].as_str().unwrap().to_owned()
    }
}

mod export;
mod registered;
