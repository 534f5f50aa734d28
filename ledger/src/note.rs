//! C2SP signed notes (c2sp.org/signed-note): Ed25519 signer and verifier keys, signing and opening notes.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::error::Error;

/// Signature type byte of plain Ed25519 note signatures (C2SP signed-note, "Signature types").
const TYPE_ED25519: u8 = 0x01;
/// The most signatures [`open_note`] reads; the spec requires accepting at least 16.
pub const MAX_SIGNATURES: usize = 100;
/// The em dash and space that start a signature line.
const SIG_PREFIX: &str = "\u{2014} ";

/// Key names are non-empty, free of Unicode spaces and `+` (signed-note "Format"); control characters are
/// excluded because no note may contain them.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// key ID = SHA-256(key name || 0x0A || signature type || public key)[:4] (signed-note "Signatures").
pub(crate) fn key_id(name: &str, sig_type: u8, public: &[u8]) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([0x0a, sig_type])
        .chain_update(public)
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// Parses the 8 lowercase hex digits of a key id.
fn parse_key_id(hex: &str) -> Result<u32, Error> {
    if hex.len() != 8
        || !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        return Err(Error::MalformedKey("key id is not 8 lowercase hex digits"));
    }
    u32::from_str_radix(hex, 16)
        .map_err(|_| Error::MalformedKey("key id is not 8 lowercase hex digits"))
}

/// Splits `<name>+<id>+<base64>`. Names hold no '+' but base64 may, so split from the left.
/// Parses a signer-key text `PRIVATE+KEY+<name>+<hex key id>+<base64(sig_type || 32-byte seed)>` of the given
/// signature type, checking the key id against the key. Shared by note signers and cosigners.
pub(crate) fn parse_signer_key(text: &str, sig_type: u8) -> Result<(&str, SigningKey), Error> {
    let rest = text
        .trim_end()
        .strip_prefix("PRIVATE+KEY+")
        .ok_or(Error::MalformedKey(
            "signer key does not start with PRIVATE+KEY+",
        ))?;
    let (name, hex, b64) =
        split_key_text(rest).ok_or(Error::MalformedKey("signer key needs name+id+key"))?;
    let id = parse_key_id(hex)?;
    let raw = Zeroizing::new(
        BASE64
            .decode(b64)
            .map_err(|_| Error::MalformedKey("signer key is not base64"))?,
    );
    let seed: Zeroizing<[u8; 32]> = match raw.split_first() {
        Some((&t, seed)) if t == sig_type => Zeroizing::new(
            seed.try_into()
                .map_err(|_| Error::MalformedKey("Ed25519 seed is not 32 bytes"))?,
        ),
        Some(_) => return Err(Error::MalformedKey("unsupported signature type")),
        None => return Err(Error::MalformedKey("empty signer key")),
    };
    let key = SigningKey::from_bytes(&seed);
    if key_id(name, sig_type, key.verifying_key().as_bytes()) != id {
        return Err(Error::MalformedKey("key id does not match the key"));
    }
    Ok((name, key))
}

/// Parses a vkey `<name>+<hex key id>+<base64(sig_type || 32-byte Ed25519 public key)>` of the given signature
/// type (another type is refused with `wrong_type`), checking the key id against the key. Shared by note
/// verifiers and cosignature verifiers, as [`parse_signer_key`] is by their signers.
pub(crate) fn parse_vkey<'a>(
    text: &'a str,
    sig_type: u8,
    wrong_type: &'static str,
) -> Result<(&'a str, VerifyingKey), Error> {
    let (name, hex, b64) =
        split_key_text(text.trim_end()).ok_or(Error::MalformedKey("vkey needs name+id+key"))?;
    let id = parse_key_id(hex)?;
    let raw = BASE64
        .decode(b64)
        .map_err(|_| Error::MalformedKey("vkey key is not base64"))?;
    let key = match raw.split_first() {
        Some((&t, public)) if t == sig_type => {
            let public: &[u8; 32] = public
                .try_into()
                .map_err(|_| Error::MalformedKey("Ed25519 public key is not 32 bytes"))?;
            VerifyingKey::from_bytes(public)
                .map_err(|_| Error::MalformedKey("invalid Ed25519 key"))?
        }
        Some(_) => return Err(Error::MalformedKey(wrong_type)),
        None => return Err(Error::MalformedKey("empty vkey key")),
    };
    if key_id(name, sig_type, key.as_bytes()) != id {
        return Err(Error::MalformedKey("key id does not match the key"));
    }
    Ok((name, key))
}

/// The signer-key text of `key` under `name` and signature type `sig_type`. Secret.
pub(crate) fn format_signer_key(name: &str, sig_type: u8, key: &SigningKey) -> Zeroizing<String> {
    let mut raw = Zeroizing::new([0u8; 33]);
    raw[0] = sig_type;
    raw[1..].copy_from_slice(key.as_bytes());
    let b64 = Zeroizing::new(BASE64.encode(raw.as_slice()));
    let id = format!(
        "{:08x}",
        key_id(name, sig_type, key.verifying_key().as_bytes())
    );
    // Reserve up front so no reallocation leaves a copy of the secret behind.
    let mut text = Zeroizing::new(String::with_capacity(
        12 + name.len() + 1 + id.len() + 1 + b64.len(),
    ));
    for part in ["PRIVATE+KEY+", name, "+", &id, "+", b64.as_str()] {
        text.push_str(part);
    }
    text
}

fn split_key_text(text: &str) -> Option<(&str, &str, &str)> {
    let (name, rest) = text.split_once('+')?;
    let (id, b64) = rest.split_once('+')?;
    Some((name, id, b64))
}

/// An Ed25519 note signing key with its key name. Zeroized on drop (dalek's `SigningKey`); no `Debug`.
pub struct NoteSigner {
    name: String,
    key_id: u32,
    key: SigningKey,
}

impl NoteSigner {
    /// A new random signer named `name` (a schema-less URL is recommended, e.g. `example.com/log`).
    pub fn generate(name: &str) -> Result<Self, Error> {
        Self::from_key(name, SigningKey::generate(&mut rand::rng()))
    }

    /// A signer using an existing Ed25519 key.
    pub fn from_key(name: &str, key: SigningKey) -> Result<Self, Error> {
        if !valid_name(name) {
            return Err(Error::MalformedKey("invalid key name"));
        }
        let key_id = key_id(name, TYPE_ED25519, key.verifying_key().as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            key,
        })
    }

    /// Parses the signer key text `PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || 32-byte seed)>`
    /// (the golang.org/x/mod/sumdb/note format). The key id must match the key.
    pub fn from_signer_key(text: &str) -> Result<Self, Error> {
        let (name, key) = parse_signer_key(text, TYPE_ED25519)?;
        Self::from_key(name, key)
    }

    /// The Ed25519 key itself, for a service that signs other messages (domain-separated) with it.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The signer key text (see [`NoteSigner::from_signer_key`]). It is secret: store it like a private key.
    pub fn to_signer_key(&self) -> Zeroizing<String> {
        format_signer_key(&self.name, TYPE_ED25519, &self.key)
    }

    /// The key name written in signature lines.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key id written at the start of each signature.
    pub fn key_id(&self) -> u32 {
        self.key_id
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key_id: self.key_id,
            key: VerifierKey::Ed25519(self.key.verifying_key()),
        }
    }

    /// One signature line's base64 payload: key id || Ed25519 signature of the note text.
    fn signature_payload(&self, text: &str) -> String {
        let sig = self.key.sign(text.as_bytes());
        let mut raw = Vec::with_capacity(4 + 64);
        raw.extend_from_slice(&self.key_id.to_be_bytes());
        raw.extend_from_slice(&sig.to_bytes());
        BASE64.encode(raw)
    }
}

/// The public key material of a verifier, by signature type.
///
/// Adding a signature type (e.g. C2SP tlog-cosignature, type 0x04, whose signed message is derived from the note
/// text) means adding a variant here and its branches in `from_vkey`, `to_vkey` and `verify`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum VerifierKey {
    /// Type 0x01: Ed25519 over the note text.
    Ed25519(VerifyingKey),
}

impl VerifierKey {
    fn signature_type(&self) -> u8 {
        match self {
            Self::Ed25519(_) => TYPE_ED25519,
        }
    }

    fn public_bytes(&self) -> &[u8] {
        match self {
            Self::Ed25519(key) => key.as_bytes(),
        }
    }

    /// Whether `sig` (without the key id) is a valid signature of `text`.
    fn verify(&self, text: &[u8], sig: &[u8]) -> bool {
        match self {
            Self::Ed25519(key) => {
                Signature::from_slice(sig).is_ok_and(|sig| key.verify_strict(text, &sig).is_ok())
            }
        }
    }
}

/// A note verifier key: name, key id and public key (C2SP signed-note "Verifier keys").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key_id: u32,
    key: VerifierKey,
}

impl NoteVerifier {
    /// An Ed25519 verifier for `name`.
    pub fn ed25519(name: &str, key: VerifyingKey) -> Result<Self, Error> {
        if !valid_name(name) {
            return Err(Error::MalformedKey("invalid key name"));
        }
        let key_id = key_id(name, TYPE_ED25519, key.as_bytes());
        Ok(Self {
            name: name.to_owned(),
            key_id,
            key: VerifierKey::Ed25519(key),
        })
    }

    /// Parses a vkey `<name>+<hex key id>+<base64(signature type || public key)>`. The key id must match.
    pub fn from_vkey(vkey: &str) -> Result<Self, Error> {
        let (name, key) = parse_vkey(vkey, TYPE_ED25519, "unsupported signature type")?;
        Self::ed25519(name, key)
    }

    /// The vkey text (see [`NoteVerifier::from_vkey`]).
    pub fn to_vkey(&self) -> String {
        let mut raw = vec![self.key.signature_type()];
        raw.extend_from_slice(self.key.public_bytes());
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

    /// The signature type byte (0x01 for Ed25519).
    pub fn signature_type(&self) -> u8 {
        self.key.signature_type()
    }
}

/// One signature line of a note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key id (first four bytes of the decoded signature, big-endian).
    pub key_id: u32,
    /// The signature bytes after the key id.
    pub signature: Vec<u8>,
}

/// An opened note: its text and its signatures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    /// The note text, including its final newline (not the blank separator line).
    pub text: String,
    /// Signatures by known keys, all verified (at least one), in note order, duplicates dropped.
    pub verified: Vec<NoteSignature>,
    /// Signatures by unknown keys, not verified, in note order, duplicates dropped.
    pub unknown: Vec<NoteSignature>,
}

/// Checks the text rules of signed-note "Format": ends in newline, no control characters but newline.
fn check_text(text: &str) -> Result<(), Error> {
    if !text.ends_with('\n') {
        return Err(Error::MalformedNote("text does not end in a newline"));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(Error::MalformedNote("control character in note"));
    }
    Ok(())
}

/// Signs `text` with every signer and returns the signed note.
///
/// `text` must end in a newline and contain no control characters other than newline. Ed25519 is deterministic,
/// so the output is a pure function of text and keys.
pub fn sign_note(text: &str, signers: &[&NoteSigner]) -> Result<String, Error> {
    check_text(text)?;
    if signers.is_empty() {
        return Err(Error::MalformedNote("a note needs at least one signature"));
    }
    if signers.len() > MAX_SIGNATURES {
        return Err(Error::TooManySignatures(MAX_SIGNATURES));
    }
    let mut note = String::with_capacity(text.len() + 1 + signers.len() * 100);
    note.push_str(text);
    note.push('\n');
    for signer in signers {
        note.push_str(SIG_PREFIX);
        note.push_str(&signer.name);
        note.push(' ');
        note.push_str(&signer.signature_payload(text));
        note.push('\n');
    }
    Ok(note)
}

/// Parses one signature line (without its newline): `— <name> <base64(key id || signature)>`.
fn parse_signature_line(line: &str) -> Result<NoteSignature, Error> {
    let rest = line.strip_prefix(SIG_PREFIX).ok_or(Error::MalformedNote(
        "signature line does not start with em dash",
    ))?;
    let (name, b64) = rest
        .split_once(' ')
        .ok_or(Error::MalformedNote("signature line has no signature"))?;
    if !valid_name(name) {
        return Err(Error::MalformedNote("invalid key name in signature line"));
    }
    let raw = BASE64
        .decode(b64)
        .map_err(|_| Error::MalformedNote("signature is not base64"))?;
    // A key id and at least one signature byte.
    let (Some(id), Some(signature)) = (raw.get(..4), raw.get(4..).filter(|s| !s.is_empty())) else {
        return Err(Error::MalformedNote("signature too short"));
    };
    let key_id = u32::from_be_bytes(id.try_into().expect("slice of four"));
    Ok(NoteSignature {
        name: name.to_owned(),
        key_id,
        signature: signature.to_vec(),
    })
}

/// Opens a signed note: checks its format and verifies the signatures of known keys.
///
/// Enforces C2SP signed-note: valid UTF-8 without control characters other than newline; text ending in a
/// newline, separated from the signatures by the last blank line; each signature line well formed; at most
/// [`MAX_SIGNATURES`] signatures. Signatures from unknown keys (name and id not both matching a verifier) are
/// kept unverified. A known key's signature that fails is an error, and at least one must verify.
pub fn open_note(bytes: &[u8], verifiers: &[NoteVerifier]) -> Result<Note, Error> {
    let msg = std::str::from_utf8(bytes).map_err(|_| Error::MalformedNote("not valid UTF-8"))?;
    if msg.chars().any(|c| c < ' ' && c != '\n') {
        return Err(Error::MalformedNote("control character in note"));
    }
    let split = msg
        .rfind("\n\n")
        .ok_or(Error::MalformedNote("no blank line before the signatures"))?;
    // The text keeps its final newline; the blank line's newline is dropped.
    let (text, sigs) = msg.split_at(split + 1);
    let sigs = sigs
        .strip_prefix('\n')
        .and_then(|s| s.strip_suffix('\n'))
        .ok_or(Error::MalformedNote("signatures do not end in a newline"))?;
    if sigs.is_empty() {
        return Err(Error::MalformedNote("no signatures"));
    }

    let mut note = Note {
        text: text.to_owned(),
        verified: Vec::new(),
        unknown: Vec::new(),
    };
    for (count, line) in sigs.split('\n').enumerate() {
        if count >= MAX_SIGNATURES {
            return Err(Error::TooManySignatures(MAX_SIGNATURES));
        }
        let sig = parse_signature_line(line)?;
        match verifiers
            .iter()
            .find(|v| v.name == sig.name && v.key_id == sig.key_id)
        {
            // Every known-key signature is checked, even a repeat, so a forged copy cannot hide behind a good one.
            Some(verifier) => {
                if !verifier.key.verify(text.as_bytes(), &sig.signature) {
                    return Err(Error::BadNoteSignature(sig.name));
                }
                if !note.verified.contains(&sig) {
                    note.verified.push(sig);
                }
            }
            None => {
                if !note.unknown.contains(&sig) {
                    note.unknown.push(sig);
                }
            }
        }
    }
    if note.verified.is_empty() {
        return Err(Error::NoKnownSignature);
    }
    Ok(note)
}

#[cfg(test)]
mod tests;
