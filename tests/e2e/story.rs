//! The demo story: `tradeledger demo` as a user runs it, and the same story step by step through the client
//! operations, each step checked.

use serde_json::Value;
use tradeledger::client::ops;

use crate::support::{EXAMPLES, World, example, run_cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_runs_the_whole_story_and_narrates_each_step() {
    let home = tempfile::tempdir().unwrap();
    let out = run_cli(home.path(), &["demo"]).await.success();
    let lines: Vec<&str> = out.lines().collect();
    // Every line is a numbered step, numbered 1, 2, 3, ... in order.
    for (i, line) in lines.iter().enumerate() {
        let prefix = format!("{:>2}. ", i + 1);
        assert!(line.starts_with(&prefix), "line {}: {line}", i + 1);
    }
    let story = [
        "started the service",
        "enrolled the operator as entry 0",
        "enrolled acme-imports (importer)",
        "enrolled cbp (customs)",
        "enrolled swift-brokers (broker)",
        "enrolled audit-co (auditor)",
        "registered usmca.json for cbp",
        "registered cafta-dr.json for cbp",
        "registered nafta-434.json for cbp",
        "cbp opened",
        "tried to open it and was refused: forbidden",
        "granted swift-brokers",
        "swift-brokers opened it",
        "revoked swift-brokers",
        "tried again and was refused: forbidden",
        "disclosed /regime and /exporter/name",
        "verified the bundle offline: ",
        "registered a USMCACertificationOfOrigin credential (VC-JOSE",
        "cbp opened it: the issuer's signature verified with key did:jwk:",
        "it is the registrant's key enrolled on the log",
        "exported",
        "as a VC-JOSE credential",
        "verified the VC-JOSE USMCACertificationOfOrigin offline",
        "as an SD-JWT VC presentation",
        "verified the SD-JWT offline: ",
        "audited the whole log",
        "no problems",
        "access receipt at",
        "stopped the service",
    ];
    let mut from = 0;
    for step in story {
        let found = lines[from..]
            .iter()
            .position(|l| l.contains(step))
            .unwrap_or_else(|| panic!("no step {step:?} after line {from} in:\n{out}"));
        from += found;
    }
    let verified = lines
        .iter()
        .find(|l| l.contains("verified the bundle offline"))
        .unwrap();
    assert!(verified.contains(r#"/regime = "USMCA""#), "{verified}");
    assert!(
        verified.contains(r#"/exporter/name = "Bajío Autopartes S.A. de C.V.""#),
        "{verified}"
    );
    let receipts = lines
        .iter()
        .filter(|l| l.contains("access receipt at"))
        .count();
    assert!(receipts >= 3, "{out}");

    // `--json`: one object per line, with the same steps.
    let out = run_cli(home.path(), &["demo", "--json"]).await.success();
    for (i, line) in out.lines().enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["step"], i as u64 + 1);
        assert!(v["text"].as_str().is_some_and(|t| !t.is_empty()));
    }
    assert_eq!(out.lines().count(), lines.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_story_step_by_step_through_the_client() {
    let w = World::new().await;
    let vkey = w.vkey();

    // Register the three examples for CBP.
    let mut certs = Vec::new();
    for (name, _) in EXAMPLES {
        let (cert_id, index) = w.register(&example(name), &[&w.cbp]).await;
        let info = w.server.client().get_certificate(&cert_id).await.unwrap();
        assert_eq!(info.registration_index, index);
        assert_eq!((info.purged, info.accesses), (false, 0));
        certs.push((name, cert_id, index));
    }
    assert_eq!(
        certs.iter().map(|c| c.2).collect::<Vec<_>>(),
        [5, 6, 7],
        "entries 0-4 are the enrollments"
    );

    // CBP opens each: the verified body is exactly the registered one.
    for (name, cert_id, index) in &certs {
        let opened = w.open(&w.cbp, cert_id).await.unwrap();
        assert_eq!(opened.body, example(name), "{name}");
        assert_eq!(opened.registration.index, *index);
        assert_eq!(opened.registrant.index, 1, "acme-imports' enrollment");
    }
    let (_, cert_id, _) = certs[0];

    // The broker has no grant: refused by policy, and nothing is released.
    let receipts_before = w
        .server
        .client()
        .get_certificate(&cert_id)
        .await
        .unwrap()
        .accesses;
    let refused = w.open(&w.broker, &cert_id).await.unwrap_err();
    assert_refused(&refused, 403, "forbidden");
    assert_eq!(
        w.server
            .client()
            .get_certificate(&cert_id)
            .await
            .unwrap()
            .accesses,
        receipts_before
    );

    // Grant, open, revoke, refused again.
    let grant_index = ops::grant(&w.importer.actor(vkey), &cert_id, w.broker.id())
        .await
        .unwrap();
    let opened = w.open(&w.broker, &cert_id).await.unwrap();
    assert_eq!(opened.body, example("usmca.json"));
    assert!(opened.receipt_index > grant_index);
    let revoke_index = ops::revoke(&w.importer.actor(vkey), &cert_id, w.broker.id())
        .await
        .unwrap();
    assert!(revoke_index > opened.receipt_index);
    assert_refused(
        &w.open(&w.broker, &cert_id).await.unwrap_err(),
        403,
        "forbidden",
    );
    // CBP still reads it.
    w.open(&w.cbp, &cert_id).await.unwrap();

    // Disclose two fields to the auditor; the bundle verifies offline, through JSON, with only the log key.
    let fields = ["/regime".to_owned(), "/exporter/name".to_owned()];
    let bundle = ops::disclose(&w.importer.actor(vkey), &cert_id, &fields)
        .await
        .unwrap();
    let text = serde_json::to_string(&bundle).unwrap();
    assert!(
        !text.contains("Great Lakes Assembly"),
        "an undisclosed field leaked into the bundle"
    );
    let bundle: ops::Bundle = serde_json::from_str(&text).unwrap();
    let verified = ops::verify_bundle(&bundle, vkey).unwrap();
    assert_eq!(verified.cert_id, cert_id.to_string());
    assert_eq!(verified.registrant, "acme-imports");
    let mut shown = verified.fields.clone();
    shown.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        shown,
        [
            (
                "/exporter/name".to_owned(),
                Value::from("Bajío Autopartes S.A. de C.V.")
            ),
            ("/regime".to_owned(), Value::from("USMCA")),
        ]
    );

    // The auditor, holding no key, audits the whole log: no problems.
    let report = ops::audit(&w.auditor.client, vkey, None).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.size, w.server.size().await);
    assert_eq!(report.kinds.get("enrollment"), Some(&5));
    assert_eq!(report.kinds.get("registration"), Some(&3));
    assert_eq!(report.kinds.get("grant"), Some(&1));
    assert_eq!(report.kinds.get("revocation"), Some(&1));
    assert_eq!(
        report.parties.get("audit-co").map(String::as_str),
        Some("auditor")
    );

    // Access receipts: CBP opened three times plus once more, the importer once for the grant and once for the
    // disclosure, the broker once; each names the certificate released.
    let receipts = report.kinds.get("access_receipt").copied().unwrap_or(0);
    assert_eq!(receipts, report.receipts.len() as u64);
    assert_eq!(receipts, 3 + 1 + 1 + 1 + 1);
    let on_first = report
        .receipts
        .iter()
        .filter(|r| r.cert_id == cert_id.to_string())
        .count() as u64;
    assert_eq!(on_first, 5);
    assert_eq!(
        w.server
            .client()
            .get_certificate(&cert_id)
            .await
            .unwrap()
            .accesses,
        on_first
    );

    // The operator's view of the same story, in Prometheus text format.
    let (status, metrics) = w.server.get("/metrics").await;
    assert_eq!(status, 200);
    let metrics = String::from_utf8(metrics).unwrap();
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    assert_eq!(value("tradeledger_registrations_total"), 3);
    assert_eq!(value("tradeledger_envelopes_released_total"), receipts);
    assert_eq!(value("tradeledger_log_size"), report.size);
    assert_eq!(value("tradeledger_requests_total{class=\"5xx\"}"), 0);
    assert!(value("tradeledger_requests_total{class=\"4xx\"}") >= 2);
    assert_eq!(value("tradeledger_register_seconds_count{}"), 3);
}

/// Asserts an operation failed because the server refused it with `status` and `code`.
#[track_caller]
pub fn assert_refused(error: &anyhow::Error, status: u16, code: &str) {
    match error.downcast_ref::<tradeledger::client::ClientError>() {
        Some(tradeledger::client::ClientError::Api {
            status: s, code: c, ..
        }) => {
            assert_eq!((*s, c.as_str()), (status, code), "{error:#}");
            crate::support::assert_documented(status, code);
        }
        _ => panic!("not a refusal by the server: {error:#}"),
    }
}
