//! Compact JWS (RFC 7515 §7.1) signed and verified with `alg` `EdDSA` over Ed25519 (RFC 8037 §3.1).
//!
//! The verifier takes the key from the protected header's `kid`, which must be a did:jwk verification method:
//! the caller then checks that key against the party's key enrolled on the log.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde_json::{Map, Value};

use super::{JoseError, b64, did_jwk, strict_json};

/// The only `alg` signed or accepted.
pub const ALG: &str = "EdDSA";

/// What [`verify`] accepts: sizes bound the work an untrusted token can cause; `typ`, when set, must match.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The longest token read, in bytes.
    pub max_token: usize,
    /// The longest protected header read, in bytes after base64url decoding.
    pub max_header: usize,
    /// The media type the `typ` header must name (compared as RFC 7515 §4.1.9 says: case-insensitively, with
    /// or without the `application/` prefix); `None` accepts any or none.
    pub typ: Option<&'static str>,
}

impl Limits {
    /// 1 MiB tokens, 64 KiB headers (the log binding with its tlog-proof receipt is a few KiB), any `typ`.
    pub const DEFAULT: Limits = Limits {
        max_token: 1 << 20,
        max_header: 64 << 10,
        typ: None,
    };

    /// The default limits, requiring `typ` to be `typ`.
    pub const fn with_typ(typ: &'static str) -> Limits {
        Limits {
            typ: Some(typ),
            ..Limits::DEFAULT
        }
    }
}

/// A JWS whose signature verified under the key its `kid` names.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The protected header, members all distinct.
    pub header: Map<String, Value>,
    /// The payload bytes as signed.
    pub payload: Vec<u8>,
    /// The key that signed it, from `kid`.
    pub key: VerifyingKey,
    /// The `kid`, when the header has one (always a did:jwk verification method after [`verify`]).
    pub kid: Option<String>,
}

/// Signs `payload` as a compact JWS; `alg` in the protected header is set to `EdDSA`, the rest of `header` is
/// written as given (members in sorted order, no whitespace).
pub fn sign(mut header: Map<String, Value>, payload: &[u8], key: &SigningKey) -> String {
    header.insert("alg".into(), Value::from(ALG));
    let signing_input = format!(
        "{}.{}",
        b64::encode(Value::Object(header).to_string()),
        b64::encode(payload)
    );
    let signature = key.sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64::encode(signature.to_bytes()))
}

/// Verifies a compact JWS: sizes, a protected header with distinct members, `alg` `EdDSA`, no `crit` or `b64`
/// (no extension is understood here, RFC 7515 §4.1.11), `typ` as `limits` asks, `kid` a did:jwk verification
/// method, and the Ed25519 signature under that key (`verify_strict`: no small-order keys, no malleable
/// signatures). The caller decides whether the key is the one it trusts.
pub fn verify(token: &str, limits: &Limits) -> Result<Verified, JoseError> {
    let parsed = Parsed::read(token, limits)?;
    let kid = match parsed.header.get("kid") {
        Some(Value::String(kid)) => kid.clone(),
        Some(_) => return Err(param("kid", "must be a string")),
        None => {
            return Err(param(
                "kid",
                "is missing (a did:jwk verification method is required)",
            ));
        }
    };
    if !kid.ends_with(did_jwk::METHOD_FRAGMENT) {
        return Err(param(
            "kid",
            "must be a did:jwk verification method ending in #0",
        ));
    }
    let key = did_jwk::decode(&kid)?;
    parsed.check_signature(key)
}

/// Verifies a compact JWS as [`verify`] does, but under a key the caller already holds (`kid` is not read).
pub fn verify_with_key(
    token: &str,
    key: &VerifyingKey,
    limits: &Limits,
) -> Result<Verified, JoseError> {
    Parsed::read(token, limits)?.check_signature(*key)
}

/// A token split and its header checked, its signature not yet.
struct Parsed<'t> {
    signing_input: &'t str,
    header: Map<String, Value>,
    payload: Vec<u8>,
    signature: Signature,
}

impl<'t> Parsed<'t> {
    fn read(token: &'t str, limits: &Limits) -> Result<Parsed<'t>, JoseError> {
        check_len("the token", token.len(), limits.max_token)?;
        let parts: Vec<&str> = token.split('.').collect();
        let [header_b64, payload_b64, signature_b64] = parts[..] else {
            return Err(JoseError::Parts(parts.len()));
        };
        check_len(
            "the protected header",
            header_b64.len() / 4 * 3,
            limits.max_header,
        )?;
        let header_bytes = b64::decode(header_b64, "protected header")?;
        let header = strict_json::object(&header_bytes).map_err(JoseError::Header)?;
        check_header(&header, limits)?;
        let payload = b64::decode(payload_b64, "payload")?;
        let signature: [u8; 64] = b64::decode(signature_b64, "signature")?
            .try_into()
            .map_err(|_| JoseError::Signature)?;
        let signing_input = token
            .get(..header_b64.len() + 1 + payload_b64.len())
            .ok_or(JoseError::Signature)?;
        Ok(Parsed {
            signing_input,
            header,
            payload,
            signature: Signature::from_bytes(&signature),
        })
    }

    fn check_signature(self, key: VerifyingKey) -> Result<Verified, JoseError> {
        key.verify_strict(self.signing_input.as_bytes(), &self.signature)
            .map_err(|_| JoseError::Signature)?;
        let kid = self
            .header
            .get("kid")
            .and_then(Value::as_str)
            .map(str::to_owned);
        Ok(Verified {
            header: self.header,
            payload: self.payload,
            key,
            kid,
        })
    }
}

fn check_header(header: &Map<String, Value>, limits: &Limits) -> Result<(), JoseError> {
    match header.get("alg") {
        Some(alg) if alg == ALG => {}
        Some(_) => return Err(param("alg", "must be \"EdDSA\"")),
        None => return Err(param("alg", "is missing")),
    }
    if header.contains_key("crit") {
        return Err(param(
            "crit",
            "names extensions this verifier does not implement",
        ));
    }
    if header.contains_key("b64") {
        return Err(param("b64", "unencoded payloads are not accepted"));
    }
    if let Some(expected) = limits.typ {
        match header.get("typ") {
            Some(Value::String(typ)) if same_media_type(typ, expected) => {}
            Some(_) => return Err(param("typ", &format!("must be \"{expected}\""))),
            None => {
                return Err(param(
                    "typ",
                    &format!("is missing (\"{expected}\" expected)"),
                ));
            }
        }
    }
    Ok(())
}

/// RFC 7515 §4.1.9: `typ` compares case-insensitively, and `application/` may be left out.
fn same_media_type(typ: &str, expected: &str) -> bool {
    let bare = |t: &str| -> String {
        let lower = t.to_ascii_lowercase();
        lower
            .strip_prefix("application/")
            .map(str::to_owned)
            .unwrap_or(lower)
    };
    bare(typ) == bare(expected)
}

fn check_len(what: &'static str, len: usize, limit: usize) -> Result<(), JoseError> {
    if len > limit {
        return Err(JoseError::TooLarge { what, len, limit });
    }
    Ok(())
}

fn param(param: &'static str, reason: &str) -> JoseError {
    JoseError::Param {
        param,
        reason: reason.into(),
    }
}
