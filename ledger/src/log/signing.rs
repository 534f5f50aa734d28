//! The log's checkpoints (C2SP tlog-checkpoint) as signed notes: sign one over (origin, size, root), and open
//! a stored one with the log's own key.

use crate::Error;
use crate::checkpoint::{Checkpoint, open_checkpoint, sign_checkpoint};
use crate::merkle::Hash;
use crate::note::NoteSigner;

/// The signed checkpoint note for the tree of `size` entries with root `root`.
pub(crate) fn sign(
    signer: &NoteSigner,
    origin: &str,
    size: u64,
    root: &Hash,
) -> Result<Vec<u8>, Error> {
    let checkpoint = Checkpoint {
        origin: origin.to_string(),
        size,
        root_hash: *root,
        extensions: Vec::new(),
    };
    Ok(sign_checkpoint(&checkpoint, signer)?.into_bytes())
}

/// Verify a stored checkpoint note with the log's own key and origin; returns its size and root hash.
pub(crate) fn open(note: &[u8], signer: &NoteSigner, origin: &str) -> Result<(u64, Hash), Error> {
    let checkpoint = open_checkpoint(note, origin, &signer.verifier())?;
    Ok((checkpoint.size, checkpoint.root_hash))
}
