//! Party key pairs (Ed25519 signing + X25519 encryption), the secret key file and the public `.pub` file
//! (docs/formats.md, "Key file" and ".pub file").

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ed25519_dalek::{SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use crate::{Error, PartyId, Result, Role};

const KEY_FILE_HEADER: &str = "tradeledger-party-key/v1";
/// Key files are about 250 bytes; anything much larger is not one.
const MAX_KEY_FILE_LEN: u64 = 4096;
/// Public identity format version in `.pub` files.
const PUB_VERSION: u8 = 1;

/// A party's secret keys. Both secrets are zeroized on drop (dalek's own `Drop`); there is deliberately
/// no `Debug` or `Display`, and the secrets are read only through [`PartyKeys::signing_key`] and
/// [`PartyKeys::encryption_secret`].
pub struct PartyKeys {
    id: PartyId,
    role: Role,
    signing: SigningKey,
    encryption: StaticSecret,
}

impl PartyKeys {
    /// Fresh random keys for a party.
    pub fn generate(id: PartyId, role: Role) -> PartyKeys {
        let mut rng = rand::rng();
        PartyKeys {
            id,
            role,
            signing: SigningKey::generate(&mut rng),
            encryption: StaticSecret::random_from_rng(&mut rng),
        }
    }

    /// Keys from their raw secret bytes (the Ed25519 seed and the X25519 scalar).
    pub fn from_secret_bytes(
        id: PartyId,
        role: Role,
        signing_seed: &[u8; 32],
        encryption_secret: [u8; 32],
    ) -> PartyKeys {
        PartyKeys {
            id,
            role,
            signing: SigningKey::from_bytes(signing_seed),
            encryption: StaticSecret::from(encryption_secret),
        }
    }

    /// The party's id.
    pub fn id(&self) -> &PartyId {
        &self.id
    }

    /// The party's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The Ed25519 signing key (secret).
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing
    }

    /// The X25519 encryption secret (secret) that opens envelopes addressed to this party.
    pub fn encryption_secret(&self) -> &StaticSecret {
        &self.encryption
    }

    /// The public identity matching these keys.
    pub fn public(&self) -> PartyPublic {
        PartyPublic {
            id: self.id.clone(),
            role: self.role,
            signing_key: self.signing.verifying_key(),
            encryption_key: PublicKey::from(&self.encryption),
        }
    }

    /// Writes the key file, created with mode 0600; refuses to overwrite an existing file.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let text = Zeroizing::new(format!(
            "{KEY_FILE_HEADER}\nparty {}\nrole {}\nsigning {}\nencryption {}\n",
            self.id,
            self.role,
            Zeroizing::new(hex::encode(self.signing.as_bytes())).as_str(),
            Zeroizing::new(hex::encode(self.encryption.as_bytes())).as_str(),
        ));
        // Whole or absent after a crash, and never over an existing file.
        ledger::durable::write_new(path, text.as_bytes()).map_err(io)
    }

    /// Reads a key file. A file whose mode grants anything to group or others is refused before it is
    /// read; errors name the path and the mode, never the contents.
    pub fn load(path: &Path) -> Result<PartyKeys> {
        let io = |source| Error::Io {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(io)?;
        // fstat on the open handle, so the file checked is the file read.
        let metadata = file.metadata().map_err(io)?;
        let mode = metadata.permissions().mode();
        if mode & 0o077 != 0 {
            return Err(Error::KeyFilePermissions {
                path: path.to_owned(),
                mode: mode & 0o7777,
            });
        }
        if metadata.len() > MAX_KEY_FILE_LEN {
            return Err(Error::KeyFileMalformed {
                path: path.to_owned(),
                reason: "larger than any key file",
            });
        }
        // Sized up front so the secret text is never reallocated, leaving unzeroized copies behind.
        let capacity = usize::try_from(MAX_KEY_FILE_LEN).unwrap_or(4096) + 1;
        let mut text = Zeroizing::new(String::with_capacity(capacity));
        file.take(MAX_KEY_FILE_LEN)
            .read_to_string(&mut text)
            .map_err(|_| Error::KeyFileMalformed {
                path: path.to_owned(),
                reason: "not UTF-8 text",
            })?;
        parse_key_file(&text).map_err(|reason| Error::KeyFileMalformed {
            path: path.to_owned(),
            reason,
        })
    }
}

fn parse_key_file(text: &str) -> std::result::Result<PartyKeys, &'static str> {
    let mut lines = text.lines();
    if lines.next() != Some(KEY_FILE_HEADER) {
        return Err("missing the tradeledger-party-key/v1 header");
    }
    let mut field = |name: &'static str, missing: &'static str| {
        lines
            .next()
            .and_then(|line| line.strip_prefix(name))
            .and_then(|rest| rest.strip_prefix(' '))
            .ok_or(missing)
    };
    let id = PartyId::new(field("party", "missing or misplaced party line")?)
        .map_err(|_| "invalid party id")?;
    let role = field("role", "missing or misplaced role line")?
        .parse()
        .map_err(|_| "unknown role")?;
    let signing = decode_secret(field("signing", "missing or misplaced signing line")?)
        .ok_or("signing key is not 64 hex digits")?;
    let encryption = decode_secret(field("encryption", "missing or misplaced encryption line")?)
        .ok_or("encryption key is not 64 hex digits")?;
    if lines.any(|line| !line.is_empty()) {
        return Err("unexpected trailing lines");
    }
    Ok(PartyKeys::from_secret_bytes(
        id,
        role,
        &signing,
        *encryption,
    ))
}

fn decode_secret(text: &str) -> Option<Zeroizing<[u8; 32]>> {
    let mut bytes = Zeroizing::new([0u8; 32]);
    hex::decode_to_slice(text, bytes.as_mut_slice()).ok()?;
    Some(bytes)
}

/// A party's public identity: what the operator enrolls on the log and what senders encrypt to.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(try_from = "PubFile", into = "PubFile")]
pub struct PartyPublic {
    /// The party's id.
    pub id: PartyId,
    /// The party's role.
    pub role: Role,
    /// Its Ed25519 signature verification key.
    pub signing_key: VerifyingKey,
    /// Its X25519 encryption public key.
    pub encryption_key: PublicKey,
}

/// The `.pub` file's JSON shape.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PubFile {
    version: u8,
    party: String,
    role: String,
    signing_key: String,
    encryption_key: String,
}

impl From<PartyPublic> for PubFile {
    fn from(public: PartyPublic) -> PubFile {
        PubFile {
            version: PUB_VERSION,
            party: public.id.to_string(),
            role: public.role.to_string(),
            signing_key: hex::encode(public.signing_key.as_bytes()),
            encryption_key: hex::encode(public.encryption_key.as_bytes()),
        }
    }
}

impl TryFrom<PubFile> for PartyPublic {
    type Error = Error;

    fn try_from(file: PubFile) -> Result<PartyPublic> {
        let malformed = |reason: &str| Error::Malformed {
            what: "public identity",
            reason: reason.to_owned(),
        };
        if file.version != PUB_VERSION {
            return Err(malformed("unsupported version"));
        }
        let mut signing = [0u8; 32];
        hex::decode_to_slice(&file.signing_key, &mut signing)
            .map_err(|_| malformed("signing_key is not 64 hex digits"))?;
        let mut encryption = [0u8; 32];
        hex::decode_to_slice(&file.encryption_key, &mut encryption)
            .map_err(|_| malformed("encryption_key is not 64 hex digits"))?;
        Ok(PartyPublic {
            id: PartyId::new(&file.party).map_err(|_| malformed("invalid party id"))?,
            role: file.role.parse().map_err(|_| malformed("unknown role"))?,
            signing_key: VerifyingKey::from_bytes(&signing)
                .map_err(|_| malformed("signing_key is not an Ed25519 point"))?,
            encryption_key: PublicKey::from(encryption),
        })
    }
}

impl PartyPublic {
    /// The `.pub` file text (JSON, one object, trailing newline).
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(&PubFile::from(self.clone()))
            .unwrap_or_else(|_| unreachable!("a struct of strings always serializes"));
        text.push('\n');
        text
    }

    /// Parses `.pub` file text.
    pub fn from_json(text: &str) -> Result<PartyPublic> {
        serde_json::from_str(text).map_err(|e| Error::Malformed {
            what: "public identity",
            reason: e.to_string(),
        })
    }

    /// Writes the `.pub` file (public: mode 0644), atomically and durably.
    pub fn save(&self, path: &Path) -> Result<()> {
        ledger::durable::write_atomic_public(path, self.to_json().as_bytes(), 0o644).map_err(
            |source| Error::Io {
                path: path.to_owned(),
                source,
            },
        )
    }

    /// Reads a `.pub` file.
    pub fn load(path: &Path) -> Result<PartyPublic> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        PartyPublic::from_json(&text)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn keys() -> PartyKeys {
        PartyKeys::generate(PartyId::new("acme").unwrap(), Role::Importer)
    }

    #[test]
    fn key_file_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme.key");
        let keys = keys();
        keys.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let loaded = PartyKeys::load(&path).unwrap();
        assert_eq!(loaded.id(), keys.id());
        assert_eq!(loaded.role(), Role::Importer);
        assert_eq!(
            loaded.signing_key().as_bytes(),
            keys.signing_key().as_bytes()
        );
        assert_eq!(
            loaded.encryption_secret().as_bytes(),
            keys.encryption_secret().as_bytes()
        );
        assert_eq!(loaded.public(), keys.public());
        assert!(
            matches!(keys.save(&path), Err(Error::Io { .. })),
            "never overwrites a key"
        );
    }

    #[test]
    fn world_readable_key_file_is_refused_without_leaking_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme.key");
        let keys = keys();
        keys.save(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = PartyKeys::load(&path).err().unwrap();
        assert!(matches!(err, Error::KeyFilePermissions { mode: 0o644, .. }));
        let shown = format!("{err} {err:?}");
        assert!(
            shown.contains("acme.key") && shown.contains("644"),
            "{shown}"
        );
        let secret = hex::encode(keys.encryption_secret().as_bytes());
        assert!(!shown.contains(&secret) && !shown.contains(&secret[..16]));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            PartyKeys::load(&path),
            Err(Error::KeyFilePermissions { .. })
        ));
    }

    #[test]
    fn malformed_key_file_errors_never_quote_the_contents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.key");
        let secret = "ab".repeat(31) + "zz";
        let text = format!(
            "{KEY_FILE_HEADER}\nparty acme\nrole importer\nsigning {secret}\nencryption {secret}\n"
        );
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        let err = PartyKeys::load(&path).err().unwrap();
        let shown = format!("{err} {err:?}");
        assert!(matches!(err, Error::KeyFileMalformed { .. }));
        assert!(!shown.contains(&secret[..20]), "{shown}");
    }

    #[test]
    fn pub_file_round_trips_and_is_validated() {
        let public = keys().public();
        let text = public.to_json();
        assert_eq!(PartyPublic::from_json(&text).unwrap(), public);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("acme.pub");
        public.save(&path).unwrap();
        assert_eq!(PartyPublic::load(&path).unwrap(), public);
        let bad_version = text.replace("\"version\": 1", "\"version\": 2");
        assert!(PartyPublic::from_json(&bad_version).is_err());
        let bad_key = text.replace(&hex::encode(public.signing_key.as_bytes()), "00");
        assert!(PartyPublic::from_json(&bad_key).is_err());
    }
}
