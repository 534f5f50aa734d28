//! Opening a log: back to the last durable state, hashes re-derived, the stored checkpoint verified.

use super::Snapshot;
use super::signing;
use super::source::{EdgeSource, TileCache, TileSource};
use crate::Error;
use crate::merkle::{Hash, tree_root};
use crate::note::NoteSigner;
use crate::store::{Batch, Store};
use crate::tiles::{TILE_WIDTH, level_count, level_span, subtree_root};

/// Recover `store` and return its durable state, with a checkpoint signed over all of it.
pub(crate) fn recover(
    store: &dyn Store,
    cache: &TileCache,
    signer: &NoteSigner,
    origin: &str,
) -> Result<Snapshot, Error> {
    let stored = store.read_checkpoint()?;
    let trusted = match &stored {
        Some(note) => Some(signing::open(note, signer, origin)?),
        None => None,
    };
    let trusted_size = trusted.map_or(0, |t| t.0);
    let size = store.recover(trusted_size)?;
    if stored.is_none() && size > 0 {
        return Err(Error::Corrupted(
            "entries are stored but the checkpoint is missing".into(),
        ));
    }
    rederive(store, trusted_size, size)?;
    let mut edge = Vec::new();
    for level in 0..level_span(size) {
        let count = level_count(size, level);
        let base = count / TILE_WIDTH * TILE_WIDTH;
        edge.push(store.read_hashes(level, base, count - base)?);
    }
    let mut snapshot = Snapshot {
        size,
        edge,
        root: Hash::default(),
        checkpoint: Vec::new(),
    };
    if let Some((old_size, old_root)) = trusted {
        // Full tiles are checked against their parents up to the edge as they are read, so this one root
        // comparison ties the stored tree to the signature.
        let root = tree_root(old_size, &TileSource::new(store, cache, &snapshot))?;
        if root != old_root {
            return Err(Error::Corrupted(format!(
                "stored tree does not match the checkpoint at size {old_size}"
            )));
        }
    }
    snapshot.root = tree_root(size, &EdgeSource(&snapshot))?;
    match stored {
        Some(note) if trusted_size == size => snapshot.checkpoint = note,
        _ => {
            snapshot.checkpoint = signing::sign(signer, origin, size, &snapshot.root)?;
            store.write_checkpoint(size, &snapshot.checkpoint)?;
        }
    }
    Ok(snapshot)
}

/// Recompute the tile hashes of levels 1 and up that the store dropped above the trusted checkpoint (and
/// does not hold), from the level below (level 0 is the entries' leaf hashes, which the store rebuilt from its durable entries).
fn rederive(store: &dyn Store, trusted: u64, size: u64) -> Result<(), Error> {
    for level in 0..level_span(size) {
        let (from, to) = (
            level_count(trusted, level + 1),
            level_count(size, level + 1),
        );
        // A store that keeps tile hashes durable with their entries (PostgreSQL) still has them all.
        if from == to || store.read_hashes(level + 1, from, to - from).is_ok() {
            continue;
        }
        let mut parents: Vec<Hash> = Vec::new();
        for index in from..to {
            parents.push(subtree_root(&store.read_hashes(
                level,
                index * TILE_WIDTH,
                TILE_WIDTH,
            )?));
        }
        store.append(&Batch {
            first: size,
            entries: Vec::new(),
            tiles: vec![(level + 1, from, parents)],
        })?;
    }
    store.sync()
}
