//! Receipts: a C2SP tlog-proof for one log entry under a (cosigned) checkpoint, verifiable offline years later,
//! optionally followed by a consistency extension that carries it to a newer checkpoint.
//!
//! File format (docs/cli.md "Receipts"): the tlog-proof text, whose `extra` line is the entry's bytes
//! (base64; unauthenticated: the verifier hashes them and the inclusion proof must hold for that leaf hash);
//! then, after `refresh`, one blank line and a `tradeledger/tlog-consistency@v1` extension.

use anyhow::Context as _;
use ledger::{CONSISTENCY_HEADER, ConsistencyExtension, Hash, Policy, TlogProof, leaf_hash};
use serde::Serialize;

use crate::client::Client;
use crate::client::entries::{self, SignedEntry};
use crate::client::logview::{LogView, parse_log_key};

/// A receipt file: the tlog-proof and, after a refresh, its consistency extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptFile {
    /// The C2SP tlog-proof (its `extra` holds the entry's bytes).
    pub proof: TlogProof,
    /// A consistency proof from the receipt's checkpoint to a newer one.
    pub extension: Option<ConsistencyExtension>,
}

impl ReceiptFile {
    /// Parses a receipt file (syntax only).
    pub fn parse(bytes: &[u8]) -> anyhow::Result<Self> {
        let separator = format!("\n\n{CONSISTENCY_HEADER}\n");
        let split = bytes
            .windows(separator.len())
            .position(|w| w == separator.as_bytes());
        let (proof, extension) = match split {
            // Keep the newline that ends the proof's last signature line; the extension starts after the blank.
            Some(at) => (
                bytes.get(..=at).unwrap_or_default(),
                bytes.get(at + 2..).map(ConsistencyExtension::parse),
            ),
            None => (bytes, None),
        };
        Ok(ReceiptFile {
            proof: TlogProof::parse(proof).context("not a C2SP tlog-proof")?,
            extension: extension
                .transpose()
                .context("the consistency extension is malformed")?,
        })
    }

    /// The file's text.
    pub fn to_text(&self) -> String {
        let mut text = self.proof.to_text();
        if let Some(ext) = &self.extension {
            text.push('\n');
            text.push_str(&ext.to_text());
        }
        text
    }
}

/// What verifying a receipt established.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedReceipt {
    /// The entry's index in the log.
    pub index: u64,
    /// The log's origin.
    pub origin: String,
    /// The size of the receipt's checkpoint.
    pub checkpoint_size: u64,
    /// The size of the newer checkpoint the extension carries the receipt to, if it has one.
    pub extended_to: Option<u64>,
    /// The entry's kind (registration, grant, ...).
    pub kind: String,
    /// The certificate the entry is about, if any.
    pub cert_id: Option<String>,
    /// The party id the entry names as its signer (its key is not checked here: that needs its enrollment).
    pub signer: String,
    /// The entry's leaf hash, hex.
    pub leaf_hash: String,
}

/// The policy a receipt is verified under: the witness policy, or the log key alone.
fn effective_policy(vkey: &str, policy: Option<&Policy>) -> anyhow::Result<Policy> {
    let (verifier, _) = parse_log_key(vkey)?;
    match policy {
        Some(p) => {
            anyhow::ensure!(
                p.logs()
                    .iter()
                    .any(|l| l.verifier.to_vkey() == verifier.to_vkey()),
                "the witness policy does not list the log key {}",
                verifier.to_vkey()
            );
            Ok(p.clone())
        }
        None => Ok(Policy::logs_only(vec![verifier])),
    }
}

/// The entry bytes a receipt carries and their leaf hash.
fn carried_entry(proof: &TlogProof) -> anyhow::Result<(&[u8], Hash)> {
    let entry = proof
        .extra
        .as_deref()
        .context("the receipt carries no entry (no `extra` line)")?;
    Ok((entry, leaf_hash(entry)))
}

/// Verifies a receipt file offline: the checkpoint under `policy` (or the log key alone), the inclusion of the
/// carried entry, and the extension if present (the newer checkpoint under the same policy, consistent).
pub fn verify_receipt(
    bytes: &[u8],
    vkey: &str,
    policy: Option<&Policy>,
) -> anyhow::Result<VerifiedReceipt> {
    let file = ReceiptFile::parse(bytes)?;
    let policy = effective_policy(vkey, policy)?;
    let (entry, leaf) = carried_entry(&file.proof)?;
    let checkpoint = file
        .proof
        .verify(&leaf, &policy)
        .context("the receipt does not verify")?;
    let extended_to = match &file.extension {
        Some(ext) => Some(
            ext.verify(&file.proof, &leaf, &policy)
                .context("the receipt's consistency extension does not verify")?
                .size,
        ),
        None => None,
    };
    let signed = SignedEntry::decode(entry).context("the receipt's entry does not decode")?;
    Ok(VerifiedReceipt {
        index: file.proof.index,
        origin: checkpoint.origin,
        checkpoint_size: checkpoint.size,
        extended_to,
        kind: entries::kind(signed.entry()).to_owned(),
        cert_id: entries::cert_of(signed.entry()).map(|c| c.to_string()),
        signer: signed.signer().as_str().to_owned(),
        leaf_hash: hex::encode(leaf),
    })
}

/// Fetches the receipt of entry `index` (waiting up to ~10 s for a published checkpoint that covers it) and
/// verifies it under the client's policy or the log key before returning its text.
pub async fn fetch_receipt(
    client: &Client,
    vkey: &str,
    index: u64,
) -> anyhow::Result<(String, VerifiedReceipt)> {
    super::view_covering(client, vkey, index).await?;
    let bytes = client.get_receipt(index).await?;
    let verified = verify_receipt(&bytes, vkey, client.policy())?;
    anyhow::ensure!(
        verified.index == index,
        "the server sent a receipt for entry {} instead of {index}",
        verified.index
    );
    let text = String::from_utf8(bytes).context("the receipt is not UTF-8")?;
    Ok((text, verified))
}

/// Carries an old receipt to the log's latest published checkpoint: verifies it, fetches and verifies the newer
/// checkpoint and the consistency proof, and returns the receipt with that extension (replacing any earlier
/// one). If the log has not grown, the receipt is returned unchanged.
pub async fn refresh_receipt(
    client: &Client,
    vkey: &str,
    old: &[u8],
) -> anyhow::Result<(String, VerifiedReceipt)> {
    let mut file = ReceiptFile::parse(old)?;
    file.extension = None;
    let before = verify_receipt(file.to_text().as_bytes(), vkey, client.policy())?;
    let view = LogView::fetch(client, vkey).await?;
    let newer = view.checkpoint();
    anyhow::ensure!(
        newer.size >= before.checkpoint_size,
        "the log's published checkpoint ({}) is smaller than the receipt's ({})",
        newer.size,
        before.checkpoint_size
    );
    if newer.size > before.checkpoint_size {
        let proof = client
            .get_consistency(before.checkpoint_size, newer.size)
            .await?
            .into_iter()
            .map(|h| Hash::try_from(h).map_err(|_| anyhow::anyhow!("a proof hash is not 32 bytes")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        file.extension = Some(ConsistencyExtension {
            old_size: before.checkpoint_size,
            proof,
            checkpoint: String::from_utf8(newer.note.clone())
                .context("the checkpoint is not UTF-8")?,
        });
    }
    let text = file.to_text();
    let verified = verify_receipt(text.as_bytes(), vkey, client.policy())?;
    Ok((text, verified))
}
