//! A credential secured with VC-JOSE (W3C "Securing Verifiable Credentials using JOSE and COSE" §3.1.1: a
//! compact JWS whose payload is the credential) kept in a certificate body.
//!
//! The body is the credential itself, so JSON pointers, commitments and disclosures address the credential's
//! own fields, plus one member the vocabulary cannot contain (its schemas are closed), [`ENVELOPE_MEMBER`],
//! holding the token as a VC 2.0 `EnvelopedVerifiableCredential` (VC Data Model 2.0 §4.13) whose `id` is the
//! `data:application/vc+jwt,` URL of the token. Validation checks that the token's payload is exactly the rest
//! of the body; whether the issuer's signature verifies is the reader's business (`client::issuer`), since it
//! depends on keys, not on the text.

use serde_json::{Map, Value};

use crate::cert::violation::{Report, Violation};
use crate::cert::walk::{Fields, string};
use crate::jose::b64;

/// The body member that carries the token.
pub const ENVELOPE_MEMBER: &str = "tradeledger:envelope";

/// The `data:` URL prefix of a VC-JOSE token (media type `application/vc+jwt`).
pub const DATA_URL_PREFIX: &str = "data:application/vc+jwt,";

const VC_V2_CONTEXT: &str = "https://www.w3.org/ns/credentials/v2";
const ENVELOPED_TYPE: &str = "EnvelopedVerifiableCredential";

/// The parts of a compact JWS (RFC 7515 §7.1), decoded but not verified.
#[derive(Clone)]
pub struct CompactJws {
    /// The protected header.
    pub header: Map<String, Value>,
    /// The payload, parsed as JSON.
    pub payload: Value,
    /// `BASE64URL(header) '.' BASE64URL(payload)`: what the signature is over.
    pub signing_input: String,
    /// The signature bytes.
    pub signature: Vec<u8>,
}

/// Parses a compact JWS whose header and payload are JSON objects; the error says which part is wrong (never
/// quoting it).
pub fn parse_compact(token: &str) -> Result<CompactJws, &'static str> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not a compact JWS (three base64url parts separated by dots)");
    };
    // The JOSE module's strict base64url: one encoding per value, as the signature verifier reads it.
    let decode = |part: &str, what: &'static str| b64::decode(part, what).map_err(|_| what);
    let header_bytes = decode(header, "the JWS header is not base64url")?;
    let payload_bytes = decode(payload, "the JWS payload is not base64url")?;
    let signature = decode(signature, "the JWS signature is not base64url")?;
    let Ok(Value::Object(header_map)) = serde_json::from_slice(&header_bytes) else {
        return Err("the JWS header is not a JSON object");
    };
    let payload_value: Value = match serde_json::from_slice(&payload_bytes) {
        Ok(v @ Value::Object(_)) => v,
        _ => return Err("the JWS payload is not a JSON object"),
    };
    Ok(CompactJws {
        header: header_map,
        payload: payload_value,
        signing_input: format!("{header}.{payload}"),
        signature,
    })
}

/// Whether `text` (a file's content) looks like a compact JWS rather than JSON.
pub fn looks_like_jws(text: &[u8]) -> bool {
    text.trim_ascii_start().starts_with(b"eyJ")
}

/// The certificate body for a VC-JOSE token: its payload (the credential) with the token kept in
/// [`ENVELOPE_MEMBER`]. Refused with one `jws.format` violation when the token cannot be read.
pub fn envelop(token: &str) -> Result<Value, Vec<Violation>> {
    let token = token.trim();
    let refuse = |message: &str| {
        vec![Violation {
            pointer: String::new(),
            rule: "jws.format",
            message: message.to_owned(),
        }]
    };
    let jws = parse_compact(token).map_err(refuse)?;
    let Value::Object(mut body) = jws.payload else {
        return Err(refuse("the JWS payload is not a JSON object"));
    };
    if body.contains_key(ENVELOPE_MEMBER) {
        return Err(refuse(
            "the credential already has a tradeledger:envelope member",
        ));
    }
    body.insert(
        ENVELOPE_MEMBER.to_owned(),
        serde_json::json!({
            "@context": VC_V2_CONTEXT,
            "type": ENVELOPED_TYPE,
            "id": format!("{DATA_URL_PREFIX}{token}"),
        }),
    );
    Ok(Value::Object(body))
}

/// The token a body keeps, if it has a well-formed envelope member.
pub fn token_of(body: &Value) -> Option<&str> {
    body.get(ENVELOPE_MEMBER)?
        .get("id")?
        .as_str()?
        .strip_prefix(DATA_URL_PREFIX)
}

/// The body without its envelope member: the credential as the issuer signed it.
pub fn credential_of(body: &Value) -> Value {
    let mut credential = body.clone();
    if let Value::Object(map) = &mut credential {
        map.remove(ENVELOPE_MEMBER);
    }
    credential
}

/// Validates the envelope member at `pointer` of `body`: its shape (`envelope.format`), the token
/// (`jws.format`), and that the token's payload is the rest of the body (`envelope.payload`).
pub(crate) fn read(report: &mut Report, pointer: &str, value: &Value, body: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let context = f.required(report, "@context", |r, p, v| expect(r, p, v, VC_V2_CONTEXT));
    let kind = f.required(report, "type", |r, p, v| expect(r, p, v, ENVELOPED_TYPE));
    let id = f.required(report, "id", |r, p, v| {
        let s = string(r, p, v)?;
        let Some(token) = s.strip_prefix(DATA_URL_PREFIX) else {
            r.add(
                p,
                "envelope.format",
                format!("expected a {DATA_URL_PREFIX} URL"),
            );
            return None;
        };
        match parse_compact(token) {
            Ok(jws) => {
                if jws.payload != credential_of(body) {
                    r.add(
                        p,
                        "envelope.payload",
                        "the token's payload is not the credential this body holds",
                    );
                    return None;
                }
                Some(())
            }
            Err(why) => {
                r.add(p, "jws.format", why);
                None
            }
        }
    });
    f.finish(report);
    context?;
    kind?;
    id
}

fn expect(report: &mut Report, pointer: &str, value: &Value, expected: &str) -> Option<()> {
    if value.as_str() == Some(expected) {
        Some(())
    } else {
        report.add(
            pointer,
            "envelope.format",
            format!("expected \"{expected}\""),
        );
        None
    }
}
