//! Selective disclosure: chosen fields of a committed document with their salts and inclusion proofs,
//! checkable against the public commitment by anyone, revealing nothing about the other fields
//! (docs/formats.md, "Disclosure JSON").

use ledger::{Hash, leaf_hash, verify_inclusion};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::commit::write_leaf_data;
use crate::{CertId, Error, Result, canonical};

/// The disclosure format version.
const DISCLOSURE_VERSION: u8 = 1;

/// Disclosed fields of one certificate (serde: the disclosure JSON of docs/formats.md).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disclosure {
    /// Format version, 1.
    pub version: u8,
    /// The certificate the fields belong to (32 lowercase hex digits in JSON).
    #[serde(with = "cert_id_hex")]
    pub cert_id: CertId,
    /// The number of leaves in the document's commitment tree, as the discloser states it. The RFC 9162
    /// inclusion algorithm needs it to find the tree's right edge, but a Merkle root does not commit to its
    /// leaf count: any size under which every proof keeps its shape verifies too (docs/formats.md).
    pub tree_size: u64,
    /// The disclosed fields, in leaf order.
    pub fields: Vec<DisclosedField>,
}

/// One disclosed field.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosedField {
    /// Its RFC 6901 JSON pointer.
    pub pointer: String,
    /// Its value (a scalar, or an empty object or array).
    pub value: Value,
    /// Its per-field salt (revealed so the leaf can be recomputed; other fields' salts stay hidden).
    #[serde(with = "hex_array")]
    pub salt: [u8; 32],
    /// Its leaf index in the commitment tree.
    pub leaf_index: u64,
    /// Its RFC 9162 inclusion proof, leaf side first.
    #[serde(with = "hex_hashes")]
    pub proof: Vec<Hash>,
}

impl Disclosure {
    pub(crate) fn new(cert_id: CertId, tree_size: u64, fields: Vec<DisclosedField>) -> Disclosure {
        Disclosure {
            version: DISCLOSURE_VERSION,
            cert_id,
            tree_size,
            fields,
        }
    }

    /// Checks every disclosed field against the document commitment `root`: the leaf rebuilt from pointer,
    /// salt and value must be included at its index. Errors name the failing field's pointer.
    pub fn verify(&self, root: &Hash) -> Result<()> {
        let invalid = |reason: String| Error::DisclosureInvalid(reason);
        if self.version != DISCLOSURE_VERSION {
            return Err(invalid(format!("unsupported version {}", self.version)));
        }
        if self.fields.is_empty() {
            return Err(invalid("no fields disclosed".into()));
        }
        let mut previous: Option<&DisclosedField> = None;
        for field in &self.fields {
            let named = |reason: &str| invalid(format!("field {:?}: {reason}", field.pointer));
            if !canonical::is_valid_pointer(&field.pointer) {
                return Err(named("not an RFC 6901 JSON pointer"));
            }
            // Leaves are ordered by pointer, so indices and pointers must rise together; this also
            // rules out a field disclosed twice.
            let out_of_order = previous.is_some_and(|prev| {
                field.leaf_index <= prev.leaf_index
                    || field.pointer.as_bytes() <= prev.pointer.as_bytes()
            });
            if out_of_order {
                return Err(named("fields are not in strictly increasing leaf order"));
            }
            let mut data = Vec::new();
            write_leaf_data(&mut data, &field.pointer, &field.salt, &field.value)
                .map_err(|e| named(&e.to_string()))?;
            verify_inclusion(
                &leaf_hash(&data),
                field.leaf_index,
                self.tree_size,
                &field.proof,
                root,
            )
            .map_err(|e| {
                named(&format!(
                    "does not verify as leaf {} of a tree of tree_size {} under the commitment ({e})",
                    field.leaf_index, self.tree_size
                ))
            })?;
            previous = Some(field);
        }
        Ok(())
    }

    /// The value disclosed at `pointer`, if any.
    pub fn get(&self, pointer: &str) -> Option<&Value> {
        self.fields
            .iter()
            .find(|f| f.pointer == pointer)
            .map(|f| &f.value)
    }

    /// The disclosure as JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|_| unreachable!("plain data always serializes"))
    }

    /// Parses disclosure JSON (untrusted: call [`Disclosure::verify`] before believing it).
    pub fn from_json(text: &str) -> Result<Disclosure> {
        serde_json::from_str(text).map_err(|e| Error::Malformed {
            what: "disclosure",
            reason: e.to_string(),
        })
    }
}

mod cert_id_hex {
    use ledger::CertId;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(id: &CertId, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(id)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<CertId, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|_| serde::de::Error::custom("expected 32 lowercase hex digits"))
    }
}

mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        hex::decode_to_slice(&text, &mut out)
            .map_err(|_| serde::de::Error::custom("expected 64 hex digits"))?;
        Ok(out)
    }
}

mod hex_hashes {
    use serde::ser::SerializeSeq;
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(hashes: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(hashes.len()))?;
        for hash in hashes {
            seq.serialize_element(&hex::encode(hash))?;
        }
        seq.end()
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        texts
            .iter()
            .map(|text| {
                let mut out = [0u8; 32];
                hex::decode_to_slice(text, &mut out)
                    .map_err(|_| serde::de::Error::custom("expected 64 hex digits"))?;
                Ok(out)
            })
            .collect()
    }
}
