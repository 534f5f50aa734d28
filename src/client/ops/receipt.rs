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
    /// The certificate the entry is about, if it names one.
    pub cert_id: Option<String>,
    /// Every certificate the entry is about: `cert_id`'s, or each release an access-receipt group (kind
    /// 0x09) lists, in its order.
    pub cert_ids: Vec<String>,
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
        cert_ids: certificates_named(signed.entry()),
        signer: signed.signer().as_str().to_owned(),
        leaf_hash: hex::encode(leaf),
    })
}

/// The certificates an entry names: its own, or those of the releases it records.
fn certificates_named(entry: &ledger::Entry) -> Vec<String> {
    match entries::cert_of(entry) {
        Some(cert) => vec![cert.to_string()],
        None => entries::releases(entry)
            .into_iter()
            .map(|(cert, _, _)| cert.to_string())
            .collect(),
    }
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use ledger::{Checkpoint, MemoryTree, NoteSigner, sign_checkpoint};

    use super::*;

    const ORIGIN: &str = "receipts.example/log";

    /// A log of `n` real entries (enrollments signed by the log key) and its signed checkpoint.
    fn log(signer: &NoteSigner, n: usize) -> (Vec<Vec<u8>>, MemoryTree, String) {
        let entries: Vec<Vec<u8>> = (0..n)
            .map(|i| {
                let party = vault::PartyKeys::generate(
                    vault::PartyId::new(&format!("p{i}")).unwrap(),
                    vault::Role::Broker,
                );
                let entry = entries::enrollment(&party.public()).unwrap();
                ledger::SignedEntry::sign(
                    entry,
                    ledger::PartyId::new("log").unwrap(),
                    signer.signing_key(),
                )
                .unwrap()
                .encode()
            })
            .collect();
        let (tree, note) = signed_tree(signer, &entries);
        (entries, tree, note)
    }

    /// The tree of `entries` and its checkpoint, signed by `signer`.
    fn signed_tree(signer: &NoteSigner, entries: &[Vec<u8>]) -> (MemoryTree, String) {
        let tree: MemoryTree = entries.iter().map(|e| leaf_hash(e)).collect();
        let checkpoint = Checkpoint {
            origin: ORIGIN.into(),
            size: tree.size(),
            root_hash: tree.root(),
            extensions: Vec::new(),
        };
        let note = sign_checkpoint(&checkpoint, signer).unwrap();
        (tree, note)
    }

    fn receipt(entries: &[Vec<u8>], tree: &MemoryTree, note: &str, index: u64) -> ReceiptFile {
        ReceiptFile {
            proof: TlogProof {
                extra: Some(entries[usize::try_from(index).unwrap()].clone()),
                index,
                inclusion: tree.inclusion_proof(index, tree.size()).unwrap(),
                checkpoint: note.to_owned(),
            },
            extension: None,
        }
    }

    /// An access-receipt group (kind 0x09) names no single certificate, so the receipt lists each one.
    #[test]
    fn a_receipt_of_grouped_releases_names_every_certificate() {
        let signer = NoteSigner::generate(ORIGIN).unwrap();
        let vkey = signer.verifier().to_vkey();
        let certs = [ledger::CertId([1; 16]), ledger::CertId([2; 16])];
        let group = ledger::Entry::AccessReceipts {
            releases: certs
                .iter()
                .map(|&cert_id| ledger::Release {
                    cert_id,
                    grant: [7; 32],
                })
                .collect(),
            time_ms: 1,
        };
        let entries = vec![
            ledger::SignedEntry::sign(
                group,
                ledger::PartyId::new("log").unwrap(),
                signer.signing_key(),
            )
            .unwrap()
            .encode(),
        ];
        let (tree, note) = signed_tree(&signer, &entries);
        let text = receipt(&entries, &tree, &note, 0).to_text();
        let v = verify_receipt(text.as_bytes(), &vkey, None).unwrap();
        let named: Vec<String> = certs.iter().map(ToString::to_string).collect();
        assert_eq!((v.cert_id, v.cert_ids), (None, named));
    }

    #[test]
    fn a_receipt_verifies_offline_and_tampering_is_refused() {
        let signer = NoteSigner::generate(ORIGIN).unwrap();
        let vkey = signer.verifier().to_vkey();
        let (entries, tree, note) = log(&signer, 5);
        let file = receipt(&entries, &tree, &note, 3);
        let text = file.to_text();
        assert_eq!(ReceiptFile::parse(text.as_bytes()).unwrap(), file);
        let v = verify_receipt(text.as_bytes(), &vkey, None).unwrap();
        assert_eq!(
            (v.index, v.checkpoint_size, v.kind.as_str()),
            (3, 5, "enrollment")
        );

        let mut other_entry = file.clone();
        other_entry.proof.extra = Some(entries[2].clone());
        assert!(verify_receipt(other_entry.to_text().as_bytes(), &vkey, None).is_err());
        let mut no_entry = file.clone();
        no_entry.proof.extra = None;
        assert!(verify_receipt(no_entry.to_text().as_bytes(), &vkey, None).is_err());
        let stranger = NoteSigner::generate(ORIGIN).unwrap().verifier().to_vkey();
        assert!(verify_receipt(text.as_bytes(), &stranger, None).is_err());
        // A policy demanding a witness the checkpoint lacks refuses it.
        let w = ledger::CosignatureSigner::generate("w.example").unwrap();
        let policy = Policy::parse(
            format!(
                "log {vkey}\nwitness w {}\nquorum w\n",
                w.verifier().to_vkey()
            )
            .as_bytes(),
        )
        .unwrap();
        assert!(verify_receipt(text.as_bytes(), &vkey, Some(&policy)).is_err());
    }

    #[test]
    fn an_extension_carries_a_receipt_to_a_grown_log_but_not_to_a_fork() {
        let signer = NoteSigner::generate(ORIGIN).unwrap();
        let vkey = signer.verifier().to_vkey();
        let (entries, tree, note) = log(&signer, 9);
        let small: MemoryTree = entries[..4].iter().map(|e| leaf_hash(e)).collect();
        let old_note = sign_checkpoint(
            &Checkpoint {
                origin: ORIGIN.into(),
                size: 4,
                root_hash: small.root(),
                extensions: Vec::new(),
            },
            &signer,
        )
        .unwrap();
        let mut file = receipt(&entries[..4], &small, &old_note, 2);
        file.extension = Some(ConsistencyExtension {
            old_size: 4,
            proof: tree.consistency_proof(4, 9).unwrap(),
            checkpoint: note.clone(),
        });
        let text = file.to_text();
        assert_eq!(ReceiptFile::parse(text.as_bytes()).unwrap(), file);
        let v = verify_receipt(text.as_bytes(), &vkey, None).unwrap();
        assert_eq!((v.checkpoint_size, v.extended_to), (4, Some(9)));

        // A fork signed by the same key: the consistency proof cannot hold.
        let (_, fork_tree, fork_note) = log(&signer, 9);
        let mut forked = file.clone();
        forked.extension = Some(ConsistencyExtension {
            old_size: 4,
            proof: fork_tree.consistency_proof(4, 9).unwrap(),
            checkpoint: fork_note,
        });
        assert!(verify_receipt(forked.to_text().as_bytes(), &vkey, None).is_err());
        assert!(ReceiptFile::parse(b"not a receipt").is_err());
    }
}
