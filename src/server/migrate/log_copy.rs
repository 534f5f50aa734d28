//! The log's half of `migrate`: entries with their leaf hashes and the tile hashes they complete, copied in
//! chunks of whole entry bundles, each chunk one PostgreSQL transaction (`Store::append` on `PgStore`, which
//! refuses a chunk that does not start at the committed size), then the stored signed checkpoint verbatim.
//!
//! Everything is read through the source `Log`, which checks each tile and entry bundle against its signed
//! checkpoint before returning it, so a damaged data directory stops the copy instead of being copied.

use std::path::Path;

use anyhow::Context as _;
use ledger::pg::PgPool;
use ledger::{Batch, Hash, Log, PgStore, Store, TILE_WIDTH, decode_bundle, leaf_hash, level_count};

/// Entries per transaction: 16 full entry bundles.
const CHUNK: u64 = 16 * TILE_WIDTH;

/// What the log copy did.
pub(super) struct Copied {
    pub(super) size: u64,
    pub(super) root: String,
    pub(super) copied: u64,
    pub(super) present: u64,
}

/// Copies the log in `DATA/log` into the database behind `pool` and verifies the copy.
pub(super) fn copy(
    data: &Path,
    pool: &PgPool,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Copied> {
    let signer = super::signer(data)?;
    let origin = signer.name().to_owned();
    let store = ledger::FsStore::open(data.join("log")).context("opening the embedded log")?;
    let source = Log::open(store, signer, &origin).context("opening the embedded log")?;
    let copied = copy_from(&source, data, &origin, pool, progress);
    let closed = source.close().context("closing the embedded log");
    let copied = copied?;
    closed?;
    Ok(copied)
}

fn copy_from(
    source: &Log,
    data: &Path,
    origin: &str,
    pool: &PgPool,
    progress: &mut dyn FnMut(&str),
) -> anyhow::Result<Copied> {
    let size = source.size();
    let checkpoint = source.checkpoint();
    let target = PgStore::open(pool.clone()).context("opening the log's tables in PostgreSQL")?;
    // `recover` on PostgreSQL only reads the committed size.
    let present = target
        .recover(0)
        .context("reading the size of the log in PostgreSQL")?;
    refuse_unless_prefix(source, &target, data, origin, size, present)?;
    progress(&format!(
        "log: {size} entries in {}; {present} already in PostgreSQL (checked equal)",
        data.display()
    ));
    let mut next = present;
    while next < size {
        // Chunks end on multiples of CHUNK, so a resumed run writes the same chunks as an uninterrupted one.
        let end = size.min((next / CHUNK).saturating_add(1).saturating_mul(CHUNK));
        target
            .append(&batch(source, next, end)?)
            .with_context(|| format!("writing entries {next}..{end} to PostgreSQL"))?;
        next = end;
        progress(&format!("log: {next}/{size} entries in PostgreSQL"));
    }
    target
        .write_checkpoint(size, &checkpoint)
        .context("storing the signed checkpoint in PostgreSQL")?;
    let root = source
        .root(size)
        .context("reading the embedded log's root")?;
    let copy = Log::open(target, super::signer(data)?, origin)
        .context("opening the migrated log in PostgreSQL with the log key")?;
    let verified = verify(&copy, size, &root, &checkpoint);
    let closed = copy.close().context("closing the migrated log");
    verified?;
    closed?;
    Ok(Copied {
        size,
        root: hex::encode(root),
        copied: size.saturating_sub(present),
        present,
    })
}

/// Refuses a database that holds anything but a prefix of this log: more entries, another log's entries,
/// or a checkpoint this log key did not sign for this origin.
fn refuse_unless_prefix(
    source: &Log,
    target: &PgStore,
    data: &Path,
    origin: &str,
    size: u64,
    present: u64,
) -> anyhow::Result<()> {
    anyhow::ensure!(
        present <= size,
        "the database holds a log of {present} entries, more than the {size} in {}: it is not an \
         earlier copy of this log; migrate into an empty database",
        data.display()
    );
    if let Some(note) = target
        .read_checkpoint()
        .context("reading the database's checkpoint")?
    {
        let verifier = super::signer(data)?.verifier();
        let stored = ledger::open_checkpoint(&note, origin, &verifier).map_err(|e| {
            anyhow::anyhow!(
                "the database holds a log with another key or origin ({e}); migrate into an empty database"
            )
        })?;
        anyhow::ensure!(
            stored.size <= size,
            "the database's checkpoint is at size {}, beyond the {size} entries in {}",
            stored.size,
            data.display()
        );
    }
    let mut start = 0;
    while start < present {
        let end = present.min(start.saturating_add(CHUNK));
        let theirs = target
            .read_hashes(0, start, end - start)
            .context("reading the database's leaf hashes")?;
        if theirs != hashes(source, 0, start, end)? {
            anyhow::bail!(
                "the database's log differs from {} within entries {start}..{end}: it is not an earlier \
                 copy of this log; migrate into an empty database",
                data.display()
            );
        }
        start = end;
    }
    Ok(())
}

/// Entries `start..end` with their leaf hashes, and the tile hashes of levels 1 and up that they complete.
fn batch(source: &Log, start: u64, end: u64) -> anyhow::Result<Batch> {
    let leaves = hashes(source, 0, start, end)?;
    let mut entries = Vec::with_capacity(leaves.len());
    let mut bundle = start / TILE_WIDTH;
    while bundle.saturating_mul(TILE_WIDTH) < end {
        let first = bundle.saturating_mul(TILE_WIDTH);
        let width = partial(source.size(), first)?;
        let bytes = source
            .read_entry_bundle(bundle, width)
            .with_context(|| format!("reading entry bundle {bundle}"))?;
        let skip = usize::try_from(start.saturating_sub(first))?;
        let take = usize::try_from(end.min(first.saturating_add(TILE_WIDTH)) - first)?;
        for entry in decode_bundle(&bytes)?.into_iter().take(take).skip(skip) {
            entries.push(entry);
        }
        bundle = bundle.saturating_add(1);
    }
    anyhow::ensure!(
        entries.len() == leaves.len()
            && entries.iter().zip(&leaves).all(|(e, l)| leaf_hash(e) == *l),
        "the embedded log's entries {start}..{end} do not match their leaf hashes"
    );
    let mut tiles = Vec::new();
    let mut level = 1u8;
    while level_count(end, level) > 0 {
        let (from, to) = (level_count(start, level), level_count(end, level));
        if to > from {
            tiles.push((level, from, hashes(source, level, from, to)?));
        }
        level = level.saturating_add(1);
    }
    Ok(Batch {
        first: start,
        entries: entries.into_iter().zip(leaves).collect(),
        tiles,
    })
}

/// Hashes `start..end` of tile level `level`, read tile by tile through the source log (verified).
fn hashes(source: &Log, level: u8, start: u64, end: u64) -> anyhow::Result<Vec<Hash>> {
    let count = level_count(source.size(), level);
    let mut out = Vec::new();
    let mut tile = start / TILE_WIDTH;
    while tile.saturating_mul(TILE_WIDTH) < end {
        let first = tile.saturating_mul(TILE_WIDTH);
        let bytes = source
            .read_tile(level, tile, partial(count, first)?)
            .with_context(|| format!("reading tile {level}/{tile}"))?;
        for (hash, index) in bytes.chunks_exact(32).zip(first..) {
            if (start..end).contains(&index) {
                out.push(Hash::try_from(hash).context("a tile hash is not 32 bytes")?);
            }
        }
        tile = tile.saturating_add(1);
    }
    Ok(out)
}

/// The partial width of the tile or bundle starting at `first` when `count` items exist: `None` if full.
fn partial(count: u64, first: u64) -> anyhow::Result<Option<u8>> {
    let width = count.saturating_sub(first);
    Ok(match width >= TILE_WIDTH {
        true => None,
        false => Some(u8::try_from(width).context("a tile width")?),
    })
}

/// The migrated log, opened with the log key: the same size, root and checkpoint bytes, every hash recomputed.
fn verify(copy: &Log, size: u64, root: &Hash, checkpoint: &[u8]) -> anyhow::Result<()> {
    anyhow::ensure!(
        copy.size() == size,
        "the migrated log has {} entries, not {size}",
        copy.size()
    );
    anyhow::ensure!(
        copy.root(size).context("reading the migrated root")? == *root,
        "the migrated log's root differs from the embedded log's"
    );
    anyhow::ensure!(
        copy.checkpoint() == checkpoint,
        "the migrated log's checkpoint differs from the embedded log's"
    );
    copy.check_integrity()
        .context("recomputing every hash of the migrated log")
}
