//! C2SP tlog-cosignature v1 (Ed25519, signature type 0x04): witness keys and timestamped checkpoint cosignatures.
//!
//! A cosignature is a note signature line over the message `cosignature/v1\ntime <t>\n` followed by the checkpoint
//! note text. It states that, at time `t`, this was the largest consistent tree the witness had seen for the log.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use zeroize::Zeroizing;

use crate::error::Error;
use crate::note;

/// Signature type byte of timestamped Ed25519 checkpoint cosignatures (C2SP signed-note "Signature types").
pub const COSIGNATURE_TYPE: u8 = 0x04;
/// The em dash and space that start a note signature line.
const SIG_PREFIX: &str = "\u{2014} ";
/// Key id (4) + timestamp (8) + Ed25519 signature (64): the decoded payload of a v1 Ed25519 cosignature line.
const PAYLOAD_LEN: usize = 4 + 8 + 64;
/// tlog-cosignature "Format": the timestamp MUST NOT exceed 2^63 - 1.
const MAX_TIMESTAMP: u64 = i64::MAX.unsigned_abs();

/// Key names are non-empty, free of Unicode spaces, `+` and control characters (C2SP signed-note "Format").
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// key ID = SHA-256(name || "\n" || 0x04 || 32-byte Ed25519 public key)[:4] (tlog-cosignature "Format").
fn cosigner_key_id(name: &str, public: &VerifyingKey) -> u32 {
    note::key_id(name, COSIGNATURE_TYPE, public.as_bytes())
}

/// The exact bytes a v1 Ed25519 cosignature signs (tlog-cosignature "Ed25519 signed message").
///
/// `checkpoint_text` is the whole note text of the checkpoint, final newline included, signatures excluded.
pub fn cosigned_message(checkpoint_text: &str, timestamp: u64) -> Vec<u8> {
    let header = format!("cosignature/v1\ntime {timestamp}\n");
    let mut msg = Vec::with_capacity(header.len() + checkpoint_text.len());
    msg.extend_from_slice(header.as_bytes());
    msg.extend_from_slice(checkpoint_text.as_bytes());
    msg
}

/// The current time as a POSIX timestamp, for new cosignatures (never zero, per tlog-witness).
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_secs().max(1))
}

/// One timestamped Ed25519 cosignature, as carried in a note signature line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cosignature {
    /// The cosigner's key name.
    pub name: String,
    /// The cosigner's key id.
    pub key_id: u32,
    /// When the cosignature was made (POSIX seconds, at most 2^63 - 1).
    pub timestamp: u64,
    /// The Ed25519 signature over [`cosigned_message`].
    pub signature: [u8; 64],
}

impl Cosignature {
    /// Decodes a signature from its parts as a note parser returns them: key name, key id, and the bytes after
    /// the key id (8-byte big-endian timestamp || 64-byte signature).
    pub fn from_parts(name: &str, key_id: u32, payload: &[u8]) -> Result<Self, Error> {
        if !valid_name(name) {
            return Err(Error::MalformedCosignature("invalid key name"));
        }
        let (Some(time), Some(sig), true) = (
            payload.get(..8),
            payload.get(8..),
            payload.len() == PAYLOAD_LEN - 4,
        ) else {
            return Err(Error::MalformedCosignature(
                "payload is not a timestamp and an Ed25519 signature",
            ));
        };
        let timestamp = u64::from_be_bytes(time.try_into().expect("slice of eight"));
        if timestamp > MAX_TIMESTAMP {
            return Err(Error::MalformedCosignature("timestamp exceeds 2^63 - 1"));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id,
            timestamp,
            signature: sig.try_into().expect("slice of 64"),
        })
    }

    /// Parses one note signature line `— <name> <base64(key id || timestamp || signature)>`, without or with its
    /// final newline.
    pub fn parse_line(line: &str) -> Result<Self, Error> {
        let line = line.strip_suffix('\n').unwrap_or(line);
        let rest = line
            .strip_prefix(SIG_PREFIX)
            .ok_or(Error::MalformedCosignature(
                "line does not start with an em dash",
            ))?;
        let (name, b64) = rest
            .split_once(' ')
            .ok_or(Error::MalformedCosignature("line has no signature"))?;
        let raw = BASE64
            .decode(b64)
            .map_err(|_| Error::MalformedCosignature("signature is not base64"))?;
        let (Some(id), Some(payload)) = (raw.get(..4), raw.get(4..)) else {
            return Err(Error::MalformedCosignature("signature too short"));
        };
        let key_id = u32::from_be_bytes(id.try_into().expect("slice of four"));
        Self::from_parts(name, key_id, payload)
    }

    /// The note signature line, ending in a newline.
    pub fn to_line(&self) -> String {
        let mut raw = Vec::with_capacity(PAYLOAD_LEN);
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&self.timestamp.to_be_bytes());
        raw.extend_from_slice(&self.signature);
        format!("{SIG_PREFIX}{} {}\n", self.name, BASE64.encode(raw))
    }
}

/// A witness's cosigning key: name, key id and Ed25519 key. Zeroized on drop (dalek's `SigningKey`); no `Debug`.
pub struct CosignatureSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl CosignatureSigner {
    /// A new random cosigner named `name` (a schema-less URL is recommended, e.g. `witness.example/w1`).
    pub fn generate(name: &str) -> Result<Self, Error> {
        Self::from_key(name, SigningKey::generate(&mut rand::rng()))
    }

    /// A cosigner using an existing Ed25519 key. The key must not also sign as another cosigner or as a log:
    /// the v1 message does not commit to the cosigner name.
    pub fn from_key(name: &str, key: SigningKey) -> Result<Self, Error> {
        if !valid_name(name) {
            return Err(Error::MalformedKey("invalid key name"));
        }
        let key_id = cosigner_key_id(name, &key.verifying_key());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// Parses `PRIVATE+KEY+<name>+<hex key id>+<base64(0x04 || 32-byte seed)>`, the signer-key text of
    /// golang.org/x/mod/sumdb/note with the cosignature type byte. The key id must match the key.
    pub fn from_signer_key(text: &str) -> Result<Self, Error> {
        let (name, key) = note::parse_signer_key(text, COSIGNATURE_TYPE)?;
        Self::from_key(name, key)
    }

    /// The signer-key text (see [`CosignatureSigner::from_signer_key`]). Secret: store it like a private key.
    pub fn to_signer_key(&self) -> Zeroizing<String> {
        note::format_signer_key(&self.name, COSIGNATURE_TYPE, &self.key)
    }

    /// The key name written in cosignature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id written at the start of each cosignature.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: self.key.verifying_key(),
        }
    }

    /// Cosigns the checkpoint note text at `timestamp`. The caller must already have verified the checkpoint
    /// and its consistency with everything it cosigned before: that is what the cosignature asserts.
    pub fn cosign(&self, checkpoint_text: &str, timestamp: u64) -> Result<Cosignature, Error> {
        if timestamp == 0 || timestamp > MAX_TIMESTAMP {
            return Err(Error::MalformedCosignature(
                "timestamp must be in 1..=2^63 - 1",
            ));
        }
        if !checkpoint_text.ends_with('\n') {
            return Err(Error::MalformedNote("text does not end in a newline"));
        }
        let sig = self.key.sign(&cosigned_message(checkpoint_text, timestamp));
        Ok(Cosignature {
            name: self.name.clone(),
            key_id: self.key_id,
            timestamp,
            signature: sig.to_bytes(),
        })
    }
}

/// A witness's public cosignature key (vkey with signature type 0x04).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CosignatureVerifier {
    name: String,
    key_id: u32,
    key: VerifyingKey,
}

impl CosignatureVerifier {
    /// A verifier for the cosigner `name` with Ed25519 public key `key`.
    pub fn ed25519(name: &str, key: VerifyingKey) -> Result<Self, Error> {
        if !valid_name(name) {
            return Err(Error::MalformedKey("invalid key name"));
        }
        Ok(Self {
            name: name.to_owned(),
            key_id: cosigner_key_id(name, &key),
            key,
        })
    }

    /// Parses a vkey `<name>+<hex key id>+<base64(0x04 || 32-byte public key)>`. The key id must match.
    pub fn from_vkey(vkey: &str) -> Result<Self, Error> {
        let (name, key) =
            note::parse_vkey(vkey, COSIGNATURE_TYPE, "not a cosignature (0x04) vkey")?;
        Self::ed25519(name, key)
    }

    /// The vkey text (see [`CosignatureVerifier::from_vkey`]).
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![COSIGNATURE_TYPE];
        raw.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, self.key_id, BASE64.encode(raw))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The Ed25519 public key.
    pub fn public_key(&self) -> &VerifyingKey {
        &self.key
    }

    /// Whether a signature line with this name and key id belongs to this key (signed-note: both must match,
    /// otherwise the line is someone else's and must be ignored).
    pub fn matches(&self, name: &str, key_id: u32) -> bool {
        self.name == name && self.key_id == key_id
    }

    /// Verifies `cosig` over the checkpoint note text. Errors if the cosignature is not this key's, or does
    /// not verify.
    pub fn verify(&self, checkpoint_text: &str, cosig: &Cosignature) -> Result<(), Error> {
        if !self.matches(&cosig.name, cosig.key_id) {
            return Err(Error::MalformedCosignature(
                "cosignature is not by this key",
            ));
        }
        let sig = Signature::from_bytes(&cosig.signature);
        self.key
            .verify_strict(&cosigned_message(checkpoint_text, cosig.timestamp), &sig)
            .map_err(|_| Error::BadCosignature(self.name.clone()))
    }
}

#[cfg(test)]
mod tests;
