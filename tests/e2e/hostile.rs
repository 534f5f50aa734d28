//! A hostile server in front of an honest one: a substituted party key, an altered checkpoint, an altered
//! entry. The client refuses each before it relies on it, and nothing is registered or shown.

use std::sync::Arc;

use tradeledger::client::ops;

use crate::accepted::Accepted;
use crate::proxy;
use crate::support::{Party, World, copy_keys, example, run_cli, save_keys};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_substituted_recipient_key_is_refused_before_anything_is_sealed() {
    let w = World::new().await;
    // The server answers "cbp" with the broker's (real, logged, operator-signed) enrollment: sealing to it
    // would hand the broker CBP's certificate.
    let (_, broker_record) = w.server.get("/v1/parties/swift-brokers").await;
    let hostile = proxy::start(
        &w.server.url,
        Arc::new(move |path: &str, body: &mut Vec<u8>| {
            if path == "/v1/parties/cbp" {
                body.clone_from(&broker_record);
            }
        }),
    )
    .await;
    let size = w.server.size().await;
    let importer = Party::with_keys(copy_keys(&w.importer.keys), &hostile.url);
    let e = ops::register(
        &importer.actor(w.vkey()),
        &example("usmca.json"),
        std::slice::from_ref(w.cbp.id()),
    )
    .await
    .unwrap_err();
    assert!(
        format!("{e:#}").contains("is not the enrollment of cbp"),
        "{e:#}"
    );
    assert_eq!(w.server.size().await, size, "nothing was registered");

    // Granting to the substituted key is refused the same way.
    let (cert_id, _) = w.register(&example("usmca.json"), &[&w.cbp]).await;
    let e = ops::grant(&importer.actor(w.vkey()), &cert_id, w.cbp.id())
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("is not the enrollment of cbp"),
        "{e:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altered_checkpoint_or_entry_is_refused() {
    let w = World::new().await;
    let (cert_id, _) = w.register(&example("usmca.json"), &[&w.cbp]).await;

    // A checkpoint whose root was changed after signing.
    let hostile = proxy::start(
        &w.server.url,
        Arc::new(|path: &str, body: &mut Vec<u8>| {
            if path.split('?').next() == Some("/checkpoint") {
                // Line 3 is the base64 root hash; change its first character.
                let text = String::from_utf8(body.clone()).unwrap();
                let mut lines: Vec<String> = text.split('\n').map(str::to_owned).collect();
                let root = &mut lines[2];
                let first = if root.starts_with('A') { "B" } else { "A" };
                root.replace_range(0..1, first);
                *body = lines.join("\n").into_bytes();
            }
        }),
    )
    .await;
    let cbp = Party::with_keys(copy_keys(&w.cbp.keys), &hostile.url);
    let e = ops::open(&cbp.actor(w.vkey()), &cert_id).await.unwrap_err();
    assert!(format!("{e:#}").contains("checkpoint not trusted"), "{e:#}");
    let e = ops::audit(&cbp.client, w.vkey(), None).await.unwrap_err();
    assert!(format!("{e:#}").contains("checkpoint not trusted"), "{e:#}");

    // The registration entry altered in transit (its commitment byte flipped).
    let hostile = proxy::start(&w.server.url, proxy::flip_in("/v1/entries/5", "entry")).await;
    let cbp = Party::with_keys(copy_keys(&w.cbp.keys), &hostile.url);
    let e = ops::open(&cbp.actor(w.vkey()), &cert_id).await.unwrap_err();
    assert!(
        format!("{e:#}").contains("entry 5 is not included"),
        "{e:#}"
    );

    // The honest server still serves the same certificate.
    assert_eq!(
        w.open(&w.cbp, &cert_id).await.unwrap().body,
        example("usmca.json")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_registrations_and_opens_all_land_and_audit_clean() {
    let w = World::new().await;
    let vkey = w.vkey();
    let bodies = ["usmca.json", "cafta-dr.json", "nafta-434.json"];
    let registrations = (0..12).map(|i| {
        let body = example(bodies[i % 3]);
        let to = [w.cbp.id().clone()];
        let actor = w.importer.actor(vkey);
        async move {
            let reg = ops::register(&actor, &body, &to).await.unwrap();
            (ops::parse_cert_id(&reg.cert_id).unwrap(), i % 3)
        }
    });
    let certs = futures_join_all(registrations).await;
    let mut indices: Vec<u64> = Vec::new();
    let opens = certs.iter().map(|(cert_id, which)| {
        let cbp = &w.cbp;
        let w = &w;
        async move {
            let opened = w.open(cbp, cert_id).await.unwrap();
            assert_eq!(opened.body, example(bodies[*which]));
            opened.registration.index
        }
    });
    indices.extend(futures_join_all(opens).await);
    indices.sort_unstable();
    indices.dedup();
    assert_eq!(indices.len(), 12, "every registration has its own entry");
    let report = ops::audit(&w.auditor.client, vkey, None).await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(report.kinds.get("registration"), Some(&12));
    // Concurrent opens share access receipts (kind 0x09): twelve releases, one per open, in at most twelve
    // entries, each release naming one of the certificates opened.
    assert_eq!(report.receipts.len(), 12, "{:?}", report.receipts);
    let receipt_entries = report.kinds.get("access_receipt").copied().unwrap_or(0);
    assert!((1..=12).contains(&receipt_entries), "{receipt_entries}");
    let opened: std::collections::BTreeSet<String> =
        certs.iter().map(|(id, _)| id.to_string()).collect();
    let released: std::collections::BTreeSet<String> =
        report.receipts.iter().map(|r| r.cert_id.clone()).collect();
    assert_eq!(released, opened);
    // The registrant's access trail finds each certificate's one release, also inside a shared receipt.
    for (cert_id, _) in &certs {
        let trail = ops::accesses(
            &w.importer.client,
            Some(&w.importer.keys),
            vkey,
            w.importer.home.path(),
            cert_id,
        )
        .await
        .unwrap();
        let ops::AccessTrail::Registrant { accesses, .. } = trail else {
            panic!("the registrant sees the outsider's view of {cert_id}");
        };
        assert_eq!(accesses.len(), 1, "{cert_id}: {accesses:?}");
        assert_eq!(accesses[0].party.as_deref(), Some("cbp"));
    }
}

/// Runs futures concurrently on this task and collects their outputs in order.
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut out: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (slot, fut) in out.iter_mut().zip(set.iter_mut()) {
            if slot.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().map(|v| v.unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_ciphertext_is_refused_and_nothing_is_printed() {
    let w = World::new().await;
    let before = Accepted::record(&w).await;
    let hostile = proxy::start(&w.server.url, proxy::flip_in("/sealed", "ciphertext")).await;

    // Through the client library: the coarse decryption error, nothing else.
    let cbp = Party::with_keys(copy_keys(&w.cbp.keys), &hostile.url);
    let e = ops::open(&cbp.actor(w.vkey()), &before.cert_id)
        .await
        .unwrap_err();
    assert_eq!(format!("{e:#}"), "decryption failed");

    // Through the CLI: non-zero, one line on stderr, nothing on stdout.
    let dir = tempfile::tempdir().unwrap();
    let key = save_keys(dir.path(), &w.cbp.keys);
    let run = run_cli(
        dir.path(),
        &[
            "open",
            "--server",
            &hostile.url,
            "--log-key",
            w.vkey(),
            "--key",
            key.to_str().unwrap(),
            &before.cert_id.to_string(),
        ],
    )
    .await;
    let stdout = run.stdout.clone();
    assert_eq!(run.failure(), "error: decryption failed\n");
    assert_eq!(stdout, "");
    before.assert_intact(&w).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_inclusion_proof_is_refused_and_nothing_is_printed() {
    let w = World::new().await;
    let before = Accepted::record(&w).await;
    let hostile = proxy::start(
        &w.server.url,
        proxy::flip_in("/v1/proof/inclusion", "proof"),
    )
    .await;

    // The verification itself, by hand: the served proof verifies, the altered one does not.
    let honest = w.server.client();
    let view = tradeledger::client::LogView::fetch(&honest, w.vkey())
        .await
        .unwrap();
    view.entry(1).await.unwrap();
    let lying = hostile_client(&hostile.url);
    let lying_view = tradeledger::client::LogView::fetch(&lying, w.vkey())
        .await
        .unwrap();
    let e = lying_view.entry(1).await.unwrap_err();
    assert!(format!("{e:#}").contains("is not included"), "{e:#}");

    // Open through the hostile server: refused before anything is decrypted or shown.
    let cbp = Party::with_keys(copy_keys(&w.cbp.keys), &hostile.url);
    let e = ops::open(&cbp.actor(w.vkey()), &before.cert_id)
        .await
        .unwrap_err();
    assert!(
        format!("{e:#}").contains("is not included in the checkpoint"),
        "{e:#}"
    );
    let dir = tempfile::tempdir().unwrap();
    let key = save_keys(dir.path(), &w.cbp.keys);
    let run = run_cli(
        dir.path(),
        &[
            "open",
            "--server",
            &hostile.url,
            "--log-key",
            w.vkey(),
            "--key",
            key.to_str().unwrap(),
            &before.cert_id.to_string(),
        ],
    )
    .await;
    assert_eq!(run.stdout, "");
    assert!(run.failure().contains("is not included"));

    // A disclosure through it cannot be made either, and a bundle with an altered proof does not verify.
    let importer = Party::with_keys(copy_keys(&w.importer.keys), &hostile.url);
    assert!(
        ops::disclose(
            &importer.actor(w.vkey()),
            &before.cert_id,
            &["/regime".to_owned()]
        )
        .await
        .is_err()
    );
    let mut bundle = ops::disclose(
        &w.importer.actor(w.vkey()),
        &before.cert_id,
        &["/regime".to_owned()],
    )
    .await
    .unwrap();
    ops::verify_bundle(&bundle, w.vkey()).unwrap();
    bundle.registration.proof[0].0[7] ^= 0x80;
    let e = ops::verify_bundle(&bundle, w.vkey()).unwrap_err();
    assert!(format!("{e:#}").contains("is not included"), "{e:#}");
    before.assert_intact(&w).await;
}

fn hostile_client(url: &str) -> tradeledger::client::Client {
    tradeledger::client::Client::new(url).unwrap()
}
