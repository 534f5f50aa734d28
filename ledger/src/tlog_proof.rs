//! C2SP tlog-proof v1 receipts (offline proofs of inclusion), and a consistency extension that carries a receipt
//! forward to a newer checkpoint.
//!
//! The extension is tradeledger's own format (the spec defines none), shaped like a tlog-witness `add-checkpoint`
//! body under its own header line:
//!
//! ```text
//! tradeledger/tlog-consistency@v1
//! old <receipt's checkpoint size>
//! <base64 consistency proof hash, zero or more lines>
//!
//! <newer checkpoint, signed note with cosignatures>
//! ```
//!
//! It proves the receipt's tree is a prefix of the newer tree, so the entry is also in the newer checkpoint.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use crate::checkpoint::Checkpoint;
use crate::error::Error;
use crate::merkle::{Hash, verify_consistency, verify_inclusion};
use crate::policy::Policy;

/// First line of a C2SP tlog-proof.
pub const TLOG_PROOF_HEADER: &str = "c2sp.org/tlog-proof@v1";
/// First line of a tradeledger consistency extension (see the module docs).
pub const CONSISTENCY_HEADER: &str = "tradeledger/tlog-consistency@v1";
/// Proofs in a tree of fewer than 2^64 leaves have at most 64 hashes.
const MAX_PROOF_HASHES: usize = 64;

/// Parses `<keyword> <decimal>` with no leading zeros (unless 0).
fn number_line(line: &str, keyword: &str, what: &'static str) -> Result<u64, Error> {
    let digits = line
        .strip_prefix(keyword)
        .and_then(|l| l.strip_prefix(' '))
        .ok_or(Error::MalformedProof(what))?;
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || (digits.len() > 1 && digits.starts_with('0'))
    {
        return Err(Error::MalformedProof(what));
    }
    digits.parse().map_err(|_| Error::MalformedProof(what))
}

/// Reads base64 hash lines until the blank line; returns the hashes and the rest (the checkpoint note).
fn hashes_then_note<'a>(
    mut rest: &'a str,
    what: &'static str,
) -> Result<(Vec<Hash>, &'a str), Error> {
    let mut hashes = Vec::new();
    loop {
        let (line, after) = rest
            .split_once('\n')
            .ok_or(Error::MalformedProof("no blank line before the checkpoint"))?;
        rest = after;
        if line.is_empty() {
            return Ok((hashes, rest));
        }
        if hashes.len() == MAX_PROOF_HASHES {
            return Err(Error::MalformedProof("too many proof hashes"));
        }
        let hash = BASE64
            .decode(line)
            .ok()
            .and_then(|h| Hash::try_from(h).ok())
            .ok_or(Error::MalformedProof(what))?;
        hashes.push(hash);
    }
}

fn push_hashes(text: &mut String, hashes: &[Hash]) {
    for h in hashes {
        text.push_str(&BASE64.encode(h));
        text.push('\n');
    }
}

/// A C2SP tlog-proof: an entry's index, its inclusion proof, and the (cosigned) checkpoint it is proved against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlogProof {
    /// Opaque, unauthenticated application data (`extra` line); never trust it without checking.
    pub extra: Option<Vec<u8>>,
    /// Zero-based index of the entry in the log.
    pub index: u64,
    /// RFC 6962 inclusion proof, from the leaf's sibling up to the root's child.
    pub inclusion: Vec<Hash>,
    /// The checkpoint as a signed note, verbatim, with its cosignatures.
    pub checkpoint: String,
}

impl TlogProof {
    /// Parses a `.tlog-proof` text (C2SP tlog-proof "Format"). Only the syntax is checked here.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let text = std::str::from_utf8(bytes).map_err(|_| Error::MalformedProof("not UTF-8"))?;
        let (header, mut rest) = text
            .split_once('\n')
            .ok_or(Error::MalformedProof("truncated"))?;
        if header != TLOG_PROOF_HEADER {
            return Err(Error::MalformedProof(
                "first line is not c2sp.org/tlog-proof@v1",
            ));
        }
        let mut line;
        (line, rest) = rest
            .split_once('\n')
            .ok_or(Error::MalformedProof("truncated"))?;
        let extra = match line.strip_prefix("extra ") {
            Some(b64) => {
                let data = BASE64
                    .decode(b64)
                    .map_err(|_| Error::MalformedProof("extra is not base64"))?;
                (line, rest) = rest
                    .split_once('\n')
                    .ok_or(Error::MalformedProof("truncated"))?;
                Some(data)
            }
            None => None,
        };
        let index = number_line(line, "index", "bad index line")?;
        let (inclusion, checkpoint) = hashes_then_note(rest, "inclusion proof line is not a hash")?;
        if checkpoint.is_empty() {
            return Err(Error::MalformedProof("no checkpoint"));
        }
        Ok(Self {
            extra,
            index,
            inclusion,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// The `.tlog-proof` text.
    pub fn to_text(&self) -> String {
        let mut text = format!("{TLOG_PROOF_HEADER}\n");
        if let Some(extra) = &self.extra {
            text.push_str(&format!("extra {}\n", BASE64.encode(extra)));
        }
        text.push_str(&format!("index {}\n", self.index));
        push_hashes(&mut text, &self.inclusion);
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// Verifies offline (C2SP tlog-proof "Verifying a tlog proof", steps 2-4) that `leaf_hash` is entry
    /// [`TlogProof::index`] of a checkpoint that `policy` accepts (log signature and witness quorum).
    /// Returns that checkpoint. Computing the leaf hash (step 1) is the caller's business.
    pub fn verify(&self, leaf_hash: &Hash, policy: &Policy) -> Result<Checkpoint, Error> {
        let checkpoint = policy.verify_checkpoint(self.checkpoint.as_bytes())?;
        verify_inclusion(
            leaf_hash,
            self.index,
            checkpoint.size,
            &self.inclusion,
            &checkpoint.root_hash,
        )?;
        Ok(checkpoint)
    }
}

/// Parses and verifies a tlog-proof text in one step (see [`TlogProof::verify`]).
pub fn verify_tlog_proof(
    proof_text: &[u8],
    leaf_hash: &Hash,
    policy: &Policy,
) -> Result<Checkpoint, Error> {
    TlogProof::parse(proof_text)?.verify(leaf_hash, policy)
}

/// A consistency proof from a receipt's checkpoint to a newer checkpoint (format in the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsistencyExtension {
    /// The size of the receipt's checkpoint.
    pub old_size: u64,
    /// RFC 6962 consistency proof from `old_size` to the newer checkpoint's size.
    pub proof: Vec<Hash>,
    /// The newer checkpoint as a signed note, with its cosignatures.
    pub checkpoint: String,
}

impl ConsistencyExtension {
    /// Parses the extension text.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let text = std::str::from_utf8(bytes).map_err(|_| Error::MalformedProof("not UTF-8"))?;
        let (header, rest) = text
            .split_once('\n')
            .ok_or(Error::MalformedProof("truncated"))?;
        if header != CONSISTENCY_HEADER {
            return Err(Error::MalformedProof(
                "first line is not tradeledger/tlog-consistency@v1",
            ));
        }
        let (line, rest) = rest
            .split_once('\n')
            .ok_or(Error::MalformedProof("truncated"))?;
        let old_size = number_line(line, "old", "bad old size line")?;
        let (proof, checkpoint) = hashes_then_note(rest, "consistency proof line is not a hash")?;
        if checkpoint.is_empty() {
            return Err(Error::MalformedProof("no checkpoint"));
        }
        Ok(Self {
            old_size,
            proof,
            checkpoint: checkpoint.to_owned(),
        })
    }

    /// The extension text.
    pub fn to_text(&self) -> String {
        let mut text = format!("{CONSISTENCY_HEADER}\nold {}\n", self.old_size);
        push_hashes(&mut text, &self.proof);
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    /// Verifies `receipt` for `leaf_hash`, then that this extension's checkpoint is accepted by `policy` and
    /// extends the receipt's checkpoint (same origin, RFC 6962 consistency). Returns the newer checkpoint, in
    /// which the entry is therefore included too.
    pub fn verify(
        &self,
        receipt: &TlogProof,
        leaf_hash: &Hash,
        policy: &Policy,
    ) -> Result<Checkpoint, Error> {
        let old = receipt.verify(leaf_hash, policy)?;
        let new = policy.verify_checkpoint(self.checkpoint.as_bytes())?;
        if new.origin != old.origin {
            return Err(Error::OriginMismatch {
                expected: old.origin,
                got: new.origin,
            });
        }
        if self.old_size != old.size {
            return Err(Error::MalformedProof(
                "extension starts from another size than the receipt",
            ));
        }
        verify_consistency(
            old.size,
            new.size,
            &self.proof,
            &old.root_hash,
            &new.root_hash,
        )?;
        Ok(new)
    }
}

#[cfg(test)]
mod tests;
