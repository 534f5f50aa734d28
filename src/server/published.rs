//! Refusing to serve a log that is behind, or not consistent with, a checkpoint this log already published
//! (the operator's `--published-checkpoint FILE`, and with `--bucket` the bucket's checkpoint): after a
//! restore from an older backup, serving would sign a second, different tree of sizes already published: a
//! fork that every client and witness that saw the newer checkpoint would (rightly) report.

use std::io::Read as _;
use std::path::Path;

use anyhow::Context as _;
use ledger::{Log, NoteVerifier};

/// Largest checkpoint file read (a checkpoint with many witness cosignatures is a few KiB).
const MAX_CHECKPOINT_BYTES: u64 = 64 * 1024;

/// Checks the log against the checkpoint note in `path` (the log's own note, or one cosigned by witnesses).
pub(super) fn check_file(
    log: &Log,
    path: &Path,
    verifier: &NoteVerifier,
    origin: &str,
) -> anyhow::Result<()> {
    let mut note = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CHECKPOINT_BYTES + 1).read_to_end(&mut note))
        .with_context(|| format!("reading the published checkpoint {}", path.display()))?;
    anyhow::ensure!(
        u64::try_from(note.len()).unwrap_or(u64::MAX) <= MAX_CHECKPOINT_BYTES,
        "the published checkpoint {} is larger than {MAX_CHECKPOINT_BYTES} bytes",
        path.display()
    );
    check(log, &note, verifier, origin, &path.display().to_string())
}

/// Refuses unless `note` verifies with this log's key and origin, is not beyond the log's size, and the log's
/// root at its size is its root. `source` names where the note came from, for the error.
pub(super) fn check(
    log: &Log,
    note: &[u8],
    verifier: &NoteVerifier,
    origin: &str,
    source: &str,
) -> anyhow::Result<()> {
    let published = ledger::open_checkpoint(note, origin, verifier).map_err(|e| {
        anyhow::anyhow!(
            "the published checkpoint ({source}) is not a checkpoint of this log's key and origin: {e}"
        )
    })?;
    let mut size = log.size();
    if published.size > size {
        // Several frontends on one database: another may have committed and published since this one opened
        // its log. Take in what is committed before judging (for the embedded store, the size stays).
        size = log.refresh().context("reading the log's committed size")?;
    }
    anyhow::ensure!(
        published.size <= size,
        "refusing to serve: the log holds {size} entries but a checkpoint of {} entries was already \
         published ({source}); this data is older than what was published (restored from an older \
         backup?) and serving it would fork the log. Restore a backup taken at or after that checkpoint",
        published.size
    );
    let root = log
        .root(published.size)
        .context("computing the log's root at the published size")?;
    anyhow::ensure!(
        root == published.root_hash,
        "refusing to serve: the log ({size} entries) is not consistent with the checkpoint of {} entries \
         published ({source}): its root at that size differs, so this is another history (a fork)",
        published.size
    );
    tracing::info!(
        published = published.size,
        size,
        source,
        "the log extends the published checkpoint"
    );
    Ok(())
}

/// With `--bucket`: the bucket's checkpoint is one this log published, so the log must extend it too. This
/// reads it; a bucket that cannot be read at start is only a warning (`None`: publishing retries it, as while
/// serving), while a checkpoint read and found ahead or foreign refuses the start ([`check_bucket_note`]).
pub(super) async fn bucket_checkpoint(
    location: &crate::bucket::BucketLocation,
) -> anyhow::Result<Option<Vec<u8>>> {
    let s3 = crate::bucket::S3::new(location).context("the bucket's settings")?;
    match s3.get("checkpoint").await {
        Ok(object) => Ok(object.map(|o| o.bytes)),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the bucket's checkpoint at start: not compared");
            Ok(None)
        }
    }
}

/// Checks the log against the bucket's checkpoint `note`. Blocking (it reads the log).
pub(super) fn check_bucket_note(state: &super::AppState, note: &[u8]) -> anyhow::Result<()> {
    let verifier = state.log_key.note_signer().verifier();
    let source = state.config.bucket.as_ref().map_or_else(
        || "the bucket's checkpoint".to_owned(),
        |l| format!("the bucket's checkpoint at {}", l.public_url()),
    );
    check(&state.log, note, &verifier, &state.config.origin, &source)
}
