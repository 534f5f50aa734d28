//! `migrate --data DIR --postgres URL`: the embedded deployment into PostgreSQL, with progress on stderr
//! and the verified result on stdout.

use anyhow::Context as _;

use super::{Global, MigrateArgs};
use crate::server;

pub(super) async fn migrate(g: &Global, args: MigrateArgs) -> anyhow::Result<()> {
    let data = args.data.clone();
    let report = tokio::task::spawn_blocking(move || {
        // Progress goes to stderr, so that stdout holds only the result (and stays JSON with --json).
        server::migrate(&data, &args.postgres, &mut |line| eprintln!("{line}"))
    })
    .await
    .context("the migration task panicked")??;
    g.print(
        &serde_json::to_value(&report)?,
        &format!(
            "migrated {}: log size {} root {} ({} entries copied, {} already there); vault: {} certificates \
             and {} tombstones copied, {} already there; verified: the checkpoint with the log key, every \
             hash, and all {} certificate ids, ciphertexts and envelopes",
            args.data.display(),
            report.log_size,
            report.log_root,
            report.entries_copied,
            report.entries_present,
            report.certificates_copied,
            report.tombstones_copied,
            report.certificates_present,
            report.certificates_verified
        ),
    )
}
