//! Document commitments: an RFC 6962 Merkle root over a certificate's salted JSON-pointer leaves
//! (docs/formats.md, "Leaf encoding" and "Document commitment").

use hkdf::Hkdf;
use ledger::{Hash, MemoryTree, leaf_hash};
use rand::Rng;
use serde_json::Value;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::disclosure::{DisclosedField, Disclosure};
use crate::{CertId, Error, Result, canonical};

/// The random 256-bit master salt from which every per-field salt of one document is derived. It travels
/// only inside the body ciphertext: secret, zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterSalt([u8; 32]);

impl MasterSalt {
    /// A fresh random master salt (one per certificate).
    pub fn generate() -> MasterSalt {
        let mut salt = [0u8; 32];
        rand::rng().fill_bytes(&mut salt);
        MasterSalt(salt)
    }

    /// Wraps raw salt bytes (from an opened body).
    pub fn from_bytes(bytes: [u8; 32]) -> MasterSalt {
        MasterSalt(bytes)
    }

    /// The raw salt bytes.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

const FIELD_TAG: &[u8] = b"tradeledger/field/v1";
const FIELD_SALT_TAG: &[u8] = b"tradeledger/field-salt/v1";

/// Derives per-field salts from one master salt: HKDF-SHA256 with no extract salt, IKM = master salt,
/// info = "tradeledger/field-salt/v1" || pointer, 32 bytes (RFC 5869). Extracted once per document.
pub(crate) struct FieldSalts(Hkdf<Sha256>);

impl FieldSalts {
    pub(crate) fn new(master_salt: &MasterSalt) -> FieldSalts {
        FieldSalts(Hkdf::new(None, master_salt.expose_secret()))
    }

    pub(crate) fn salt(&self, pointer: &str) -> Zeroizing<[u8; 32]> {
        let mut salt = Zeroizing::new([0u8; 32]);
        self.0
            .expand_multi_info(&[FIELD_SALT_TAG, pointer.as_bytes()], salt.as_mut_slice())
            .unwrap_or_else(|_| {
                unreachable!("32 bytes is far below HKDF-SHA256's 8160-byte limit")
            });
        salt
    }
}

/// Writes the leaf data of one field into `out` (cleared first): "tradeledger/field/v1" || u16 BE pointer
/// length || pointer || salt (32) || encoded value. Its RFC 6962 leaf hash is `SHA-256(0x00 || leaf data)`.
pub(crate) fn write_leaf_data(
    out: &mut Vec<u8>,
    pointer: &str,
    salt: &[u8; 32],
    value: &Value,
) -> Result<()> {
    let len = u16::try_from(pointer.len()).map_err(|_| {
        Error::Canonical(format!(
            "JSON pointer longer than 65535 bytes: {pointer:.64}..."
        ))
    })?;
    out.clear();
    out.extend_from_slice(FIELD_TAG);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(pointer.as_bytes());
    out.extend_from_slice(salt);
    canonical::encode_leaf_value(value, out)
}

/// A document committed to: the Merkle tree over its salted leaves, able to produce disclosures.
pub struct DocumentCommitment<'a> {
    leaves: Vec<(String, &'a Value)>,
    tree: MemoryTree,
    master_salt: MasterSalt,
}

/// Commits to `body` under `master_salt`: one leaf per JSON leaf value, sorted by JSON pointer, in an
/// RFC 6962 tree (docs/formats.md, "Document commitment").
pub fn commit<'a>(body: &'a Value, master_salt: &MasterSalt) -> Result<DocumentCommitment<'a>> {
    let leaves = canonical::leaves(body);
    let salts = FieldSalts::new(master_salt);
    let mut tree = MemoryTree::new();
    // One buffer for every leaf: the commitment is on both the seal and the open path.
    let mut data = Vec::with_capacity(256);
    for (pointer, value) in &leaves {
        write_leaf_data(&mut data, pointer, &salts.salt(pointer), value)?;
        tree.push(leaf_hash(&data));
    }
    Ok(DocumentCommitment {
        leaves,
        tree,
        master_salt: master_salt.clone(),
    })
}

impl DocumentCommitment<'_> {
    /// The commitment: the root hash that goes on the log.
    pub fn root(&self) -> Hash {
        self.tree.root()
    }

    /// The number of leaves (the tree size).
    pub fn leaf_count(&self) -> u64 {
        self.tree.size()
    }

    /// The JSON pointers of every leaf, in leaf order.
    pub fn pointers(&self) -> impl Iterator<Item = &str> {
        self.leaves.iter().map(|(pointer, _)| pointer.as_str())
    }

    /// A disclosure of the fields named by `pointers`. A pointer to an object or array discloses every leaf
    /// beneath it; a pointer that matches no leaf is an error naming it.
    pub fn disclose(&self, cert_id: &CertId, pointers: &[&str]) -> Result<Disclosure> {
        let salts = FieldSalts::new(&self.master_salt);
        let mut chosen = vec![false; self.leaves.len()];
        for wanted in pointers {
            let mut found = false;
            for (i, (pointer, _)) in self.leaves.iter().enumerate() {
                let under = pointer.strip_prefix(wanted).is_some_and(|rest| {
                    rest.is_empty() || rest.starts_with('/') || wanted.is_empty()
                });
                if under {
                    found = true;
                    if let Some(slot) = chosen.get_mut(i) {
                        *slot = true;
                    }
                }
            }
            if !found {
                return Err(Error::Canonical(format!(
                    "no field at JSON pointer {wanted:?}"
                )));
            }
        }
        let size = self.tree.size();
        let mut fields = Vec::new();
        for ((leaf_index, (pointer, value)), _) in (0u64..)
            .zip(&self.leaves)
            .zip(&chosen)
            .filter(|(_, chosen)| **chosen)
        {
            fields.push(DisclosedField {
                pointer: pointer.clone(),
                value: (*value).clone(),
                salt: *salts.salt(pointer),
                leaf_index,
                proof: self
                    .tree
                    .inclusion_proof(leaf_index, size)
                    .map_err(|e| Error::Canonical(format!("inclusion proof: {e}")))?,
            });
        }
        Ok(Disclosure::new(*cert_id, size, fields))
    }
}

#[cfg(test)]
mod tests;
