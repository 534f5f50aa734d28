//! Two frontends on one database cosign one sequence, with and without a bucket (only the publishing
//! lease's holder runs rounds then).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_frontends_on_one_database_cosign_one_sequence() {
    two_frontends_cosign(false).await;
}

/// With a bucket, only the publishing lease's holder runs rounds; the other frontend serves the cosigned
/// checkpoints it reads back from the bucket, so both still publish checkpoints meeting the quorum.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_frontends_with_a_bucket_cosign_at_the_lease_holder_and_both_serve_its_checkpoints() {
    two_frontends_cosign(true).await;
}

async fn two_frontends_cosign(with_bucket: bool) {
    let moto = with_bucket.then(moto::Moto::start);
    let location = match &moto {
        Some(moto) => {
            moto.bucket("tl-shared", "").await;
            Some(std::sync::Arc::new(moto.location("tl-shared", "log")))
        }
        None => None,
    };
    let root = TempDir::new().unwrap();
    let db = tokio::task::spawn_blocking(pg_cluster::fresh_database)
        .await
        .unwrap();
    let shared = root.path().join("shared");
    let Witnessed {
        vkey,
        witnesses,
        policy_path,
        policy,
        ..
    } = witnessed_log(root.path(), &shared).await;
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let on_postgres = |c: &mut ServeConfig| {
        c.postgres = Some(tradeledger::server::PostgresUrl::new(db.clone()));
        c.log_key = Some(shared.join("log.key"));
        c.bucket = location.clone();
    };
    let a = start_service_with(&root.path().join("a"), &operator, &policy_path, on_postgres).await;
    let b = start_service_with(&root.path().join("b"), &operator, &policy_path, on_postgres).await;
    let op = Party::from_keys(operator, &a.url, &policy);
    let acme = PartyKeys::generate(PartyId::new("acme").unwrap(), Role::Importer);
    let cbp = PartyKeys::generate(PartyId::new("cbp").unwrap(), Role::Customs);
    let mut enrolled = 0;
    for party in [&acme, &cbp] {
        enrolled = ops::enroll(&op.client, &op.keys, &party.public())
            .await
            .unwrap();
    }
    let copy = |keys: &PartyKeys| {
        PartyKeys::from_secret_bytes(
            keys.id().clone(),
            keys.role(),
            &keys.signing_key().to_bytes(),
            keys.encryption_secret().to_bytes(),
        )
    };
    let (acme_a, acme_b) = (
        Party::from_keys(copy(&acme), &a.url, &policy),
        Party::from_keys(copy(&acme), &b.url, &policy),
    );
    // Clients rely only on cosigned checkpoints: both frontends publish one covering the enrollments.
    for client in [&acme_a.client, &acme_b.client] {
        assert!(published_size(client, &vkey, enrolled + 1).await > enrolled);
    }
    let body: serde_json::Value = serde_json::from_str(USMCA).unwrap();
    let mut last = 0;
    for round in 0..6 {
        let through = if round % 2 == 0 { &acme_a } else { &acme_b };
        let reg = ops::register(&through.actor(&vkey), &body, &[cbp.id().clone()])
            .await
            .unwrap();
        last = last.max(reg.index);
    }
    // Both frontends publish checkpoints cosigned to the quorum that cover every registration, whichever
    // frontend took it; a receipt taken through B verifies offline under the policy.
    for client in [&acme_a.client, &acme_b.client] {
        assert!(published_size(client, &vkey, last + 1).await > last);
    }
    let (receipt, _) = ops::fetch_receipt(&acme_b.client, &vkey, last)
        .await
        .unwrap();
    ops::verify_receipt(receipt.as_bytes(), &vkey, Some(&policy)).unwrap();
    // The witnesses followed one log: each cosigned a size covering everything.
    for w in &witnesses {
        assert!(w.latest_size().await.unwrap() > last);
    }
    // The bucket's checkpoint, published by the lease holder, meets the quorum and covers them too.
    if let Some(location) = &location {
        let s3 = tradeledger::bucket::S3::new(location).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let note = s3.get("checkpoint").await.unwrap().map(|o| o.bytes);
            let size = note.as_ref().and_then(|n| {
                let text = String::from_utf8_lossy(n);
                text.lines().nth(1).and_then(|l| l.parse::<u64>().ok())
            });
            if size > Some(last) {
                policy.verify_checkpoint(&note.unwrap()).unwrap();
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the bucket stayed at {size:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    a.stop().await.unwrap();
    b.stop().await.unwrap();
}
