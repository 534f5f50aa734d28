//! A rotated party opens with its new key after the rewrap; its old key fails.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_party_opens_with_its_new_key_after_rewrap_and_its_old_key_fails() {
    let server = Server::start(|_| {}).await;
    let acme = server.enroll("acme-imports", Role::Importer).await;
    let cbp = server.enroll("cbp", Role::Customs).await;
    let broker = server.enroll("swift-brokers", Role::Broker).await;
    let first = acme.register(&[&cbp, &broker]).await;
    let second = acme.register(&[&cbp, &broker]).await;
    let only_cbp = acme.register(&[&cbp]).await;
    let expected = ops::open(&broker.actor(), &first).await.unwrap().body;

    let rotated = server.rotate(&broker).await;
    // The old key is refused outright: requests signed with it no longer authenticate.
    let refused = ops::open(&broker.actor(), &first).await.unwrap_err();
    assert_eq!(api_error(&refused), (401, "bad_signature".to_owned()));
    // The new key authenticates, but the envelope is still wrapped for the old encryption key.
    assert!(ops::open(&rotated.actor(), &first).await.is_err());

    // Clients take the new keys from the log, through a verified chain.
    let view = LogView::fetch(&acme.client, &acme.vkey).await.unwrap();
    let (_, now) = view.party(broker.id()).await.unwrap();
    assert_eq!(now.encryption_key, rotated.keys.public().encryption_key);
    assert_eq!(view.party_chain(broker.id()).await.unwrap().len(), 2);

    // The registrant re-wraps every grant it knows the broker holds (not the certificate without one).
    let done = ops::rewrap(&acme.actor(), broker.id(), &[]).await.unwrap();
    let mut rewrapped: Vec<String> = done.iter().map(|d| d.cert_id.clone()).collect();
    rewrapped.sort();
    let mut wanted = vec![first.to_string(), second.to_string()];
    wanted.sort();
    assert_eq!(rewrapped, wanted);
    assert!(done.iter().all(|d| d.revocation_index == d.grant_index + 1));
    assert!(!rewrapped.contains(&only_cbp.to_string()));

    let opened = ops::open(&rotated.actor(), &first).await.unwrap();
    assert_eq!(opened.body, expected);
    ops::open(&rotated.actor(), &second).await.unwrap();
    assert!(ops::open(&broker.actor(), &first).await.is_err());
    // The body was not re-encrypted: the same ciphertext is served.
    assert_eq!(
        cbp.sealed(&first).await.ciphertext,
        rotated.sealed(&first).await.ciphertext
    );

    // The consent cannot be replayed: the key it replaces is no longer current.
    let new = PartyKeys::generate(broker.id().clone(), Role::Broker);
    let stale = ops::rotation_request(&broker.keys, &new.public()).unwrap();
    let operator = server.client(Some(&server.operator));
    let refused = ops::submit_rotation(&operator, &server.operator, &stale)
        .await
        .unwrap_err();
    assert_eq!(api_error(&refused), (409, "not_current_key".to_owned()));
    // Nor can the party rotate back to a retired key.
    let back = ops::rotation_request(&rotated.keys, &broker.keys.public()).unwrap();
    let refused = ops::submit_rotation(&operator, &server.operator, &back)
        .await
        .unwrap_err();
    assert_eq!(api_error(&refused), (400, "key_reused".to_owned()));
    // Only the operator submits: a request signed by anyone else carrying the operator's entry is refused.
    let refused = ops::submit_rotation(&acme.client, &server.operator, &stale)
        .await
        .unwrap_err();
    assert_eq!(
        api_error(&refused),
        (403, "entry_signer_mismatch".to_owned())
    );

    // The registrant rotates too: its earlier registrations still verify (against the key it had then),
    // and its new key registers and grants.
    let acme2 = server.rotate(&acme).await;
    ops::open(&cbp.actor(), &first).await.unwrap();
    let third = acme2.register(&[&cbp]).await;
    ops::grant(&acme2.actor(), &third, rotated.id())
        .await
        .unwrap();
    ops::open(&rotated.actor(), &third).await.unwrap();

    audit_is_clean(&server).await;
    server.shutdown().await;
}
