//! Purge by the registrant and by the retention sweep.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purged_certificate_leaves_nothing_in_the_vault_and_its_registration_on_the_log() {
    let server = Server::start(|_| {}).await;
    let acme = server.enroll("acme-imports", Role::Importer).await;
    let cbp = server.enroll("cbp", Role::Customs).await;
    let cert = acme.register(&[&cbp]).await;
    let kept = acme.register(&[&cbp]).await;
    let sealed = cbp.sealed(&cert).await;
    let vault_dir = server.data.path().join("vault");
    let needle = &sealed.ciphertext.0[16..80];
    assert!(
        dir_contains(&vault_dir, needle),
        "the test must find live ciphertext"
    );

    // Only the registrant purges.
    let refused = ops::purge(&cbp.actor(), &cert).await.unwrap_err();
    assert_eq!(api_error(&refused), (403, "forbidden".to_owned()));
    ops::purge(&acme.actor(), &cert).await.unwrap();

    assert!(
        !dir_contains(&vault_dir, needle),
        "ciphertext bytes survive the purge"
    );
    let info = server.client(None).get_certificate(&cert).await.unwrap();
    assert!(info.purged);
    let refused = ops::open(&cbp.actor(), &cert).await.unwrap_err();
    assert_eq!(api_error(&refused), (410, "purged".to_owned()));
    // The log still proves the certificate was registered.
    let view = LogView::fetch(&acme.client, &acme.vkey).await.unwrap();
    view.entry(info.registration_index).await.unwrap();
    // Other certificates are untouched.
    ops::open(&cbp.actor(), &kept).await.unwrap();
    audit_is_clean(&server).await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_retention_sweep_purges_old_certificates_as_the_log() {
    let server = Server::start(|config| {
        config.retention = Duration::from_secs(3);
        config.sweep_every = Duration::from_millis(100);
    })
    .await;
    let acme = server.enroll("acme-imports", Role::Importer).await;
    let cbp = server.enroll("cbp", Role::Customs).await;
    let old = acme.register(&[&cbp]).await;
    let sealed = cbp.sealed(&old).await;
    let vault_dir = server.data.path().join("vault");
    let needle = &sealed.ciphertext.0[16..80];
    assert!(dir_contains(&vault_dir, needle));

    let public = server.client(None);
    let mut purged = false;
    for _ in 0..150 {
        if public.get_certificate(&old).await.unwrap().purged {
            purged = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        purged,
        "the sweep did not purge a certificate past retention"
    );
    let young = acme.register(&[&cbp]).await;
    assert!(!public.get_certificate(&young).await.unwrap().purged);
    ops::open(&cbp.actor(), &young).await.unwrap();

    assert!(
        !dir_contains(&vault_dir, needle),
        "ciphertext bytes survive the sweep"
    );
    let refused = ops::open(&cbp.actor(), &old).await.unwrap_err();
    assert_eq!(api_error(&refused), (410, "purged".to_owned()));
    let info = public.get_certificate(&old).await.unwrap();
    let view = LogView::fetch(&public, &server.vkey).await.unwrap();
    view.entry(info.registration_index).await.unwrap();
    // The purge entry is the log's own, and the audit accepts it.
    let report = ops::audit(&public, &server.vkey, None).await.unwrap();
    assert!(report.problems.is_empty(), "audit: {:?}", report.problems);
    assert_eq!(report.kinds.get("purge"), Some(&1));
    server.shutdown().await;
}
