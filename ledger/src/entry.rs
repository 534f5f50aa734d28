//! Log entries: typed, versioned, deterministic binary encoding, signed by the party that made them.
//!
//! The byte layout is specified in docs/formats.md ("Ledger formats", "Entry encoding"). Entries hold only ids,
//! public keys, hashes, commitments, timestamps and signatures: never free text.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::error::Error;
use crate::ids::{CertId, PartyId, Role};
use crate::merkle::{Hash, leaf_hash};

/// The encoding version written first in every entry.
pub const ENTRY_VERSION: u8 = 0x01;
/// The largest encoded entry: C2SP tlog-tiles entry bundles prefix each entry with a u16 length.
pub const MAX_ENTRY_SIZE: usize = 65535;
/// The most grant commitments one registration carries.
pub const MAX_GRANTS: usize = 64;
/// The most releases one access receipt of kind `0x09` lists (48 bytes each: the entry stays under
/// [`MAX_ENTRY_SIZE`]).
pub const MAX_RELEASES: usize = 1024;
/// Prefix of the message an entry signature covers, separating it from every other Ed25519 use of the key.
pub const ENTRY_SIGNATURE_DOMAIN: &[u8] = b"tradeledger/entry/v1\n";
/// Prefix of the message a party's previous key signs to consent to a rotation ([`rotation_consent_message`]).
pub const ROTATION_CONSENT_DOMAIN: &[u8] = b"tradeledger/rotation/v1\n";

const KIND_ENROLLMENT: u8 = 0x01;
const KIND_REGISTRATION: u8 = 0x02;
const KIND_GRANT: u8 = 0x03;
const KIND_REVOCATION: u8 = 0x04;
const KIND_PURGE: u8 = 0x05;
const KIND_ACCESS_RECEIPT: u8 = 0x06;
const KIND_ROTATION: u8 = 0x07;
const KIND_SEALED_REGISTRATION: u8 = 0x08;
const KIND_ACCESS_RECEIPTS: u8 = 0x09;

/// One envelope release recorded by an [`Entry::AccessReceipts`]: the certificate and the grant commitment
/// it was released under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Release {
    /// The certificate.
    pub cert_id: CertId,
    /// The grant under which the envelope was released.
    pub grant: Hash,
}

/// The content of a log entry. New kinds get new kind codes; existing layouts never change within a version.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Entry {
    /// The operator enrolls a party: its role and public keys (key transparency).
    Enrollment {
        /// The enrolled party.
        party: PartyId,
        /// Its role.
        role: Role,
        /// Its Ed25519 public signing key.
        signing_key: [u8; 32],
        /// Its X25519 public encryption key.
        encryption_key: [u8; 32],
        /// For a key rotation, the party's previous signing key; `None` for a first enrollment.
        replaces: Option<[u8; 32]>,
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
    },
    /// A party registers a certificate: its document commitment and its initial readers' grant commitments.
    Registration {
        /// The certificate.
        cert_id: CertId,
        /// The salted document commitment (Merkle root over the certificate's fields).
        commitment: Hash,
        /// The registering party.
        registrant: PartyId,
        /// Grant commitments of the initial recipients (at most [`MAX_GRANTS`]).
        grants: Vec<Hash>,
        /// The digest of the sealed body the registration uploads (ciphertext and envelopes), which makes the
        /// entry's signature bind them (kind `0x08`); `None` for the original layout (kind `0x02`), whose
        /// uploads only the request signature binds. The digest's definition is the service's, not the log's
        /// (docs/formats.md, "Sealed digest").
        sealed: Option<Hash>,
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
    },
    /// The registrant grants one more reader access.
    Grant {
        /// The certificate.
        cert_id: CertId,
        /// The new grant commitment.
        grant: Hash,
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
    },
    /// The registrant revokes a grant.
    Revocation {
        /// The certificate.
        cert_id: CertId,
        /// The revoked grant commitment.
        grant: Hash,
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
    },
    /// The registrant purges the certificate body from the vault.
    Purge {
        /// The certificate.
        cert_id: CertId,
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
    },
    /// The log service records that a grantee's envelope was released.
    AccessReceipt {
        /// The certificate.
        cert_id: CertId,
        /// The grant under which the envelope was released.
        grant: Hash,
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
    },
    /// The log service records several envelope releases in one entry, signed once (kind `0x09`): the
    /// releases of one group of concurrent opens. Each release means what one [`Entry::AccessReceipt`] means.
    AccessReceipts {
        /// The releases, 1 to [`MAX_RELEASES`], in the order the opens reached the log.
        releases: Vec<Release>,
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
    },
    /// The operator records that a party replaced its keys; the party's previous signing key consents.
    ///
    /// The entry is signed by the operator (as every enrollment is); `consent` is the previous key's signature
    /// over [`rotation_consent_message`], so the log itself shows both agreed.
    Rotation {
        /// The party whose keys change.
        party: PartyId,
        /// Its role (unchanged by a rotation).
        role: Role,
        /// Its new Ed25519 public signing key.
        signing_key: [u8; 32],
        /// Its new X25519 public encryption key.
        encryption_key: [u8; 32],
        /// The signing key being replaced: the party's current key when the rotation is appended.
        replaces: [u8; 32],
        /// Ed25519 signature by `replaces` over [`rotation_consent_message`].
        consent: [u8; 64],
        /// Milliseconds since the Unix epoch.
        time_ms: u64,
    },
}

/// What a party's previous key signs to consent to a rotation: [`ROTATION_CONSENT_DOMAIN`], the party id
/// (u16 length-prefixed), the role code, the new signing key, the new encryption key and the replaced key.
///
/// No time is covered: a consent is usable only while `replaces` is the party's current key, and a replaced
/// key never becomes current again, so it cannot be replayed.
pub fn rotation_consent_message(
    party: &PartyId,
    role: Role,
    signing_key: &[u8; 32],
    encryption_key: &[u8; 32],
    replaces: &[u8; 32],
) -> Vec<u8> {
    let mut out = ROTATION_CONSENT_DOMAIN.to_vec();
    put_party(&mut out, party);
    out.push(role.code());
    out.extend_from_slice(signing_key);
    out.extend_from_slice(encryption_key);
    out.extend_from_slice(replaces);
    out
}

impl Entry {
    /// The entry's kind code in the encoding.
    pub fn kind_code(&self) -> u8 {
        match self {
            Entry::Enrollment { .. } => KIND_ENROLLMENT,
            Entry::Registration { sealed: None, .. } => KIND_REGISTRATION,
            Entry::Registration {
                sealed: Some(_), ..
            } => KIND_SEALED_REGISTRATION,
            Entry::Grant { .. } => KIND_GRANT,
            Entry::Revocation { .. } => KIND_REVOCATION,
            Entry::Purge { .. } => KIND_PURGE,
            Entry::AccessReceipt { .. } => KIND_ACCESS_RECEIPT,
            Entry::AccessReceipts { .. } => KIND_ACCESS_RECEIPTS,
            Entry::Rotation { .. } => KIND_ROTATION,
        }
    }

    /// The certificate the entry is about, if it is about one (an [`Entry::AccessReceipts`] lists several:
    /// see [`Entry::releases`]).
    pub fn cert_id(&self) -> Option<CertId> {
        match self {
            Entry::Enrollment { .. } | Entry::Rotation { .. } | Entry::AccessReceipts { .. } => {
                None
            }
            Entry::Registration { cert_id, .. }
            | Entry::Grant { cert_id, .. }
            | Entry::Revocation { cert_id, .. }
            | Entry::Purge { cert_id, .. }
            | Entry::AccessReceipt { cert_id, .. } => Some(*cert_id),
        }
    }

    /// When the entry was made, in milliseconds since the Unix epoch.
    pub fn time_ms(&self) -> u64 {
        match self {
            Entry::Enrollment { time_ms, .. }
            | Entry::Registration { time_ms, .. }
            | Entry::Grant { time_ms, .. }
            | Entry::Revocation { time_ms, .. }
            | Entry::Purge { time_ms, .. }
            | Entry::AccessReceipt { time_ms, .. }
            | Entry::AccessReceipts { time_ms, .. }
            | Entry::Rotation { time_ms, .. } => *time_ms,
        }
    }

    /// The envelope releases an access receipt records: one for kind `0x06`, every listed one for kind
    /// `0x09`; none for other kinds.
    pub fn releases(&self) -> Vec<Release> {
        match self {
            Entry::AccessReceipt { cert_id, grant, .. } => vec![Release {
                cert_id: *cert_id,
                grant: *grant,
            }],
            Entry::AccessReceipts { releases, .. } => releases.clone(),
            _ => Vec::new(),
        }
    }

    /// For a rotation, checks `consent` is the replaced key's signature over [`rotation_consent_message`]
    /// (strict Ed25519). Other kinds carry no consent and are refused.
    pub fn verify_rotation_consent(&self) -> Result<(), Error> {
        let Entry::Rotation {
            party,
            role,
            signing_key,
            encryption_key,
            replaces,
            consent,
            ..
        } = self
        else {
            return Err(Error::MalformedEntry("not a rotation"));
        };
        let old = VerifyingKey::from_bytes(replaces).map_err(|_| Error::BadEntrySignature)?;
        let message = rotation_consent_message(party, *role, signing_key, encryption_key, replaces);
        old.verify_strict(&message, &Signature::from_bytes(consent))
            .map_err(|_| Error::BadEntrySignature)
    }

    /// Appends version, kind and fields.
    fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        out.push(ENTRY_VERSION);
        out.push(self.kind_code());
        match self {
            Entry::Enrollment {
                party,
                role,
                signing_key,
                encryption_key,
                replaces,
                time_ms,
            } => {
                put_party(out, party);
                out.push(role.code());
                out.extend_from_slice(signing_key);
                out.extend_from_slice(encryption_key);
                match replaces {
                    None => out.push(0),
                    Some(key) => {
                        out.push(1);
                        out.extend_from_slice(key);
                    }
                }
                out.extend_from_slice(&time_ms.to_be_bytes());
            }
            Entry::Registration {
                cert_id,
                commitment,
                registrant,
                grants,
                sealed,
                time_ms,
            } => {
                out.extend_from_slice(cert_id.as_bytes());
                out.extend_from_slice(commitment);
                put_party(out, registrant);
                if grants.len() > MAX_GRANTS {
                    return Err(Error::EntryTooLarge("more than 64 grants"));
                }
                let count =
                    u16::try_from(grants.len()).map_err(|_| Error::EntryTooLarge("grant count"))?;
                out.extend_from_slice(&count.to_be_bytes());
                for grant in grants {
                    out.extend_from_slice(grant);
                }
                if let Some(sealed) = sealed {
                    out.extend_from_slice(sealed);
                }
                out.extend_from_slice(&time_ms.to_be_bytes());
            }
            Entry::Grant {
                cert_id,
                grant,
                time_ms,
            }
            | Entry::Revocation {
                cert_id,
                grant,
                time_ms,
            }
            | Entry::AccessReceipt {
                cert_id,
                grant,
                time_ms,
            } => {
                out.extend_from_slice(cert_id.as_bytes());
                out.extend_from_slice(grant);
                out.extend_from_slice(&time_ms.to_be_bytes());
            }
            Entry::Purge { cert_id, time_ms } => {
                out.extend_from_slice(cert_id.as_bytes());
                out.extend_from_slice(&time_ms.to_be_bytes());
            }
            Entry::AccessReceipts { releases, time_ms } => {
                if releases.is_empty() || releases.len() > MAX_RELEASES {
                    return Err(Error::EntryTooLarge("not 1 to 1024 releases"));
                }
                let count = u16::try_from(releases.len())
                    .map_err(|_| Error::EntryTooLarge("release count"))?;
                out.extend_from_slice(&count.to_be_bytes());
                for release in releases {
                    out.extend_from_slice(release.cert_id.as_bytes());
                    out.extend_from_slice(&release.grant);
                }
                out.extend_from_slice(&time_ms.to_be_bytes());
            }
            Entry::Rotation {
                party,
                role,
                signing_key,
                encryption_key,
                replaces,
                consent,
                time_ms,
            } => {
                put_party(out, party);
                out.push(role.code());
                out.extend_from_slice(signing_key);
                out.extend_from_slice(encryption_key);
                out.extend_from_slice(replaces);
                out.extend_from_slice(consent);
                out.extend_from_slice(&time_ms.to_be_bytes());
            }
        }
        Ok(())
    }

    /// Reads version, kind and fields.
    fn decode_from(r: &mut Reader<'_>) -> Result<Self, Error> {
        let version = r.u8()?;
        if version != ENTRY_VERSION {
            return Err(Error::UnknownEntryVersion(version));
        }
        let entry = match r.u8()? {
            KIND_ENROLLMENT => Entry::Enrollment {
                party: r.party()?,
                role: Role::from_code(r.u8()?)?,
                signing_key: r.array()?,
                encryption_key: r.array()?,
                replaces: match r.u8()? {
                    0 => None,
                    1 => Some(r.array()?),
                    _ => return Err(Error::MalformedEntry("replaces flag is not 0 or 1")),
                },
                time_ms: r.u64()?,
            },
            kind @ (KIND_REGISTRATION | KIND_SEALED_REGISTRATION) => Entry::Registration {
                cert_id: CertId(r.array()?),
                commitment: r.array()?,
                registrant: r.party()?,
                grants: {
                    let count = usize::from(r.u16()?);
                    if count > MAX_GRANTS {
                        return Err(Error::EntryTooLarge("more than 64 grants"));
                    }
                    (0..count).map(|_| r.array()).collect::<Result<_, _>>()?
                },
                sealed: match kind {
                    KIND_SEALED_REGISTRATION => Some(r.array()?),
                    _ => None,
                },
                time_ms: r.u64()?,
            },
            KIND_GRANT => Entry::Grant {
                cert_id: CertId(r.array()?),
                grant: r.array()?,
                time_ms: r.u64()?,
            },
            KIND_REVOCATION => Entry::Revocation {
                cert_id: CertId(r.array()?),
                grant: r.array()?,
                time_ms: r.u64()?,
            },
            KIND_PURGE => Entry::Purge {
                cert_id: CertId(r.array()?),
                time_ms: r.u64()?,
            },
            KIND_ACCESS_RECEIPT => Entry::AccessReceipt {
                cert_id: CertId(r.array()?),
                grant: r.array()?,
                time_ms: r.u64()?,
            },
            KIND_ACCESS_RECEIPTS => Entry::AccessReceipts {
                releases: {
                    let count = usize::from(r.u16()?);
                    if count == 0 || count > MAX_RELEASES {
                        return Err(Error::MalformedEntry("not 1 to 1024 releases"));
                    }
                    (0..count)
                        .map(|_| {
                            Ok(Release {
                                cert_id: CertId(r.array()?),
                                grant: r.array()?,
                            })
                        })
                        .collect::<Result<_, Error>>()?
                },
                time_ms: r.u64()?,
            },
            KIND_ROTATION => Entry::Rotation {
                party: r.party()?,
                role: Role::from_code(r.u8()?)?,
                signing_key: r.array()?,
                encryption_key: r.array()?,
                replaces: r.array()?,
                consent: r.array()?,
                time_ms: r.u64()?,
            },
            kind => return Err(Error::UnknownEntryKind(kind)),
        };
        Ok(entry)
    }
}

/// Writes a party id with its u16 big-endian length prefix (a valid id is at most 64 bytes).
fn put_party(out: &mut Vec<u8>, party: &PartyId) {
    let bytes = party.as_str().as_bytes();
    let len = u16::try_from(bytes.len()).expect("a party id is at most 64 bytes");
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

/// A bounds-checked cursor over untrusted bytes.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.rest.len() < n {
            return Err(Error::MalformedEntry("truncated"));
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        self.take(N)?
            .try_into()
            .map_err(|_| Error::MalformedEntry("truncated"))
    }

    fn u8(&mut self) -> Result<u8, Error> {
        Ok(u8::from_be_bytes(self.array()?))
    }

    fn u16(&mut self) -> Result<u16, Error> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_be_bytes(self.array()?))
    }

    fn party(&mut self) -> Result<PartyId, Error> {
        let len = usize::from(self.u16()?);
        if len > crate::ids::MAX_PARTY_ID_LEN {
            return Err(Error::EntryTooLarge("party id longer than 64 bytes"));
        }
        PartyId::from_bytes(self.take(len)?)
    }
}

/// An entry with the signer's party id and Ed25519 signature: the exact unit stored in the log.
///
/// Only [`SignedEntry::sign`] and [`SignedEntry::decode`] build one, so every value encodes validly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedEntry {
    entry: Entry,
    signer: PartyId,
    signature: [u8; 64],
}

impl SignedEntry {
    /// Signs `entry` as `signer`. Fails only if the entry exceeds a limit (e.g. more than [`MAX_GRANTS`] grants).
    pub fn sign(entry: Entry, signer: PartyId, key: &SigningKey) -> Result<Self, Error> {
        let message = signed_message(&entry, &signer)?;
        let signature = key.sign(&message).to_bytes();
        Ok(Self {
            entry,
            signer,
            signature,
        })
    }

    /// Checks the signature against the signer's public key (strict Ed25519: no malleable or weak-key forms).
    pub fn verify(&self, key: &VerifyingKey) -> Result<(), Error> {
        let message = signed_message(&self.entry, &self.signer)?;
        key.verify_strict(&message, &Signature::from_bytes(&self.signature))
            .map_err(|_| Error::BadEntrySignature)
    }

    /// The entry content.
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The party that signed the entry.
    pub fn signer(&self) -> &PartyId {
        &self.signer
    }

    /// The Ed25519 signature.
    pub fn signature(&self) -> &[u8; 64] {
        &self.signature
    }

    /// The canonical encoding: entry fields, signer, signature. These are the bytes stored in the log.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = signed_body(&self.entry, &self.signer)
            .expect("a SignedEntry was checked when it was built");
        out.extend_from_slice(&self.signature);
        out
    }

    /// Decodes an entry, rejecting unknown versions and kinds, invalid or oversize fields and trailing bytes.
    /// Does not check the signature: that needs the signer's enrolled key ([`SignedEntry::verify`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_ENTRY_SIZE {
            return Err(Error::EntryTooLarge("entry longer than 65535 bytes"));
        }
        let mut r = Reader { rest: bytes };
        let entry = Entry::decode_from(&mut r)?;
        let signer = r.party()?;
        let signature = r.array()?;
        if !r.rest.is_empty() {
            return Err(Error::MalformedEntry("trailing bytes"));
        }
        Ok(Self {
            entry,
            signer,
            signature,
        })
    }

    /// The RFC 6962 leaf hash of the encoded entry, as it appears in the log's Merkle tree.
    pub fn leaf_hash(&self) -> Hash {
        leaf_hash(&self.encode())
    }
}

/// The encoding without the signature.
fn signed_body(entry: &Entry, signer: &PartyId) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(256);
    entry.encode_into(&mut out)?;
    put_party(&mut out, signer);
    if out.len() + 64 > MAX_ENTRY_SIZE {
        return Err(Error::EntryTooLarge("entry longer than 65535 bytes"));
    }
    Ok(out)
}

/// What the signature covers: the domain prefix, then the encoding without the signature.
fn signed_message(entry: &Entry, signer: &PartyId) -> Result<Vec<u8>, Error> {
    let mut message = ENTRY_SIGNATURE_DOMAIN.to_vec();
    message.extend_from_slice(&signed_body(entry, signer)?);
    Ok(message)
}

#[cfg(test)]
mod tests;
