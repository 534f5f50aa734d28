//! The auditor's page against credentials exported by a live server (issue 11 item 4, issue 9's formats): a
//! real VC-JOSE credential and SD-JWT presentation of each regime, and a credential registered as plain JSON,
//! verify in headless Chromium (tests/browser/credentials.mjs); tampered, altered, repeated and re-signed ones
//! are refused with their reasons.

use std::path::Path;

use crate::browser::{prerequisites, repo, run_page};
use crate::cli::serve;
use crate::support::run_cli;

/// Runs the CLI as `key` (a key file under `dir`) against `url`, with the log key the server wrote.
async fn cli_as(dir: &Path, url: &str, key: &str, args: &[&str]) -> String {
    let key = dir.join(key);
    let log_key = dir.join("data/log.vkey");
    let mut all = vec!["--server", url, "--key", key.to_str().unwrap()];
    all.extend(["--log-key", log_key.to_str().unwrap()]);
    all.extend(args);
    run_cli(&dir.join("home"), &all).await.success()
}

/// A real VC-JOSE credential and SD-JWT presentation, made by `export` and `disclose` through the CLI against a
/// live server, verify in the page; one changed byte, an altered or repeated disclosure and a token re-signed by
/// a key the log did not enroll for the registrant are each refused with their reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_verifies_vc_jose_credentials_and_sd_jwt_presentations() {
    prerequisites();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let home = d.join("home");
    std::fs::create_dir_all(&home).unwrap();
    for (party, role) in [
        ("operator", "operator"),
        ("acme-imports", "importer"),
        ("cbp", "customs"),
    ] {
        let out = d.join(party);
        let args = ["keygen", "--party", party, "--role", role, "--out"];
        let mut args = args.to_vec();
        args.push(out.to_str().unwrap());
        run_cli(&home, &args).await.success();
    }
    let served = serve(&home, &d.join("data"), &d.join("operator.pub")).await;
    let url = served.url.as_str();
    for party in ["acme-imports", "cbp"] {
        let public = d.join(format!("{party}.pub"));
        cli_as(d, url, "operator", &["enroll", public.to_str().unwrap()]).await;
    }
    // Each regime's example (both credential types), exported and presented; the first is the USMCA one.
    let mut exported = Vec::new();
    for (example, fields) in [
        (
            "usmca",
            "/credentialSubject/goods/0/commodityCode,/issuer/employee/lastName",
        ),
        (
            "cafta-dr",
            "/credentialSubject/items/1/product/commodity/commodityCode,/credentialSubject/dateOfExport",
        ),
        (
            "nafta-434",
            "/credentialSubject/items/0/countryOfOrigin,/validUntil",
        ),
    ] {
        let path = repo().join(format!("docs/examples/{example}.json"));
        let register = ["register", "--to", "cbp", "--json", path.to_str().unwrap()];
        let registered = cli_as(d, url, "acme-imports", &register).await;
        let registered: serde_json::Value = serde_json::from_str(&registered).unwrap();
        let cert = registered["cert_id"].as_str().unwrap().to_owned();
        let token = d.join(format!("{example}.vc.jwt"));
        let export = ["export", &cert, "--format", "vc-jose", "--out"];
        let mut export = export.to_vec();
        export.push(token.to_str().unwrap());
        cli_as(d, url, "acme-imports", &export).await;
        let presentation = d.join(format!("{example}.sd-jwt"));
        let disclose = ["disclose", &cert, "--fields", fields, "--format", "sd-jwt"];
        let mut disclose = disclose.to_vec();
        disclose.extend(["--out", presentation.to_str().unwrap()]);
        cli_as(d, url, "acme-imports", &disclose).await;
        exported.push(serde_json::json!({
            "example": example, "certId": cert, "token": token, "presentation": presentation,
            "fields": fields.split(',').collect::<Vec<_>>(),
        }));
    }
    let cert = exported[0]["certId"].clone();
    let (token, presentation) = (
        exported[0]["token"].clone(),
        exported[0]["presentation"].clone(),
    );
    // A credential registered as plain JSON (the USMCA export's payload under another id) exports as itself,
    // signed with the log binding of its own registration.
    let usmca = std::fs::read_to_string(d.join("usmca.vc.jwt")).unwrap();
    let payload = usmca.trim().split('.').nth(1).unwrap();
    let payload = tradeledger::jose::b64::decode(payload, "payload").unwrap();
    let mut credential: serde_json::Value = serde_json::from_slice(&payload).unwrap();
    credential["id"] = serde_json::json!("urn:uuid:7f8e2c1a-4b5d-4e6f-8a9b-0c1d2e3f4a5b");
    let plain = d.join("plain-credential.json");
    std::fs::write(&plain, serde_json::to_vec_pretty(&credential).unwrap()).unwrap();
    let register = ["register", "--to", "cbp", "--json", plain.to_str().unwrap()];
    let registered = cli_as(d, url, "acme-imports", &register).await;
    let registered: serde_json::Value = serde_json::from_str(&registered).unwrap();
    let plain_cert = registered["cert_id"].as_str().unwrap().to_owned();
    let plain_token = d.join("plain.vc.jwt");
    let export = [
        "export",
        &plain_cert,
        "--out",
        plain_token.to_str().unwrap(),
    ];
    cli_as(d, url, "acme-imports", &export).await;

    let vkey = std::fs::read_to_string(d.join("data/log.vkey")).unwrap();
    let shots = repo().join("target/browser-screenshots");
    let config = serde_json::json!({
        "mode": "credentials", "urlA": url, "vkey": vkey.trim(), "certId": cert, "registrant": "acme-imports",
        "token": token, "presentation": presentation, "claim": "/credentialSubject/goods/0/commodityCode",
        "claimed": "8708.30", "hidden": "/credentialSubject/goods/0/description", "shots": shots,
        "registrantKey": d.join("acme-imports"), "others": exported[1..],
        "plain": { "certId": plain_cert, "token": plain_token, "id": credential["id"] },
    });
    run_page(d, &config).await;
    for shot in [
        "vc-jose",
        "vc-jose-tampered",
        "vc-jose-foreign-key",
        "sd-jwt",
        "sd-jwt-tampered",
        "sd-jwt-altered",
    ] {
        assert!(
            shots.join(format!("{shot}.png")).exists(),
            "no screenshot {shot}.png"
        );
    }
    drop(served);
}
