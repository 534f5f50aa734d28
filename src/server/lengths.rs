//! The sizes the vault formats fix (docs/formats.md, "Body ciphertext", "Envelope"), checked at the HTTP edge
//! before anything is decided or stored.
//!
//! The service cannot open what it stores, but it can refuse what no client could ever open: an envelope that is
//! not `0x01 || enc (32) || ct (80)`, a body ciphertext shorter than version, nonce, master salt and tag. Without
//! this, a 40-byte junk envelope counted as a customs reader for the "register with customs" rule.

use super::error::ApiError;
use crate::api::EnvelopeUpload;

/// Checks a body ciphertext: version 1 and at least [`vault::MIN_BODY_CIPHERTEXT_LEN`] bytes.
pub(super) fn check_ciphertext(field: &str, ciphertext: &[u8]) -> Result<(), ApiError> {
    let len = ciphertext.len();
    if len < vault::MIN_BODY_CIPHERTEXT_LEN {
        return Err(ApiError::bad_request(
            "bad_ciphertext",
            format!(
                "{field} must be at least {} bytes (version, nonce, salt, tag), got {len}",
                vault::MIN_BODY_CIPHERTEXT_LEN
            ),
        ));
    }
    if ciphertext.first() != Some(&vault::BODY_VERSION) {
        return Err(ApiError::bad_request(
            "bad_ciphertext",
            format!("{field} must start with version {}", vault::BODY_VERSION),
        ));
    }
    Ok(())
}

/// Checks one uploaded envelope: exactly [`vault::ENVELOPE_LEN`] bytes of version 1.
pub(super) fn check_envelope(field: &str, upload: &EnvelopeUpload) -> Result<(), ApiError> {
    let envelope = &upload.envelope.0;
    if envelope.len() != vault::ENVELOPE_LEN {
        return Err(ApiError::bad_request(
            "bad_envelope",
            format!(
                "{field}.envelope must be {} bytes, got {}",
                vault::ENVELOPE_LEN,
                envelope.len()
            ),
        ));
    }
    if envelope.first() != Some(&vault::ENVELOPE_VERSION) {
        return Err(ApiError::bad_request(
            "bad_envelope",
            format!(
                "{field}.envelope must start with version {}",
                vault::ENVELOPE_VERSION
            ),
        ));
    }
    Ok(())
}

/// Checks every envelope of a registration, naming the offending one by its position.
pub(super) fn check_envelopes(envelopes: &[EnvelopeUpload]) -> Result<(), ApiError> {
    envelopes
        .iter()
        .enumerate()
        .try_for_each(|(i, upload)| check_envelope(&format!("envelopes[{i}]"), upload))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::api::B64;

    fn upload(bytes: Vec<u8>) -> EnvelopeUpload {
        EnvelopeUpload {
            party: "cbp".into(),
            envelope: B64(bytes),
            grant: B64(vec![0; 32]),
        }
    }

    #[test]
    fn only_the_documented_sizes_pass() {
        let mut good = vec![0u8; vault::ENVELOPE_LEN];
        good[0] = vault::ENVELOPE_VERSION;
        assert!(check_envelope("envelope", &upload(good.clone())).is_ok());
        for bad in [Vec::new(), vec![1u8; 40], vec![1u8; 112], vec![1u8; 114]] {
            let error = check_envelope("envelope", &upload(bad)).unwrap_err();
            assert_eq!(error.code, "bad_envelope");
            assert!(
                error
                    .message
                    .contains("envelope.envelope must be 113 bytes")
            );
        }
        good[0] = 2;
        assert!(check_envelope("envelope", &upload(good)).is_err());
        let mut body = vec![0u8; vault::MIN_BODY_CIPHERTEXT_LEN];
        body[0] = vault::BODY_VERSION;
        assert!(check_ciphertext("ciphertext", &body).is_ok());
        assert!(check_ciphertext("ciphertext", &body[1..]).is_err());
        assert!(check_ciphertext("ciphertext", &[]).is_err());
    }
}
