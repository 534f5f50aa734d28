//! The registrant lists grants and revokes them with no local records, and reads its access trail.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrant_lists_grants_revokes_anywhere_and_reads_its_access_trail() {
    let server = Server::start(|_| {}).await;
    let acme = server.enroll("acme-imports", Role::Importer).await;
    let cbp = server.enroll("cbp", Role::Customs).await;
    let broker = server.enroll("swift-brokers", Role::Broker).await;
    let cert = acme.register(&[&cbp, &broker]).await;

    // The server's list names every holder and agrees with the registrant's local record.
    let grants = ops::list_grants(&acme.actor(), &cert).await.unwrap();
    let holders: Vec<&str> = grants.keys().map(PartyId::as_str).collect();
    assert_eq!(holders, ["acme-imports", "cbp", "swift-brokers"]);
    // Nobody else may ask: not a reader, not the operator.
    for outsider in [&cbp, &broker] {
        let refused = ops::list_grants(&outsider.actor(), &cert)
            .await
            .unwrap_err();
        assert_eq!(api_error(&refused), (403, "forbidden".to_owned()));
    }

    ops::open(&cbp.actor(), &cert).await.unwrap();
    ops::open(&cbp.actor(), &cert).await.unwrap();
    ops::open(&broker.actor(), &cert).await.unwrap();

    // Revoking from another machine: no local record there, the server's list suffices.
    let copy = tempfile::tempdir().unwrap();
    acme.keys.save(&copy.path().join("acme.key")).unwrap();
    let elsewhere = server.party(PartyKeys::load(&copy.path().join("acme.key")).unwrap());
    assert!(!elsewhere.home.path().join("grants").exists());
    ops::revoke(&elsewhere.actor(), &cert, broker.id())
        .await
        .unwrap();
    let refused = ops::open(&broker.actor(), &cert).await.unwrap_err();
    assert_eq!(api_error(&refused).0, 403);

    // The registrant sees who opened it and when; its local history names the revoked broker.
    let trail = ops::accesses(
        &acme.client,
        Some(&acme.keys),
        &acme.vkey,
        acme.home.path(),
        &cert,
    )
    .await
    .unwrap();
    let AccessTrail::Registrant { accesses, .. } = trail else {
        panic!("the registrant should see the readers")
    };
    let readers: Vec<(Option<&str>, bool)> = accesses
        .iter()
        .map(|a| (a.party.as_deref(), a.active))
        .collect();
    assert_eq!(
        readers,
        [
            (Some("cbp"), true),
            (Some("cbp"), true),
            (Some("swift-brokers"), false)
        ]
    );
    assert!(accesses.windows(2).all(|w| w[0].index < w[1].index));
    assert!(accesses.iter().all(|a| a.time.ends_with('Z')));

    // From the other machine the revoked reader is unknown (no local history), but the receipt still counts.
    let AccessTrail::Registrant { accesses, .. } = ops::accesses(
        &elsewhere.client,
        Some(&elsewhere.keys),
        &elsewhere.vkey,
        elsewhere.home.path(),
        &cert,
    )
    .await
    .unwrap() else {
        panic!("the registrant should see the readers")
    };
    assert_eq!(accesses.len(), 3);
    assert_eq!(accesses[2].party, None);

    // Anyone else, with or without a key, learns only the count.
    for (client, keys, home) in [
        (&cbp.client, Some(&cbp.keys), cbp.home.path()),
        (&server.client(None), None, cbp.home.path()),
    ] {
        let trail = ops::accesses(client, keys, &server.vkey, home, &cert)
            .await
            .unwrap();
        assert!(
            matches!(trail, AccessTrail::Outsider { count: 3, .. }),
            "{trail:?}"
        );
    }
    let info = server.client(None).get_certificate(&cert).await.unwrap();
    assert_eq!(info.accesses, 3);
    audit_is_clean(&server).await;
    server.shutdown().await;
}
