//! Rebuilding an [`FsStore`](super::FsStore)'s derived files (`ends`, `level-*`) from its journal, for the
//! operator's `tradeledger repair`: the journal's frames carry each entry and its leaf hash, and every other
//! file but the checkpoint is a function of them.

use std::fs::File;
use std::io::{BufReader, Read as _};
use std::path::Path;

use super::{LEVELS, io};
use crate::Error;
use crate::durable;
use crate::log::signing;
use crate::merkle::{Hash, MemoryTree, leaf_hash};
use crate::note::NoteSigner;
use crate::tiles::{TILE_WIDTH, subtree_root};

/// What a rebuild found and did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rebuilt {
    /// Intact entries in the journal (every one re-hashed against its stored leaf hash).
    pub entries: u64,
    /// The size the signed checkpoint covers; the rebuilt tree's root at this size matched it.
    pub checkpoint_size: u64,
    /// Derived files whose contents differed and were rewritten.
    pub rewritten: Vec<String>,
    /// Derived files that already held exactly what the journal determines.
    pub unchanged: Vec<String>,
}

/// The intact frames at the start of the journal: each entry's end offset and leaf hash. Stops at the first
/// torn or invalid frame, as recovery does.
fn scan_journal(path: &Path) -> Result<(Vec<u64>, Vec<Hash>), Error> {
    let file = File::open(path).map_err(io("open journal"))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let (mut ends, mut leaves) = (Vec::new(), Vec::new());
    let mut offset = 0u64;
    let mut entry = Vec::new();
    loop {
        let mut len = [0u8; 2];
        if reader.read_exact(&mut len).is_err() {
            break;
        }
        entry.resize(usize::from(u16::from_be_bytes(len)), 0);
        let mut leaf = [0u8; 32];
        if reader.read_exact(&mut entry).is_err()
            || reader.read_exact(&mut leaf).is_err()
            || leaf_hash(&entry) != leaf
        {
            break;
        }
        offset += 2 + 32 + u64::from(u16::from_be_bytes(len));
        ends.push(offset);
        leaves.push(leaf);
    }
    Ok((ends, leaves))
}

/// Rebuilds the derived files of the store in `dir` from its journal, after checking that the journal's
/// intact entries reach the stored checkpoint (verified with `signer` under `origin`) and hash to its root.
/// Nothing is written unless both hold. Every rewritten file is replaced atomically and durably.
///
/// The store must not be open (the caller holds the data directory's lock).
pub(super) fn rebuild(dir: &Path, signer: &NoteSigner, origin: &str) -> Result<Rebuilt, Error> {
    let note = std::fs::read(dir.join("checkpoint")).map_err(io("read checkpoint"))?;
    let (size, root) = signing::open(&note, signer, origin)?;
    let (ends, leaves) = scan_journal(&dir.join("journal"))?;
    let entries = u64::try_from(leaves.len()).unwrap_or(u64::MAX);
    if entries < size {
        return Err(Error::Corrupted(format!(
            "the journal holds {entries} intact entries but the signed checkpoint covers {size}: \
             restore the data directory from a backup"
        )));
    }
    let signed = leaves
        .get(..usize::try_from(size).unwrap_or(usize::MAX))
        .ok_or(Error::Corrupted("checkpoint size out of range".into()))?;
    let tree: MemoryTree = signed.iter().copied().collect();
    if tree.root() != root {
        return Err(Error::Corrupted(format!(
            "the journal's first {size} entries do not hash to the signed checkpoint's root"
        )));
    }
    let mut files: Vec<(String, Vec<u8>)> = vec![(
        "ends".into(),
        ends.iter().flat_map(|e| e.to_be_bytes()).collect(),
    )];
    let mut level = leaves;
    for l in 0..LEVELS {
        let parents: Vec<Hash> = level
            .chunks_exact(usize::try_from(TILE_WIDTH).unwrap_or(256))
            .map(subtree_root)
            .collect();
        files.push((format!("level-{l}"), level.concat()));
        level = parents;
    }
    let (mut rewritten, mut unchanged) = (Vec::new(), Vec::new());
    for (name, bytes) in files {
        let path = dir.join(&name);
        if std::fs::read(&path).ok().as_deref() == Some(bytes.as_slice()) {
            unchanged.push(name);
        } else {
            durable::write_atomic(&path, &bytes).map_err(io("rewrite derived file"))?;
            rewritten.push(name);
        }
    }
    Ok(Rebuilt {
        entries,
        checkpoint_size: size,
        rewritten,
        unchanged,
    })
}
