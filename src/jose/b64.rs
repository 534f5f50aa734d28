//! base64url without padding (RFC 7515 §2, RFC 4648 §5), strict: padding, characters outside the URL-safe
//! alphabet and non-zero trailing bits are refused, so every value has exactly one encoding.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::JoseError;

/// Encodes bytes as unpadded base64url.
pub fn encode(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes canonical unpadded base64url; `field` names the input in the error.
pub fn decode(text: &str, field: &'static str) -> Result<Vec<u8>, JoseError> {
    // The engine refuses '=' (DecodePaddingMode::RequireNone) and non-zero trailing bits.
    URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| JoseError::Base64 { field })
}
