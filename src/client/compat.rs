//! TEMPORARY stand-ins for parts of the crate contract (docs/architecture.md) that have not landed yet on
//! this branch: log entries and checkpoints (`ledger`), document commitments (`vault`), certificate validation
//! (`cert`). Each item has the shape of the contract so that switching to the real one is a change of `use`
//! lines. Delete this file once `ledger-core`, `vault-crypto` and `certs` are merged.

pub(crate) mod entry {
    //! Stand-in for `ledger::entry`: the entry kinds and their signatures.
    use ed25519_dalek::{Signature, Signer as _, SigningKey, Verifier as _, VerifyingKey};
    use ledger::Hash;
    use serde::{Deserialize, Serialize};
    use vault::{CertId, PartyId, Role};

    const SIGNING_TAG: &[u8] = b"tradeledger/entry/v1\0";

    /// One log entry.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
    pub(crate) enum Entry {
        Enrollment {
            party: PartyId,
            role: Role,
            signing_key: [u8; 32],
            encryption_key: [u8; 32],
            time: u64,
        },
        Registration {
            cert_id: CertId,
            commitment: Hash,
            ciphertext_hash: Hash,
            grants: Vec<Hash>,
            time: u64,
        },
        Grant {
            cert_id: CertId,
            grant: Hash,
            time: u64,
        },
        Revocation {
            cert_id: CertId,
            grant: Hash,
            time: u64,
        },
        Purge {
            cert_id: CertId,
            time: u64,
        },
        AccessReceipt {
            cert_id: CertId,
            grant: Hash,
            time: u64,
        },
    }

    /// An entry with its author's signature.
    #[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub(crate) struct SignedEntry {
        pub(crate) entry: Entry,
        pub(crate) signer: PartyId,
        #[serde(with = "sig")]
        pub(crate) signature: [u8; 64],
    }

    impl SignedEntry {
        pub(crate) fn sign(entry: Entry, signer: PartyId, key: &SigningKey) -> SignedEntry {
            let signature = key.sign(&message(&entry, &signer)).to_bytes();
            SignedEntry {
                entry,
                signer,
                signature,
            }
        }

        pub(crate) fn verify(&self, key: &VerifyingKey) -> Result<(), ledger::Error> {
            key.verify(
                &message(&self.entry, &self.signer),
                &Signature::from_bytes(&self.signature),
            )
            .map_err(|_| ledger::Error::RootMismatch)
        }

        pub(crate) fn encode(&self) -> Vec<u8> {
            serde_json::to_vec(self).unwrap_or_default()
        }

        pub(crate) fn decode(bytes: &[u8]) -> Result<SignedEntry, String> {
            serde_json::from_slice(bytes).map_err(|e| e.to_string())
        }
    }

    fn message(entry: &Entry, signer: &PartyId) -> Vec<u8> {
        let mut m = SIGNING_TAG.to_vec();
        m.extend_from_slice(signer.as_str().as_bytes());
        m.push(0);
        m.extend_from_slice(&serde_json::to_vec(entry).unwrap_or_default());
        m
    }

    mod sig {
        use serde::{Deserialize, Deserializer, Serializer};
        pub(super) fn serialize<S: Serializer>(v: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&hex::encode(v))
        }
        pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
            let text = String::deserialize(d)?;
            let mut out = [0u8; 64];
            hex::decode_to_slice(text, &mut out).map_err(serde::de::Error::custom)?;
            Ok(out)
        }
    }
}

pub(crate) mod note {
    //! Stand-in for `ledger::note` and `ledger::checkpoint`: Ed25519 C2SP signed notes and checkpoints.
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use ed25519_dalek::{Signature, Verifier as _, VerifyingKey};
    use ledger::Hash;
    use sha2::{Digest as _, Sha256};

    /// A vkey: name, key id and Ed25519 key.
    #[derive(Debug, Clone)]
    pub(crate) struct NoteVerifier {
        name: String,
        key_id: u32,
        key: VerifyingKey,
    }

    impl NoteVerifier {
        pub(crate) fn from_vkey(vkey: &str) -> Result<NoteVerifier, String> {
            let mut parts = vkey.trim().splitn(3, '+');
            let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err("vkey is not NAME+HEXID+BASE64".into());
            };
            let key_id =
                u32::from_str_radix(id, 16).map_err(|_| "vkey key id is not hex".to_owned())?;
            let raw = STANDARD
                .decode(key)
                .map_err(|_| "vkey key is not base64".to_owned())?;
            let (Some(&1), Some(bytes)) = (raw.first(), raw.get(1..)) else {
                return Err("vkey is not an Ed25519 key".into());
            };
            let bytes: [u8; 32] = bytes
                .try_into()
                .map_err(|_| "vkey key is not 32 bytes".to_owned())?;
            let key =
                VerifyingKey::from_bytes(&bytes).map_err(|_| "vkey key is invalid".to_owned())?;
            let want = key_id_of(name, &bytes);
            if want != key_id {
                return Err("vkey key id does not match its key".into());
            }
            Ok(NoteVerifier {
                name: name.to_owned(),
                key_id,
                key,
            })
        }

        pub(crate) fn verifying_key(&self) -> &VerifyingKey {
            &self.key
        }
    }

    fn key_id_of(name: &str, key: &[u8; 32]) -> u32 {
        let mut h = Sha256::new();
        h.update(name.as_bytes());
        h.update(b"\n\x01");
        h.update(key);
        let d = h.finalize();
        u32::from_be_bytes([d[0], d[1], d[2], d[3]])
    }

    /// Opens a signed note and returns its text if `verifier` signed it.
    pub(crate) fn open_note(bytes: &[u8], verifier: &NoteVerifier) -> Result<String, String> {
        let msg = std::str::from_utf8(bytes).map_err(|_| "note is not UTF-8".to_owned())?;
        let split = msg.rfind("\n\n").ok_or("note has no signatures")?;
        let (text, sigs) = msg.split_at(split + 1);
        for line in sigs.trim_matches('\n').split('\n') {
            let Some(rest) = line.strip_prefix("\u{2014} ") else {
                continue;
            };
            let Some((name, b64)) = rest.split_once(' ') else {
                continue;
            };
            if name != verifier.name {
                continue;
            }
            let raw = STANDARD
                .decode(b64)
                .map_err(|_| "signature is not base64".to_owned())?;
            if raw.len() != 68 || raw.get(..4) != Some(&verifier.key_id.to_be_bytes()[..]) {
                continue;
            }
            let sig = Signature::from_slice(raw.get(4..).unwrap_or_default())
                .map_err(|_| "bad signature".to_owned())?;
            verifier
                .key
                .verify(text.as_bytes(), &sig)
                .map_err(|_| "checkpoint signature does not verify".to_owned())?;
            return Ok(text.to_owned());
        }
        Err("checkpoint is not signed by the log key".into())
    }

    /// A parsed checkpoint body.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub(crate) struct Checkpoint {
        pub(crate) origin: String,
        pub(crate) size: u64,
        pub(crate) root_hash: Hash,
    }

    impl Checkpoint {
        pub(crate) fn parse(text: &str) -> Result<Checkpoint, String> {
            let mut lines = text.lines();
            let origin = lines
                .next()
                .filter(|l| !l.is_empty())
                .ok_or("checkpoint has no origin")?;
            let size = lines
                .next()
                .and_then(|l| l.parse::<u64>().ok())
                .ok_or("checkpoint size is not a number")?;
            let root = lines
                .next()
                .and_then(|l| STANDARD.decode(l).ok())
                .ok_or("bad checkpoint root")?;
            let root_hash: Hash = root
                .try_into()
                .map_err(|_| "checkpoint root is not 32 bytes".to_owned())?;
            Ok(Checkpoint {
                origin: origin.to_owned(),
                size,
                root_hash,
            })
        }
    }
}

pub(crate) mod cert {
    //! Stand-in for `crate::cert`: certificate validation with JSON-pointer violations.
    use serde_json::Value;

    /// One reason a body is refused.
    #[derive(Debug, Clone)]
    pub(crate) struct Violation {
        pub(crate) pointer: String,
        pub(crate) rule: &'static str,
        pub(crate) message: String,
    }

    impl std::fmt::Display for Violation {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let pointer = if self.pointer.is_empty() {
                "(body)"
            } else {
                &self.pointer
            };
            write!(f, "{pointer}: {} [{}]", self.message, self.rule)
        }
    }

    pub(crate) fn validate(body: &Value) -> Result<(), Vec<Violation>> {
        match body.get("regime").and_then(Value::as_str) {
            Some("usmca" | "cafta-dr" | "nafta-434") => Ok(()),
            _ => Err(vec![Violation {
                pointer: "/regime".into(),
                rule: "regime.unknown",
                message: "expected one of usmca, cafta-dr, nafta-434".into(),
            }]),
        }
    }
}

pub(crate) mod commit {
    //! Stand-in for `vault::commit` / `vault::Disclosure` (same shapes), until vault-crypto lands them.
    use ledger::{Hash, MemoryTree, leaf_hash, verify_inclusion};
    use serde::{Deserialize, Serialize};
    use serde_json::Value;
    use sha2::{Digest as _, Sha256};
    use vault::{CertId, MasterSalt};

    fn leaves(value: &Value, pointer: String, out: &mut Vec<(String, Value)>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (k, v) in map {
                    leaves(
                        v,
                        format!("{pointer}/{}", k.replace('~', "~0").replace('/', "~1")),
                        out,
                    );
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for (i, v) in items.iter().enumerate() {
                    leaves(v, format!("{pointer}/{i}"), out);
                }
            }
            other => out.push((pointer, other.clone())),
        }
    }

    fn salt_for(master: &[u8; 32], pointer: &str) -> [u8; 32] {
        Sha256::new()
            .chain_update(b"shim-field-salt")
            .chain_update(master)
            .chain_update(pointer)
            .finalize()
            .into()
    }

    fn leaf(pointer: &str, salt: &[u8; 32], value: &Value) -> Hash {
        let mut data = pointer.as_bytes().to_vec();
        data.push(0);
        data.extend_from_slice(salt);
        data.extend_from_slice(&serde_json::to_vec(value).unwrap_or_default());
        leaf_hash(&data)
    }

    pub(crate) struct DocumentCommitment {
        leaves: Vec<(String, Value)>,
        salts: Vec<[u8; 32]>,
        tree: MemoryTree,
    }

    pub(crate) fn commit(
        body: &Value,
        master: &MasterSalt,
    ) -> Result<DocumentCommitment, vault::Error> {
        let mut out = Vec::new();
        leaves(body, String::new(), &mut out);
        let mut tree = MemoryTree::new();
        let mut salts = Vec::new();
        for (p, v) in &out {
            let s = salt_for(master.expose_secret(), p);
            tree.push(leaf(p, &s, v));
            salts.push(s);
        }
        Ok(DocumentCommitment {
            leaves: out,
            salts,
            tree,
        })
    }

    impl DocumentCommitment {
        pub(crate) fn root(&self) -> Hash {
            self.tree.root()
        }

        pub(crate) fn disclose(
            &self,
            cert_id: &CertId,
            pointers: &[&str],
        ) -> Result<Disclosure, vault::Error> {
            let mut fields = Vec::new();
            for want in pointers {
                let before = fields.len();
                for (i, ((p, v), s)) in self.leaves.iter().zip(&self.salts).enumerate() {
                    if p == want || p.starts_with(&format!("{want}/")) {
                        let leaf_index = i as u64;
                        let proof = self
                            .tree
                            .inclusion_proof(leaf_index, self.tree.size())
                            .map_err(|_| vault::Error::DisclosureInvalid("proof".into()))?;
                        fields.push(DisclosedField {
                            pointer: p.clone(),
                            value: v.clone(),
                            salt: *s,
                            leaf_index,
                            proof,
                        });
                    }
                }
                if fields.len() == before {
                    return Err(vault::Error::DisclosureInvalid(format!(
                        "no field at {want}"
                    )));
                }
            }
            Ok(Disclosure {
                version: 1,
                cert_id: *cert_id,
                tree_size: self.tree.size(),
                fields,
            })
        }
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub(crate) struct Disclosure {
        pub(crate) version: u8,
        pub(crate) cert_id: CertId,
        pub(crate) tree_size: u64,
        pub(crate) fields: Vec<DisclosedField>,
    }

    #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
    pub(crate) struct DisclosedField {
        pub(crate) pointer: String,
        pub(crate) value: Value,
        pub(crate) salt: [u8; 32],
        pub(crate) leaf_index: u64,
        pub(crate) proof: Vec<Hash>,
    }

    impl Disclosure {
        pub(crate) fn verify(&self, root: &Hash) -> Result<(), vault::Error> {
            if self.fields.is_empty() {
                return Err(vault::Error::DisclosureInvalid("no fields".into()));
            }
            for f in &self.fields {
                verify_inclusion(
                    &leaf(&f.pointer, &f.salt, &f.value),
                    f.leaf_index,
                    self.tree_size,
                    &f.proof,
                    root,
                )
                .map_err(|_| vault::Error::DisclosureInvalid(f.pointer.clone()))?;
            }
            Ok(())
        }
    }
}
