//! A restore behind the published checkpoint is refused: `serve --published-checkpoint FILE`, and with
//! `--bucket` the bucket's own checkpoint. The log that extends what was published starts as usual.

use std::path::Path;
use std::sync::Arc;

use tradeledger::client::ops;
use tradeledger::server::{AppState, ServeConfig};
use vault::{PartyId, PartyKeys, Role};

use crate::bucket::wait_for_bucket;
use crate::moto::Moto;
use crate::support::{Party, Server, copy_keys};

/// A backup as an operator takes one of a stopped service: the whole data directory.
fn copy_dir(from: &Path, to: &Path) {
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Opens the stores as `serve` does at start and returns why it refused.
async fn refused(config: ServeConfig) -> String {
    let opened = tokio::task::spawn_blocking(move || AppState::open(config).map(|_| ()))
        .await
        .unwrap();
    format!(
        "{:#}",
        opened.expect_err("the start should have been refused")
    )
}

/// Enrolls `ids` through the server at `url` (the operator signs).
async fn enroll(operator: &PartyKeys, url: &str, ids: &[&str]) {
    let op = Party::with_keys(copy_keys(operator), url);
    for id in ids {
        let party = PartyKeys::generate(PartyId::new(id).unwrap(), Role::Importer);
        ops::enroll(&op.client, &op.keys, &party.public())
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_behind_the_published_checkpoint_is_refused_naming_both_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let (data, backup) = (dir.path().join("data"), dir.path().join("backup"));
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let server = Server::start(&data, &operator.public()).await;
    enroll(&operator, &server.url, &["a"]).await;
    server.stop().await;
    copy_dir(&data, &backup);
    let server = Server::start(&data, &operator.public()).await;
    enroll(&operator, &server.url, &["b", "c"]).await;
    let (status, note) = server.get("/checkpoint").await;
    assert_eq!(status, 200);
    let published = dir.path().join("published-checkpoint");
    std::fs::write(&published, &note).unwrap();
    server.stop().await;

    let with_file = |data: &Path| {
        let mut config = ServeConfig::new(data.to_owned(), operator.public());
        config.published_checkpoint = Some(published.clone());
        config
    };
    let err = refused(with_file(&backup)).await;
    assert!(
        err.contains("the log holds 2 entries but a checkpoint of 4 entries was already published"),
        "{err}"
    );
    // The data that published it starts, and so does one that went on after it.
    let server = Server::start_with(&data, &operator.public(), |c| {
        c.published_checkpoint = Some(published.clone());
    })
    .await;
    enroll(&operator, &server.url, &["d"]).await;
    server.stop().await;
    Server::start_with(&data, &operator.public(), |c| {
        c.published_checkpoint = Some(published.clone());
    })
    .await
    .stop()
    .await;

    // The backup served without the check grows past 4 with other entries: a fork, refused as one.
    let server = Server::start(&backup, &operator.public()).await;
    enroll(&operator, &server.url, &["x", "y", "z"]).await;
    server.stop().await;
    let err = refused(with_file(&backup)).await;
    assert!(
        err.contains("the log (5 entries) is not consistent with the checkpoint of 4 entries"),
        "{err}"
    );

    // A checkpoint of another log, or not a checkpoint at all.
    let other = dir.path().join("other");
    Server::start(&other, &operator.public()).await.stop().await;
    let err = refused(with_file(&other)).await;
    assert!(err.contains("not a checkpoint of this log's key"), "{err}");
    std::fs::write(&published, b"garbage").unwrap();
    let err = refused(with_file(&data)).await;
    assert!(err.contains("not a checkpoint of this log's key"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_bucket_a_restore_behind_the_buckets_checkpoint_is_refused() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let s3 = moto.bucket("restore", "log").await;
    let location = Arc::new(moto.location("restore", "log"));
    let dir = tempfile::tempdir().unwrap();
    let (data, backup) = (dir.path().join("data"), dir.path().join("backup"));
    let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
    let on_bucket = |c: &mut ServeConfig| c.bucket = Some(location.clone());
    let server = Server::start_with(&data, &operator.public(), on_bucket).await;
    server.stop().await;
    copy_dir(&data, &backup);
    let server = Server::start_with(&data, &operator.public(), on_bucket).await;
    enroll(&operator, &server.url, &["a", "b"]).await;
    wait_for_bucket(&s3, 3).await;
    server.stop().await;

    let mut config = ServeConfig::new(backup.clone(), operator.public());
    config.bucket = Some(location.clone());
    // The bucket is compared once the stores are open, before the service is ready.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = tradeledger::server::serve(listener, config, std::future::pending())
        .await
        .expect_err("the start should have been refused");
    let err = format!("{err:#}");
    assert!(
        err.contains("the log holds 1 entries but a checkpoint of 3 entries was already published")
            && err.contains("the bucket's checkpoint"),
        "{err}"
    );
    Server::start_with(&data, &operator.public(), on_bucket)
        .await
        .stop()
        .await;
}
