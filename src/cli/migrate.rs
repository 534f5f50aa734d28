//! `migrate --data DIR --postgres URL [--bucket URL]`: the embedded deployment into PostgreSQL (and the
//! ciphertexts into the bucket's private prefix), with progress on stderr and the verified result on stdout.

use anyhow::Context as _;

use super::{Global, MigrateArgs};
use crate::server;

pub(super) async fn migrate(g: &Global, args: MigrateArgs) -> anyhow::Result<()> {
    // Settings are checked before anything is copied.
    let bucket = args
        .bucket
        .as_deref()
        .map(crate::bucket::BucketLocation::from_env)
        .transpose()?;
    // The ciphertexts go to the bucket's private prefix (refused here, before anything is copied, if the
    // public prefix leaves no private place).
    let blobs = match &bucket {
        Some(location) => Some(std::sync::Arc::new(crate::bucket::S3Blobs::new(
            location,
            tokio::runtime::Handle::current(),
        )?) as std::sync::Arc<dyn vault::BlobStore>),
        None => None,
    };
    let (data, url) = (args.data.clone(), args.postgres.clone());
    let report = tokio::task::spawn_blocking(move || {
        // Progress goes to stderr, so that stdout holds only the result (and stays JSON with --json).
        server::migrate(&data, &url, blobs, &mut |line| eprintln!("{line}"))
    })
    .await
    .context("the migration task panicked")??;
    let published = match &bucket {
        Some(location) => {
            eprintln!(
                "bucket: publishing the migrated log to {}",
                location.public_url()
            );
            let size = server::publish_migrated(&args.data, &args.postgres, location).await?;
            eprintln!("bucket: its checkpoint is at size {size}");
            Some(size)
        }
        None => None,
    };
    let mut json = serde_json::to_value(&report)?;
    if let Some(size) = published {
        json["bucket_size"] = size.into();
    }
    g.print(
        &json,
        &format!(
            "migrated {}: log size {} root {} ({} entries copied, {} already there); vault: {} certificates \
             and {} tombstones copied, {} already there; verified: the checkpoint with the log key, every \
             hash, and all {} certificate ids, ciphertexts and envelopes{}",
            args.data.display(),
            report.log_size,
            report.log_root,
            report.entries_copied,
            report.entries_present,
            report.certificates_copied,
            report.tombstones_copied,
            report.certificates_present,
            report.certificates_verified,
            published.map_or_else(String::new, |size| format!("; published to the bucket up to size {size}"))
        ),
    )
}
