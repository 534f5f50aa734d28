//! `did:jwk` (https://github.com/quartzjer/did-jwk/blob/main/spec.md) for Ed25519 keys: the DID is
//! `did:jwk:` followed by the base64url of the key's JWK (RFC 8037 §2), its one verification method is `#0`.
//!
//! The JWK is written in the RFC 7638 canonical form (`crv`, `kty`, `x`, no whitespace), so one key has one DID
//! and its SHA-256 is the key's RFC 7638 thumbprint.

use ed25519_dalek::VerifyingKey;
use serde_json::{Value, json};

use super::{JoseError, b64, strict_json};

/// The DID method prefix.
pub const PREFIX: &str = "did:jwk:";
/// The fragment of the one verification method of a did:jwk.
pub const METHOD_FRAGMENT: &str = "#0";
/// The longest DID or key id read: an Ed25519 JWK with a few optional members fits well within it.
pub const MAX_LEN: usize = 1024;

/// The public JWK of an Ed25519 key, as RFC 8037 §2 defines it.
pub fn jwk(key: &VerifyingKey) -> Value {
    json!({"crv": "Ed25519", "kty": "OKP", "x": b64::encode(key.as_bytes())})
}

/// The did:jwk of an Ed25519 key.
pub fn encode(key: &VerifyingKey) -> String {
    // serde_json writes object members in sorted order without whitespace: the RFC 7638 form.
    format!("{PREFIX}{}", b64::encode(jwk(key).to_string()))
}

/// The verification method `did:jwk:...#0` of a key: the `kid` of what it signs.
pub fn verification_method(key: &VerifyingKey) -> String {
    format!("{}{METHOD_FRAGMENT}", encode(key))
}

/// Reads the Ed25519 key out of a did:jwk or its verification method `#0`.
///
/// Refused: another DID method, another fragment, a JWK that is not a public Ed25519 key (another `kty`/`crv`,
/// an `x` that is not 32 bytes or not a curve point, a private part `d`, a `use` other than `sig`).
pub fn decode(did: &str) -> Result<VerifyingKey, JoseError> {
    if did.len() > MAX_LEN {
        return Err(JoseError::Did(format!("longer than {MAX_LEN} bytes")));
    }
    let rest = did
        .strip_prefix(PREFIX)
        .ok_or_else(|| JoseError::Did("does not start with \"did:jwk:\"".into()))?;
    let encoded = match rest.split_once('#') {
        None => rest,
        Some((encoded, "0")) => encoded,
        Some(_) => {
            return Err(JoseError::Did(
                "the only verification method of a did:jwk is #0".into(),
            ));
        }
    };
    let jwk_bytes = b64::decode(encoded, "did:jwk method-specific id")?;
    parse_jwk(&jwk_bytes)
}

/// Parses a public Ed25519 JWK (RFC 8037 §2).
pub fn parse_jwk(bytes: &[u8]) -> Result<VerifyingKey, JoseError> {
    let jwk = strict_json::object(bytes).map_err(JoseError::Jwk)?;
    if jwk.contains_key("d") {
        return Err(JoseError::Jwk(
            "holds a private key (member d); a DID names a public key".into(),
        ));
    }
    let text = |name: &str| jwk.get(name).and_then(Value::as_str);
    if text("kty") != Some("OKP") {
        return Err(JoseError::Jwk(
            "kty must be \"OKP\" (only Ed25519 keys are accepted)".into(),
        ));
    }
    if text("crv") != Some("Ed25519") {
        return Err(JoseError::Jwk("crv must be \"Ed25519\"".into()));
    }
    if let Some(other) = jwk
        .keys()
        .find(|name| !matches!(name.as_str(), "kty" | "crv" | "x" | "alg" | "use" | "kid"))
    {
        return Err(JoseError::Jwk(format!("unexpected member {other:?}")));
    }
    if jwk
        .get("alg")
        .is_some_and(|alg| alg != "EdDSA" && alg != "Ed25519")
    {
        return Err(JoseError::Jwk(
            "alg, when present, must be \"EdDSA\" or \"Ed25519\"".into(),
        ));
    }
    if jwk.get("use").is_some_and(|usage| usage != "sig") {
        return Err(JoseError::Jwk("use, when present, must be \"sig\"".into()));
    }
    if jwk.get("kid").is_some_and(|kid| !kid.is_string()) {
        return Err(JoseError::Jwk("kid, when present, must be a string".into()));
    }
    let x = text("x").ok_or_else(|| JoseError::Jwk("x (the public key) is missing".into()))?;
    let x: [u8; 32] = b64::decode(x, "JWK x")?
        .try_into()
        .map_err(|_| JoseError::Jwk("x must be 32 bytes".into()))?;
    VerifyingKey::from_bytes(&x)
        .map_err(|_| JoseError::Jwk("x is not an Ed25519 public key".into()))
}
