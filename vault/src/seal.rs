//! Body encryption: AES-256-GCM under a fresh per-certificate data key, bound to the certificate id and
//! its document commitment (docs/formats.md, "Body ciphertext").

use aes_gcm::aead::{AeadInOut, KeyInit, inout::InOutBuf};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use ledger::Hash;
use rand::Rng;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{CertId, Error, MasterSalt, Result};

/// The version byte that starts every body ciphertext.
pub const BODY_VERSION: u8 = 1;
/// Domain tag opening the associated data of a body ciphertext.
const BODY_AAD_TAG: &[u8] = b"tradeledger/body/v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;
const SALT_LEN: usize = 32;
/// The shortest body ciphertext: version, nonce, the master salt (sealed with the body) and the tag, for an
/// empty body. Anything shorter cannot open.
pub const MIN_BODY_CIPHERTEXT_LEN: usize = HEADER_LEN + SALT_LEN + TAG_LEN;

/// A certificate's 256-bit AES-256-GCM data key: secret, zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct DataKey([u8; 32]);

impl DataKey {
    /// A fresh random data key (one per certificate; never reused for another body).
    pub fn generate() -> DataKey {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        DataKey(key)
    }

    /// Wraps raw key bytes (from an opened envelope).
    pub fn from_bytes(bytes: [u8; 32]) -> DataKey {
        DataKey(bytes)
    }

    /// The raw key bytes; the one way to read the secret.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }
}

/// The associated data of a body ciphertext: tag || cert id (16) || commitment (32). Binding both means a
/// ciphertext cannot be replayed under another certificate or another commitment.
fn body_aad(cert_id: &CertId, commitment: &Hash) -> Vec<u8> {
    let mut aad = Vec::with_capacity(BODY_AAD_TAG.len() + 16 + 32);
    aad.extend_from_slice(BODY_AAD_TAG);
    aad.extend_from_slice(cert_id.as_bytes());
    aad.extend_from_slice(commitment);
    aad
}

/// Seals a certificate body: `0x01 || nonce (12) || AES-256-GCM(master salt (32) || body) || tag (16)`.
///
/// `body` is the canonical JSON of the certificate; `commitment` its document commitment.
pub fn seal_body(
    cert_id: &CertId,
    body: &[u8],
    master_salt: &MasterSalt,
    commitment: &Hash,
    key: &DataKey,
) -> Result<Vec<u8>> {
    let mut nonce = Nonce::default();
    rand::rng().fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(HEADER_LEN + SALT_LEN + body.len() + TAG_LEN);
    out.push(BODY_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(master_salt.expose_secret());
    out.extend_from_slice(body);
    let plaintext = out.get_mut(HEADER_LEN..).ok_or(Error::EncryptionFailed)?;
    // In place, so no plaintext copy is left behind in a second buffer.
    let tag = key
        .cipher()
        .encrypt_inout_detached(
            &nonce,
            &body_aad(cert_id, commitment),
            InOutBuf::from(plaintext),
        )
        .map_err(|_| Error::EncryptionFailed)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// A decrypted body: the master salt and the body bytes, both zeroized on drop.
pub struct OpenedBody {
    /// The master salt of the document commitment.
    pub master_salt: MasterSalt,
    /// The body bytes (canonical JSON).
    pub body: Zeroizing<Vec<u8>>,
}

/// Opens a body ciphertext made by [`seal_body`]. Every failure is [`Error::DecryptionFailed`].
pub fn open_body(
    cert_id: &CertId,
    commitment: &Hash,
    key: &DataKey,
    ciphertext: &[u8],
) -> Result<OpenedBody> {
    let (&version, rest) = ciphertext.split_first().ok_or(Error::DecryptionFailed)?;
    if version != BODY_VERSION || 1 + rest.len() < MIN_BODY_CIPHERTEXT_LEN {
        return Err(Error::DecryptionFailed);
    }
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let (sealed, tag) = sealed.split_at(sealed.len() - TAG_LEN);
    let nonce = Nonce::try_from(nonce).map_err(|_| Error::DecryptionFailed)?;
    let tag = Tag::try_from(tag).map_err(|_| Error::DecryptionFailed)?;
    let mut plaintext = Zeroizing::new(sealed.to_vec());
    key.cipher()
        .decrypt_inout_detached(
            &nonce,
            &body_aad(cert_id, commitment),
            InOutBuf::from(plaintext.as_mut_slice()),
            &tag,
        )
        .map_err(|_| Error::DecryptionFailed)?;
    let (salt, body) = plaintext.split_at(SALT_LEN);
    let salt: [u8; SALT_LEN] = salt.try_into().map_err(|_| Error::DecryptionFailed)?;
    Ok(OpenedBody {
        master_salt: MasterSalt::from_bytes(salt),
        body: Zeroizing::new(body.to_vec()),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    fn cert(n: u8) -> CertId {
        CertId([n; 16])
    }

    #[test]
    fn seal_then_open_round_trips() {
        let key = DataKey::generate();
        let salt = MasterSalt::generate();
        let sealed = seal_body(&cert(1), b"{\"a\":1}", &salt, &[7; 32], &key).unwrap();
        assert_eq!(sealed.len(), 1 + 12 + 32 + 7 + 16);
        assert_eq!(sealed[0], BODY_VERSION);
        let opened = open_body(&cert(1), &[7; 32], &key, &sealed).unwrap();
        assert_eq!(opened.body.as_slice(), b"{\"a\":1}");
        assert_eq!(opened.master_salt.expose_secret(), salt.expose_secret());
    }

    #[test]
    fn nonces_are_fresh() {
        let key = DataKey::generate();
        let salt = MasterSalt::generate();
        let a = seal_body(&cert(1), b"x", &salt, &[0; 32], &key).unwrap();
        let b = seal_body(&cert(1), b"x", &salt, &[0; 32], &key).unwrap();
        assert_ne!(a[1..13], b[1..13]);
        assert_ne!(a, b);
    }

    #[test]
    fn wrong_binding_or_key_is_refused() {
        let key = DataKey::generate();
        let salt = MasterSalt::generate();
        let sealed = seal_body(&cert(1), b"body", &salt, &[7; 32], &key).unwrap();
        let failures = [
            open_body(&cert(2), &[7; 32], &key, &sealed),
            open_body(&cert(1), &[8; 32], &key, &sealed),
            open_body(&cert(1), &[7; 32], &DataKey::generate(), &sealed),
            open_body(&cert(1), &[7; 32], &key, &sealed[..sealed.len() - 1]),
            open_body(&cert(1), &[7; 32], &key, &[]),
            open_body(&cert(1), &[7; 32], &key, &[BODY_VERSION; 20]),
        ];
        for failure in failures {
            assert!(matches!(failure, Err(Error::DecryptionFailed)));
        }
        let mut other_version = sealed.clone();
        other_version[0] = 2;
        assert!(matches!(
            open_body(&cert(1), &[7; 32], &key, &other_version),
            Err(Error::DecryptionFailed)
        ));
        assert_eq!(Error::DecryptionFailed.to_string(), "decryption failed");
    }

    proptest! {
        #[test]
        fn any_flipped_bit_is_refused(body in proptest::collection::vec(any::<u8>(), 0..300), bit in any::<usize>()) {
            let key = DataKey::generate();
            let salt = MasterSalt::generate();
            let mut sealed = seal_body(&cert(3), &body, &salt, &[1; 32], &key).unwrap();
            let opened = open_body(&cert(3), &[1; 32], &key, &sealed).unwrap();
            prop_assert_eq!(opened.body.as_slice(), body.as_slice());
            let bit = bit % (sealed.len() * 8);
            sealed[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(matches!(open_body(&cert(3), &[1; 32], &key, &sealed), Err(Error::DecryptionFailed)));
        }
    }
}
