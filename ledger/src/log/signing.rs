//! The log's checkpoints (C2SP tlog-checkpoint) as signed notes: sign one over (origin, size, root), and open
//! a stored one.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::Error;
use crate::merkle::Hash;
use crate::note::{NoteSigner, open_note, sign_note};

/// The signed checkpoint note for the tree of `size` entries with root `root`.
pub(crate) fn sign(
    signer: &NoteSigner,
    origin: &str,
    size: u64,
    root: &Hash,
) -> Result<Vec<u8>, Error> {
    // C2SP tlog-checkpoint: origin line, decimal size, base64 root hash, no extension lines.
    let text = format!("{origin}\n{size}\n{}\n", STANDARD.encode(root));
    Ok(sign_note(&text, &[signer])?.into_bytes())
}

/// Verify a stored checkpoint note with the log's own key and origin; returns its size and root hash.
pub(crate) fn open(note: &[u8], signer: &NoteSigner, origin: &str) -> Result<(u64, Hash), Error> {
    let note = open_note(note, &[signer.verifier()])?;
    let mut lines = note.text.lines();
    let got = lines
        .next()
        .ok_or(Error::MalformedCheckpoint("missing origin"))?;
    if got != origin {
        return Err(Error::OriginMismatch {
            expected: origin.to_string(),
            got: got.to_string(),
        });
    }
    let size = lines
        .next()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(Error::MalformedCheckpoint("bad size"))?;
    let root = lines
        .next()
        .and_then(|r| STANDARD.decode(r).ok())
        .and_then(|r| Hash::try_from(r.as_slice()).ok())
        .ok_or(Error::MalformedCheckpoint("bad root hash"))?;
    Ok((size, root))
}
