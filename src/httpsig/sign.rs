//! The client side: signs a request and returns the headers to add.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::{Signer as _, SigningKey};
use http::HeaderName;
use rand::Rng as _;

use super::base::{self, ComponentValues, LABEL};
use super::{SigError, sfv};

/// Random bytes in a nonce: 128 bits, so nonces never collide by chance.
const NONCE_BYTES: usize = 16;

/// Signs a request as `party_id` and returns the `Content-Digest`, `Signature-Input` and `Signature` headers to
/// add to it (docs/api.md "Request signatures").
///
/// `target` is the request target in origin form, exactly as sent on the wire: the path plus `?query` if any.
/// `now` is the current time in Unix seconds (the `created` parameter). A fresh random nonce is drawn per call.
///
/// # Errors
/// [`SigError::MalformedSignature`] if `party_id` is empty or not printable ASCII, or `method`/`target` contain a
/// line break, since such a request could not be verified.
pub fn sign_request(
    method: &str,
    target: &str,
    body: &[u8],
    party_id: &str,
    key: &SigningKey,
    now: u64,
) -> Result<Vec<(HeaderName, String)>, SigError> {
    let mut nonce = [0u8; NONCE_BYTES];
    rand::rng().fill_bytes(&mut nonce);
    sign_with_nonce(
        method,
        target,
        body,
        party_id,
        key,
        now,
        &URL_SAFE_NO_PAD.encode(nonce),
    )
}

/// [`sign_request`] with a chosen nonce, for tests that need a deterministic or a repeated nonce.
pub(crate) fn sign_with_nonce(
    method: &str,
    target: &str,
    body: &[u8],
    party_id: &str,
    key: &SigningKey,
    now: u64,
    nonce: &str,
) -> Result<Vec<(HeaderName, String)>, SigError> {
    if party_id.is_empty() || !sfv::is_sf_string(party_id) {
        return Err(SigError::MalformedSignature);
    }
    let digest = base::content_digest(body);
    let (items, params) =
        base::signer_params(now, nonce, party_id).ok_or(SigError::MalformedSignature)?;
    let values = ComponentValues::new(method, target, &digest);
    let signature_base =
        base::signature_base(&items, &params, &values).ok_or(SigError::MalformedSignature)?;
    let signature = key.sign(signature_base.as_bytes());
    Ok(vec![
        (HeaderName::from_static("content-digest"), digest),
        (
            HeaderName::from_static("signature-input"),
            format!("{LABEL}={}", sfv::serialize_inner_list(&items, &params)),
        ),
        (
            HeaderName::from_static("signature"),
            format!("{LABEL}=:{}:", STANDARD.encode(signature.to_bytes())),
        ),
    ])
}
