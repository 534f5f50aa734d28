//! A verdict never contradicts the findings under it: `open` of a registered body that does not conform to
//! its schema says so (and still shows what was registered), and `audit --state` of a forked log says
//! "FORKED", never "consistent".

use serde_json::Value;
use tradeledger::client::ops;
use vault::{PartyId, PartyKeys, Role};

use crate::support::{Party, Server, World, copy_keys, example, run_cli, save_keys};

const INVALID: &str = "docs/examples/invalid/usmca-rule-breaches.json";

/// `(pointer, rule)` of each violation the example's `.violations` file lists.
fn expected_violations() -> Vec<(String, String)> {
    std::fs::read_to_string(INVALID.replace(".json", ".violations"))
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (pointer, rule) = l.split_once(' ').unwrap();
            (pointer.to_owned(), rule.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_says_when_the_registered_body_does_not_conform() {
    let w = World::new().await;
    let vkey = w.vkey().to_owned();
    // A registrant whose client skips validation: the server cannot tell, it never sees a body.
    let body: Value = serde_json::from_str(&std::fs::read_to_string(INVALID).unwrap()).unwrap();
    let registered = ops::register_unvalidated(
        &w.importer.actor(&vkey),
        &body,
        std::slice::from_ref(w.cbp.id()),
    )
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = save_keys(dir.path(), &w.cbp.keys);
    let open = |json: bool| {
        let mut args = vec![
            "open",
            "--server",
            &w.server.url,
            "--log-key",
            &vkey,
            "--key",
            key.to_str().unwrap(),
            &registered.cert_id,
        ];
        if json {
            args.push("--json");
        }
        let args: Vec<String> = args.into_iter().map(str::to_owned).collect();
        let home = dir.path().to_owned();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_cli(&home, &args).await
        }
    };
    let expected = expected_violations();

    // Human: the body as registered on stdout, and a failure naming every violation by pointer and rule.
    let run = open(false).await;
    let shown: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(shown, body, "the registered body is still shown");
    let err = run.failure();
    assert!(err.contains("does not conform"), "{err}");
    for (pointer, rule) in &expected {
        assert!(
            err.contains(&format!("{pointer}: ")) && err.contains(&format!("[{rule}]")),
            "{pointer} [{rule}] not in {err}"
        );
    }
    // Never a value of the body: the bad HS code, e-mail and country are not echoed.
    for secret in ["87.08", "m.velazquez at", "\"GT\"", "Bajío"] {
        assert!(!err.contains(secret), "{secret} echoed in {err}");
    }

    // JSON: "conforms": false and the violations, pointer and rule each.
    let run = open(true).await;
    let answer: Value = serde_json::from_str(&run.stdout).unwrap();
    run.failure();
    assert_eq!(answer["conforms"], false, "{answer}");
    assert_eq!(answer["body"], body);
    let listed: Vec<(String, String)> = answer["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["pointer"].as_str().unwrap().to_owned(),
                v["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for violation in &expected {
        assert!(
            listed.contains(violation),
            "{violation:?} not in {listed:?}"
        );
    }

    // A conforming body: exit 0, "conforms": true, no violations.
    let (good, _) = w.register(&example("usmca.json"), &[&w.cbp]).await;
    let out = run_cli(
        dir.path(),
        &[
            "open",
            "--json",
            "--server",
            &w.server.url,
            "--key",
            key.to_str().unwrap(),
            &good.to_string(),
        ],
    )
    .await
    .success();
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(answer["conforms"], true, "{answer}");
    assert_eq!(answer["violations"], Value::Array(Vec::new()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_of_a_forked_log_says_forked_never_consistent() {
    let w = World::new().await;
    let vkey = w.vkey().to_owned();
    w.register(&example("usmca.json"), &[&w.cbp]).await;
    let size = w.server.size().await;
    let auditor = tempfile::tempdir().unwrap();
    let state = auditor.path().join("audit.state");
    let audit = |url: &str, json: bool| {
        let mut args = vec![
            "audit".to_owned(),
            "--server".to_owned(),
            url.to_owned(),
            "--log-key".to_owned(),
            vkey.clone(),
            "--state".to_owned(),
            state.to_str().unwrap().to_owned(),
        ];
        if json {
            args.push("--json".to_owned());
        }
        let home = auditor.path().to_owned();
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            run_cli(&home, &args).await
        }
    };
    let out = audit(&w.server.url, false).await.success();
    assert!(out.contains("verdict: clean"), "{out}");
    let saved = std::fs::read_to_string(&state).unwrap();

    // Another history under the same log key: same size first, then longer.
    let forged_dir = tempfile::tempdir().unwrap();
    let forged = forged_dir.path().join("data");
    std::fs::create_dir_all(&forged).unwrap();
    std::fs::copy(w.server.data.join("log.key"), forged.join("log.key")).unwrap();
    let server = Server::start(&forged, &w.operator.keys.public()).await;
    assert_eq!(server.vkey, vkey, "the fork signs with the same key");
    let op = Party::with_keys(copy_keys(&w.operator.keys), &server.url);
    // Entry 0 is there; each enrollment returns its index.
    let mut forged_size = 1;
    for target in [size, size + 3] {
        while forged_size < target {
            let id = PartyId::new(&format!("fork-{forged_size}")).unwrap();
            let p = PartyKeys::generate(id, Role::Broker);
            forged_size = ops::enroll(&op.client, &op.keys, &p.public())
                .await
                .unwrap()
                + 1;
        }
        // The published checkpoint may lag an append a moment; a smaller one would be a different case.
        while server.size().await < forged_size {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let run = audit(&server.url, false).await;
        let stdout = run.stdout.clone();
        assert!(
            !stdout.contains("consistent with"),
            "a fork called consistent:\n{stdout}"
        );
        assert!(stdout.contains("verdict: FORKED"), "{stdout}");
        let err = run.failure();
        assert!(err.contains("audit found a fork"), "{err}");
        assert!(!stdout.contains("problems: none"), "{stdout}");
        let run = audit(&server.url, true).await;
        let report: Value = serde_json::from_str(&run.stdout).unwrap();
        run.failure();
        assert_eq!(report["continuity"], "forked", "{report}");
        assert!(!report["problems"].as_array().unwrap().is_empty());
        assert_eq!(
            std::fs::read_to_string(&state).unwrap(),
            saved,
            "state kept"
        );
    }
    server.stop().await;
}
