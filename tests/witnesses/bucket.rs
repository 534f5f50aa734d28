//! Cosigned checkpoints reach the bucket, and `audit` from the bucket checks them against the policy.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cosigned_checkpoints_reach_the_bucket_and_audit_from_it_under_the_policy() {
    let moto = moto::Moto::start();
    moto.bucket("tl-cosigned", "").await;
    let root = TempDir::new().unwrap();
    let data = root.path().join("log");
    let Witnessed {
        vkey,
        // Kept alive (dropping one stops its process).
        witnesses: _witnesses,
        policy_path,
        policy,
        ..
    } = witnessed_log(root.path(), &data).await;
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let location = moto.location("tl-cosigned", "log");
    let service = start_service_with(&data, &operator, &policy_path, |config| {
        config.bucket = Some(std::sync::Arc::new(location.clone()));
    })
    .await;
    let op = Party::from_keys(operator, &service.url, &policy);
    let acme = Party::new("acme", Role::Importer, &service.url, &policy);
    let last = ops::enroll(&op.client, &op.keys, &acme.keys.public())
        .await
        .unwrap();
    let size = published_size(&acme.client, &vkey, last + 1).await;
    assert!(size > last);

    // The bucket's checkpoint is the published one: log signature and a quorum of cosignatures.
    let s3 = tradeledger::bucket::S3::new(&location).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let note = loop {
        if let Some(object) = s3.get("checkpoint").await.unwrap() {
            let text = String::from_utf8(object.bytes.clone()).unwrap();
            if text.lines().nth(1).and_then(|l| l.parse::<u64>().ok()) >= Some(size) {
                break object.bytes;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the bucket never reached size {size}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    policy.verify_checkpoint(&note).unwrap();
    service.stop().await.unwrap();

    // No server: audit from the bucket, requiring the witnesses' quorum.
    let out = std::process::Command::new(BIN)
        .args([
            "audit",
            "--tiles",
            &moto.public_url("tl-cosigned", "log"),
            "--policy",
        ])
        .arg(&policy_path)
        .env("TRADELEDGER_HOME", root.path().join("cli-home"))
        .env_remove("TRADELEDGER_LOG_KEY")
        .env_remove("TRADELEDGER_SERVER")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("verdict: clean"),
        "{out:?}"
    );
}
