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

/// One exported certificate: its example, the vocabulary schema its credential follows, the claims its
/// presentation discloses, one of them with its expected value, and a claim that must stay hidden.
struct Case {
    example: &'static str,
    schema: &'static str,
    fields: &'static str,
    claim: &'static str,
    claimed: &'static str,
    hidden: &'static str,
}

const CASES: [Case; 3] = [
    Case {
        example: "usmca",
        schema: "USMCACertificationOfOrigin",
        fields: "/credentialSubject/goods/0/commodityCode,/issuer/employee/lastName",
        claim: "/credentialSubject/goods/0/commodityCode",
        claimed: "8708.30",
        hidden: "/credentialSubject/goods/0/description",
    },
    Case {
        example: "cafta-dr",
        schema: "CertificationOfOrigin",
        fields: "/credentialSubject/items/1/product/commodity/commodityCode,/credentialSubject/dateOfExport",
        claim: "/credentialSubject/items/1/product/commodity/commodityCode",
        claimed: "6106.10.00",
        hidden: "/credentialSubject/items/0/description",
    },
    // Its blanket period ended in 2020: content, not the token's lifetime, so it still verifies everywhere.
    Case {
        example: "nafta-434",
        schema: "CertificationOfOrigin",
        fields: "/credentialSubject/items/0/countryOfOrigin,/validUntil",
        claim: "/validUntil",
        claimed: "2020-06-30T23:59:59Z",
        hidden: "/credentialSubject/items/0/description",
    },
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_export_and_presentation_verifies_here_and_in_independent_libraries_and_tampering_is_refused()
 {
    let verifiers = Verifiers::new();
    let story = Story::start().await;
    for Case {
        example,
        schema,
        fields,
        claim,
        claimed,
        hidden,
    } in CASES
    {
        let cert = story.register(example).await;

        // VC-JOSE: verifies here, in jose with the did:jwk key, and validates against the vocabulary schema.
        let token_file = story.path(&format!("{example}.vc.jwt"));
        story
            .run(
                "acme-imports",
                &["export", &cert, "--format", "vc-jose", "--out", &token_file],
            )
            .await
            .success();
        let out = story
            .run("acme-imports", &["verify", "--json", &token_file])
            .await
            .success();
        let ours: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(ours["credential_type"], schema);
        assert_eq!(ours["registrant"], "acme-imports");
        assert_eq!(ours["cert_id"], cert.as_str());
        let theirs = verifiers
            .jose(Path::new(&token_file), schema)
            .expect("jose + ajv accept the export");
        assert_eq!(theirs["typ"], "vc+jwt");
        assert_eq!(
            theirs["credential"], ours["credential"],
            "{example}: jose read the same credential"
        );
        assert_eq!(theirs["issuer"], ours["issuer"]);

        let token = std::fs::read_to_string(&token_file).unwrap();
        let tampered_file = story.path(&format!("{example}.tampered.vc.jwt"));
        std::fs::write(&tampered_file, one_byte_changed(token.trim())).unwrap();
        story
            .run("acme-imports", &["verify", &tampered_file])
            .await
            .failure();
        verifiers
            .jose(Path::new(&tampered_file), schema)
            .expect_err("jose refuses a changed byte");

        // SD-JWT VC: exactly the chosen claims, in both libraries and here.
        let presentation_file = story.path(&format!("{example}.sd-jwt"));
        story
            .run(
                "acme-imports",
                &[
                    "disclose",
                    &cert,
                    "--fields",
                    fields,
                    "--format",
                    "sd-jwt",
                    "--out",
                    &presentation_file,
                ],
            )
            .await
            .success();
        let out = story
            .run("acme-imports", &["verify", "--json", &presentation_file])
            .await
            .success();
        let ours: Value = serde_json::from_str(&out).unwrap();
        let disclosed: Vec<String> = ours["disclosed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|pair| pair[0].as_str().unwrap().to_owned())
            .collect();
        let mut chosen: Vec<String> = fields.split(',').map(str::to_owned).collect();
        chosen.sort();
        let mut disclosed_sorted = disclosed.clone();
        disclosed_sorted.sort();
        assert_eq!(
            disclosed_sorted, chosen,
            "{example}: exactly the chosen claims"
        );
        for (name, theirs) in [
            (
                "@sd-jwt/sd-jwt-vc",
                verifiers.sd_jwt_vc(Path::new(&presentation_file)),
            ),
            (
                "PyPI sd-jwt",
                verifiers.pypi_sd_jwt(Path::new(&presentation_file)),
            ),
        ] {
            let claims = theirs.unwrap_or_else(|e| panic!("{name} refused {example}'s presentation: {e}"))["claims"].clone();
            assert_eq!(
                claims.pointer(claim),
                Some(&json!(claimed)),
                "{name}: {example} {claim}"
            );
            assert_eq!(
                claims.pointer(hidden),
                None,
                "{name}: {example} {hidden} must stay hidden"
            );
            assert_eq!(
                claims["vct"],
                format!("https://w3id.org/traceability#{schema}")
            );
        }

        let presentation = std::fs::read_to_string(&presentation_file).unwrap();
        let presentation = presentation.trim();
        let tampered_file = story.path(&format!("{example}.tampered.sd-jwt"));
        std::fs::write(&tampered_file, one_byte_changed(presentation)).unwrap();
        story
            .run("acme-imports", &["verify", &tampered_file])
            .await
            .failure();
        verifiers
            .sd_jwt_vc(Path::new(&tampered_file))
            .expect_err("@sd-jwt/sd-jwt-vc refuses a changed byte");
        verifiers
            .pypi_sd_jwt(Path::new(&tampered_file))
            .expect_err("PyPI sd-jwt refuses a changed byte");

        altered_disclosure_never_comes_out(
            &story,
            &verifiers,
            example,
            presentation,
            claim,
            claimed,
        )
        .await;
    }
    // The other USMCA examples (a blanket period with various producers, a producer withheld, the producer
    // certifying): every exported token verifies in jose and validates against the vocabulary's schema.
    for example in [
        "usmca-blanket-various",
        "usmca-confidential-producer",
        "usmca-producer",
    ] {
        let cert = story.register(example).await;
        let token_file = story.path(&format!("{example}.vc.jwt"));
        story
            .run("acme-imports", &["export", &cert, "--out", &token_file])
            .await
            .success();
        story
            .run("acme-imports", &["verify", &token_file])
            .await
            .success();
        verifiers
            .jose(Path::new(&token_file), "USMCACertificationOfOrigin")
            .unwrap_or_else(|e| panic!("{example}: {e}"));
    }
}

/// A disclosure whose value is changed no longer matches any digest in the signed payload: `tradeledger
/// verify` refuses the presentation (RFC 9901: every disclosure must be referenced); the libraries may drop
/// it silently, but the altered value must never come out of them as a verified claim.
async fn altered_disclosure_never_comes_out(
    story: &Story,
    verifiers: &Verifiers,
    example: &str,
    presentation: &str,
    claim: &str,
    claimed: &str,
) {
    let name = claim.rsplit('/').next().unwrap();
    let parts: Vec<&str> = presentation.split('~').collect();
    let (at, decoded) = parts
        .iter()
        .enumerate()
        .skip(1)
        .find_map(|(i, d)| {
            let v: Value = serde_json::from_slice(&b64::decode(d, "d").ok()?).ok()?;
            (v[1] == name).then_some((i, v))
        })
        .expect("the claim's disclosure");
    let forged = "FORGED-9999.99";
    let altered =
        b64::encode(serde_json::to_vec(&json!([decoded[0], decoded[1], forged])).unwrap());
    let mut changed: Vec<&str> = parts.clone();
    changed[at] = &altered;
    let file = story.path(&format!("{example}.altered.sd-jwt"));
    std::fs::write(&file, changed.join("~")).unwrap();
    let err = story
        .run("acme-imports", &["verify", &file])
        .await
        .failure();
    assert!(err.contains("not referenced"), "{err}");
    for (library, theirs) in [
        ("@sd-jwt/sd-jwt-vc", verifiers.sd_jwt_vc(Path::new(&file))),
        ("PyPI sd-jwt", verifiers.pypi_sd_jwt(Path::new(&file))),
    ] {
        if let Ok(out) = theirs {
            let text = out.to_string();
            assert!(
                !text.contains(forged),
                "{library} output the altered value as a claim: {text}"
            );
            assert_ne!(
                out["claims"].pointer(claim),
                Some(&json!(claimed)),
                "{library}: dropped, not kept"
            );
        }
    }
    // The same disclosure twice: refused here as well.
    let mut doubled: Vec<&str> = parts.clone();
    doubled.insert(at, parts[at]);
    std::fs::write(&file, doubled.join("~")).unwrap();
    let err = story
        .run("acme-imports", &["verify", &file])
        .await
        .failure();
    assert!(err.contains("repeat"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_credential_signed_by_a_key_not_enrolled_for_the_registrant_is_refused() {
    let story = Story::start().await;
    let cert = story.register("usmca").await;
    let token_file = story.path("vc.jwt");
    story
        .run("acme-imports", &["export", &cert, "--out", &token_file])
        .await
        .success();
    let token = std::fs::read_to_string(&token_file).unwrap();
    // Another enrolled party (cbp) re-signs the same header (log binding included) and payload with its key,
    // naming its own did:jwk: a valid JWS, but not by the key the log enrolled for the registrant.
    let verified = jws::verify(token.trim(), &jws::Limits::DEFAULT).unwrap();
    let cbp = vault::PartyKeys::load(Path::new(&story.path("cbp"))).unwrap();
    let mut header = verified.header.clone();
    header.insert(
        "kid".into(),
        json!(did_jwk::verification_method(
            &cbp.signing_key().verifying_key()
        )),
    );
    let mut payload: Value = serde_json::from_slice(&verified.payload).unwrap();
    payload["issuer"]["id"] = json!(did_jwk::encode(&cbp.signing_key().verifying_key()));
    let forged = jws::sign(
        header,
        &serde_json::to_vec(&payload).unwrap(),
        cbp.signing_key(),
    );
    std::fs::write(&token_file, forged).unwrap();
    let err = story
        .run("acme-imports", &["verify", &token_file])
        .await
        .failure();
    assert!(
        err.contains("not the key enrolled on the log for acme-imports"),
        "{err}"
    );

    // A payload changed and re-signed by the registrant itself no longer matches the registered commitment.
    let mut payload: Value = serde_json::from_slice(&verified.payload).unwrap();
    payload["credentialSubject"]["goods"][0]["originCriterion"] = json!("A");
    let acme = vault::PartyKeys::load(Path::new(&story.path("acme-imports"))).unwrap();
    let resigned = jws::sign(
        verified.header.clone(),
        &serde_json::to_vec(&payload).unwrap(),
        acme.signing_key(),
    );
    std::fs::write(&token_file, resigned).unwrap();
    let err = story
        .run("acme-imports", &["verify", &token_file])
        .await
        .failure();
    assert!(err.contains("content differs"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_registered_as_a_credential_exports_as_that_credential() {
    let verifiers = Verifiers::new();
    let story = Story::start().await;
    let native = story.register("usmca").await;
    let exported = story.path("native.vc.jwt");
    story
        .run("acme-imports", &["export", &native, "--out", &exported])
        .await
        .success();
    let token = std::fs::read_to_string(&exported).unwrap();

    // Registered as a VC-JOSE token, it exports as exactly that token.
    let out = story
        .run(
            "acme-imports",
            &["register", "--to", "cbp", "--json", &exported],
        )
        .await
        .success();
    let again: Value = serde_json::from_str(&out).unwrap();
    let again_file = story.path("again.vc.jwt");
    story
        .run(
            "acme-imports",
            &[
                "export",
                again["cert_id"].as_str().unwrap(),
                "--out",
                &again_file,
            ],
        )
        .await
        .success();
    assert_eq!(
        std::fs::read_to_string(&again_file).unwrap().trim(),
        token.trim()
    );

    // Registered as plain JSON naming the registrant's did:jwk as issuer, it is signed as it is and bound to its
    // own registration: verified here, in jose, and valid under the vocabulary's schema.
    let payload = jws::verify(token.trim(), &jws::Limits::DEFAULT)
        .unwrap()
        .payload;
    let mut credential: Value = serde_json::from_slice(&payload).unwrap();
    credential["id"] = json!("urn:uuid:7f8e2c1a-4b5d-4e6f-8a9b-0c1d2e3f4a5b");
    let plain = story.path("plain-credential.json");
    std::fs::write(&plain, serde_json::to_vec_pretty(&credential).unwrap()).unwrap();
    let out = story
        .run(
            "acme-imports",
            &["register", "--to", "cbp", "--json", &plain],
        )
        .await
        .success();
    let plain_cert = serde_json::from_str::<Value>(&out).unwrap()["cert_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let plain_token = story.path("plain.vc.jwt");
    story
        .run(
            "acme-imports",
            &["export", &plain_cert, "--out", &plain_token],
        )
        .await
        .success();
    let out = story
        .run("acme-imports", &["verify", "--json", &plain_token])
        .await
        .success();
    let ours: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(ours["cert_id"], plain_cert.as_str());
    assert_eq!(ours["credential"], credential);
    verifiers
        .jose(Path::new(&plain_token), "USMCACertificationOfOrigin")
        .expect("jose + ajv accept it");

    // A plain credential whose issuer is someone else is not signed by tradeledger in the registrant's name.
    credential["issuer"]["id"] = json!("did:web:other-issuer.example");
    std::fs::write(&plain, serde_json::to_vec_pretty(&credential).unwrap()).unwrap();
    let out = story
        .run(
            "acme-imports",
            &["register", "--to", "cbp", "--json", &plain],
        )
        .await
        .success();
    let other = serde_json::from_str::<Value>(&out).unwrap()["cert_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let err = story
        .run("acme-imports", &["export", &other])
        .await
        .failure();
    assert!(err.contains("signs only as the registrant"), "{err}");
    let err = story
        .run(
            "acme-imports",
            &[
                "disclose",
                &other,
                "--fields",
                "/id",
                "--format",
                "sd-jwt",
                "--out",
                &plain_token,
            ],
        )
        .await
        .failure();
    assert!(err.contains("registered as a credential"), "{err}");
}
