//! Envelopes: a certificate's data key and a recipient's grant salt, wrapped for that recipient with HPKE
//! (RFC 9180) base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM (docs/formats.md, "Envelope").

use hpke::aead::AesGcm256;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, OpModeR, OpModeS, Serializable};
use zeroize::Zeroizing;

use crate::{CertId, DataKey, Error, GrantSalt, PartyId, PartyKeys, Result};

/// The version byte that starts every envelope.
pub const ENVELOPE_VERSION: u8 = 1;
/// The length of an envelope: version (1) || enc (32) || HPKE ciphertext of 64 bytes + tag (80).
pub const ENVELOPE_LEN: usize = 1 + ENC_LEN + PLAINTEXT_LEN + 16;
const ENC_LEN: usize = 32;
const PLAINTEXT_LEN: usize = 64;
const INFO_TAG: &[u8] = b"tradeledger/envelope/v1";
const AAD_TAG: &[u8] = b"tradeledger/recipient/v1";

type Kem = X25519HkdfSha256;

/// HPKE `info`: "tradeledger/envelope/v1" || cert id (16). Binds the key schedule to the certificate.
fn info(cert_id: &CertId) -> Vec<u8> {
    [INFO_TAG, cert_id.as_bytes()].concat()
}

/// HPKE AAD: "tradeledger/recipient/v1" || party id bytes. Binds the envelope to its recipient.
fn aad(recipient: &PartyId) -> Vec<u8> {
    [AAD_TAG, recipient.as_str().as_bytes()].concat()
}

/// Wraps `data_key` and `grant_salt` for one recipient, with a fresh ephemeral key per envelope.
///
/// Returns `0x01 || enc (32) || HPKE ciphertext (80)`.
pub fn wrap(
    cert_id: &CertId,
    recipient: &PartyId,
    recipient_key: &x25519_dalek::PublicKey,
    data_key: &DataKey,
    grant_salt: &GrantSalt,
) -> Result<Vec<u8>> {
    let pk = <Kem as hpke::Kem>::PublicKey::from_bytes(recipient_key.as_bytes())
        .map_err(|_| Error::EncryptionFailed)?;
    let mut plaintext = Zeroizing::new([0u8; PLAINTEXT_LEN]);
    plaintext[..32].copy_from_slice(data_key.expose_secret());
    plaintext[32..].copy_from_slice(grant_salt.expose_secret());
    // The crate's sealing draws the ephemeral from the OS generator: forward secrecy per envelope.
    let (enc, ciphertext) = hpke::single_shot_seal::<AesGcm256, HkdfSha256, Kem>(
        &OpModeS::Base,
        &pk,
        &info(cert_id),
        plaintext.as_slice(),
        &aad(recipient),
    )
    .map_err(|_| Error::EncryptionFailed)?;
    let mut envelope = Vec::with_capacity(ENVELOPE_LEN);
    envelope.push(ENVELOPE_VERSION);
    envelope.extend_from_slice(&enc.to_bytes());
    envelope.extend_from_slice(&ciphertext);
    debug_assert_eq!(envelope.len(), ENVELOPE_LEN);
    Ok(envelope)
}

/// Opens an envelope addressed to `keys`' party for `cert_id`. Every failure (wrong recipient, wrong
/// certificate, wrong key, malformed or tampered bytes) is [`Error::DecryptionFailed`].
pub fn unwrap(cert_id: &CertId, keys: &PartyKeys, envelope: &[u8]) -> Result<(DataKey, GrantSalt)> {
    if envelope.len() != ENVELOPE_LEN {
        return Err(Error::DecryptionFailed);
    }
    let (&version, rest) = envelope.split_first().ok_or(Error::DecryptionFailed)?;
    if version != ENVELOPE_VERSION {
        return Err(Error::DecryptionFailed);
    }
    let (enc, ciphertext) = rest.split_at(ENC_LEN);
    let enc =
        <Kem as hpke::Kem>::EncappedKey::from_bytes(enc).map_err(|_| Error::DecryptionFailed)?;
    let sk = <Kem as hpke::Kem>::PrivateKey::from_bytes(keys.encryption_secret().as_bytes())
        .map_err(|_| Error::DecryptionFailed)?;
    let plaintext = Zeroizing::new(
        hpke::single_shot_open::<AesGcm256, HkdfSha256, Kem>(
            &OpModeR::Base,
            &sk,
            &enc,
            &info(cert_id),
            ciphertext,
            &aad(keys.id()),
        )
        .map_err(|_| Error::DecryptionFailed)?,
    );
    let (key, salt) = plaintext
        .split_at_checked(32)
        .ok_or(Error::DecryptionFailed)?;
    let key: [u8; 32] = key.try_into().map_err(|_| Error::DecryptionFailed)?;
    let salt: [u8; 32] = salt.try_into().map_err(|_| Error::DecryptionFailed)?;
    Ok((DataKey::from_bytes(key), GrantSalt::from_bytes(salt)))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::Role;

    fn party(id: &str) -> PartyKeys {
        PartyKeys::generate(PartyId::new(id).unwrap(), Role::Customs)
    }

    #[test]
    fn wrap_then_unwrap_recovers_key_and_salt() {
        let cbp = party("cbp");
        let cert = CertId::random();
        let key = DataKey::generate();
        let salt = GrantSalt::generate();
        let env = wrap(&cert, cbp.id(), &cbp.public().encryption_key, &key, &salt).unwrap();
        assert_eq!(env.len(), ENVELOPE_LEN);
        let (got_key, got_salt) = unwrap(&cert, &cbp, &env).unwrap();
        assert_eq!(got_key.expose_secret(), key.expose_secret());
        assert_eq!(got_salt.expose_secret(), salt.expose_secret());
        let again = wrap(&cert, cbp.id(), &cbp.public().encryption_key, &key, &salt).unwrap();
        assert_ne!(env[1..33], again[1..33], "a fresh ephemeral per envelope");
    }

    #[test]
    fn every_failure_is_the_same_coarse_error() {
        let cbp = party("cbp");
        let cert = CertId::random();
        let env = wrap(
            &cert,
            cbp.id(),
            &cbp.public().encryption_key,
            &DataKey::generate(),
            &GrantSalt::generate(),
        )
        .unwrap();
        // Same X25519 secret, other party id: the AAD no longer matches.
        let impostor = PartyKeys::from_secret_bytes(
            PartyId::new("cbq").unwrap(),
            Role::Customs,
            cbp.signing_key().as_bytes(),
            cbp.encryption_secret().to_bytes(),
        );
        let mut flipped = env.clone();
        flipped[40] ^= 1;
        let mut versioned = env.clone();
        versioned[0] = 2;
        let failures = [
            unwrap(&CertId::random(), &cbp, &env),
            unwrap(&cert, &party("cbp"), &env),
            unwrap(&cert, &impostor, &env),
            unwrap(&cert, &cbp, &flipped),
            unwrap(&cert, &cbp, &versioned),
            unwrap(&cert, &cbp, &env[..env.len() - 1]),
            unwrap(&cert, &cbp, &[]),
        ];
        for failure in failures {
            assert!(matches!(failure, Err(Error::DecryptionFailed)));
        }
    }
}
