//! Three witness processes under a 2-of-3 policy: the quorum with one down, none with two, a restarted
//! witness keeping its state, a forked log refused.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_witness_processes_two_of_three() {
    let root = TempDir::new().unwrap();
    let data = root.path().join("log");
    let Witnessed {
        signer,
        vkey,
        mut witnesses,
        policy_path,
        policy,
    } = witnessed_log(root.path(), &data).await;
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let service = start_service(&data, &operator, &policy_path).await;
    let url = service.url.clone();

    // Registration → receipt → offline verification under the policy.
    let op = Party::from_keys(operator, &url, &policy);
    let acme = Party::new("acme", Role::Importer, &url, &policy);
    let cbp = Party::new("cbp", Role::Customs, &url, &policy);
    ops::enroll(&op.client, &op.keys, &acme.keys.public())
        .await
        .unwrap();
    let last = ops::enroll(&op.client, &op.keys, &cbp.keys.public())
        .await
        .unwrap();
    assert!(published_size(&acme.client, &vkey, last + 1).await > last);
    let body: serde_json::Value = serde_json::from_str(USMCA).unwrap();
    let registered = ops::register(&acme.actor(&vkey), &body, &[cbp.keys.id().clone()])
        .await
        .unwrap();
    let (receipt, verified) = ops::fetch_receipt(&acme.client, &vkey, registered.index)
        .await
        .unwrap();
    assert_eq!(verified.kind, "registration");
    assert_eq!(verified.cert_id.as_deref(), Some(&*registered.cert_id));
    let offline = ops::verify_receipt(receipt.as_bytes(), &vkey, Some(&policy)).unwrap();
    assert_eq!(offline.index, registered.index);
    // The same receipt through the command line, offline (no server).
    let receipt_path = root.path().join("first.tlog-proof");
    std::fs::write(&receipt_path, &receipt).unwrap();
    let out = std::process::Command::new(BIN)
        .args(["verify", "--json", "--policy"])
        .arg(&policy_path)
        .arg(&receipt_path)
        .env("TRADELEDGER_HOME", root.path().join("cli-home"))
        .env_remove("TRADELEDGER_LOG_KEY")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["trusted_by"], "policy");
    assert_eq!(json["index"], registered.index);
    // `receipt CERT_ID` and `receipt --refresh` through the command line.
    let fetched = root.path().join("fetched.tlog-proof");
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(BIN)
            .args(args)
            .args(["--server", &url, "--policy"])
            .arg(&policy_path)
            .env("TRADELEDGER_HOME", root.path().join("cli-home"))
            .env_remove("TRADELEDGER_LOG_KEY")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    };
    cli(&[
        "receipt",
        &registered.cert_id,
        "--out",
        fetched.to_str().unwrap(),
    ]);
    let again = ops::verify_receipt(&std::fs::read(&fetched).unwrap(), &vkey, Some(&policy));
    assert_eq!(again.unwrap().index, registered.index);
    cli(&[
        "receipt",
        "--refresh",
        fetched.to_str().unwrap(),
        "--out",
        fetched.to_str().unwrap(),
    ]);
    ops::verify_receipt(&std::fs::read(&fetched).unwrap(), &vkey, Some(&policy)).unwrap();

    // A policy whose witnesses the receipt does not have: refused.
    let strangers: Vec<WitnessProc> = vec![WitnessProc::new(7).await, WitnessProc::new(8).await];
    let other = write_policy(
        &root.path().join("other.txt"),
        &vkey,
        "http://x",
        &strangers,
    );
    assert!(ops::verify_receipt(receipt.as_bytes(), &vkey, Some(&other)).is_err());
    // Tampered entry bytes: the leaf hash no longer matches the inclusion proof.
    let mut file = ops::ReceiptFile::parse(receipt.as_bytes()).unwrap();
    if let Some(extra) = file.proof.extra.as_mut() {
        *extra.last_mut().unwrap() ^= 1;
    }
    assert!(ops::verify_receipt(file.to_text().as_bytes(), &vkey, Some(&policy)).is_err());

    // A witness restarted mid-way keeps its state (the log is idle: nothing new to cosign meanwhile).
    let cosigned = witnesses[2].latest_size().await.unwrap();
    assert!(cosigned > registered.index);
    witnesses[2].stop().await;
    witnesses[2].start(&vkey).await;
    assert_eq!(witnesses[2].latest_size().await, Some(cosigned));

    // One witness down: still a quorum.
    witnesses[0].stop().await;
    let broker = Party::new("broker", Role::Broker, &url, &policy);
    let index = ops::enroll(&op.client, &op.keys, &broker.keys.public())
        .await
        .unwrap();
    assert!(published_size(&acme.client, &vkey, index + 1).await > index);
    ops::fetch_receipt(&acme.client, &vkey, index)
        .await
        .unwrap();

    // Two down: no new cosigned checkpoint; the old one stays, old receipts still verify.
    witnesses[1].stop().await;
    let before = published_size(&acme.client, &vkey, 0).await;
    let auditor = Party::new("auditor", Role::Auditor, &url, &policy);
    let stuck = ops::enroll(&op.client, &op.keys, &auditor.keys.public())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(published_size(&acme.client, &vkey, 0).await, before);
    let resp = reqwest::get(format!("{url}/v1/receipts/{stuck}"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    ops::verify_receipt(receipt.as_bytes(), &vkey, Some(&policy)).unwrap();

    // The first witness comes back with its state: quorum again, the stuck entry gets cosigned, and the old
    // receipt can be carried forward to the new checkpoint.
    witnesses[0].start(&vkey).await;
    assert!(published_size(&acme.client, &vkey, stuck + 1).await > stuck);
    let (refreshed, carried) = ops::refresh_receipt(&acme.client, &vkey, receipt.as_bytes())
        .await
        .unwrap();
    assert!(carried.extended_to.unwrap() > stuck);
    let offline = ops::verify_receipt(refreshed.as_bytes(), &vkey, Some(&policy)).unwrap();
    assert_eq!(offline.checkpoint_size, verified.checkpoint_size);
    // An extension that claims a newer checkpoint without the proof is refused.
    let mut broken = ops::ReceiptFile::parse(refreshed.as_bytes()).unwrap();
    broken.extension.as_mut().unwrap().proof.pop();
    assert!(ops::verify_receipt(broken.to_text().as_bytes(), &vkey, Some(&policy)).is_err());
    witnesses[1].start(&vkey).await;

    // A fork: same log key, another history. Its checkpoints never reach the quorum, neither smaller than what
    // the witnesses saw (409) nor, after growing past it, inconsistent with it (422).
    let fork_data = root.path().join("fork");
    make_log_key(&fork_data, &signer);
    let fork = start_service(&fork_data, &op.keys, &policy_path).await;
    let fork_client = Client::new(&fork.url)
        .unwrap()
        .with_identity(op.keys.id(), op.keys.signing_key())
        .with_policy(policy.clone());
    let main_size = published_size(&acme.client, &vkey, 0).await;
    let mut fork_size = 1;
    let mut n = 0;
    while fork_size <= main_size + 2 {
        let p = PartyKeys::generate(PartyId::new(&format!("fork{n}")).unwrap(), Role::Broker);
        fork_size = ops::enroll(&fork_client, &op.keys, &p.public())
            .await
            .unwrap()
            + 1;
        n += 1;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    let resp = reqwest::get(format!("{}/checkpoint", fork.url))
        .await
        .unwrap();
    assert_eq!(
        resp.status(),
        503,
        "the fork must not publish a cosigned checkpoint"
    );
    assert!(LogView::fetch(&fork_client, &vkey).await.is_err());
    for w in &witnesses {
        assert!(w.latest_size().await.unwrap() <= main_size);
    }
    // The honest log keeps going.
    let late = ops::enroll(
        &op.client,
        &op.keys,
        &PartyKeys::generate(PartyId::new("late").unwrap(), Role::Broker).public(),
    )
    .await
    .unwrap();
    assert!(published_size(&acme.client, &vkey, late + 1).await > late);

    fork.stop().await.unwrap();
    service.stop().await.unwrap();
    for w in &mut witnesses {
        w.stop().await;
    }
}
