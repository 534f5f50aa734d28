//! The signature profile: covered components, their values, the `Content-Digest` field and the signature base
//! (RFC 9421 §2.5).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use super::sfv::{self, BareItem, Item, Params};

/// The covered components every request signs, in the order the signer lists them.
///
/// `@path` and `@query` rather than `@target-uri`: behind a proxy the server does not reliably know the scheme and
/// authority the client used, while path and query reach it unchanged. `@query` is always covered; with no query
/// its value is `?` (RFC 9421 §2.2.7), so a query cannot be added to a signed request.
pub(crate) const COMPONENTS: [&str; 4] = ["@method", "@path", "@query", "content-digest"];

/// The only algorithm accepted, the `alg` parameter's value (RFC 9421 §6.2.2).
pub(crate) const ALG: &str = "ed25519";

/// The signature label the signer uses.
pub(crate) const LABEL: &str = "sig1";

/// The values of the covered components of one request.
pub(crate) struct ComponentValues<'a> {
    pub(crate) method: &'a str,
    pub(crate) path: &'a str,
    pub(crate) query: &'a str,
    pub(crate) content_digest: &'a str,
}

impl<'a> ComponentValues<'a> {
    /// Splits an origin-form request target (`/path?query`) into `@path` and `@query` values (RFC 9421 §2.2.6,
    /// §2.2.7): an empty path is `/`, an absent or empty query is `?`.
    pub(crate) fn new(method: &'a str, target: &'a str, content_digest: &'a str) -> Self {
        let (path, query) = match target.find('?') {
            Some(i) => (
                target.get(..i).unwrap_or(""),
                target.get(i..).unwrap_or("?"),
            ),
            None => (target, "?"),
        };
        let path = if path.is_empty() { "/" } else { path };
        Self {
            method,
            path,
            query,
            content_digest,
        }
    }

    fn value(&self, component: &str) -> Option<&'a str> {
        match component {
            "@method" => Some(self.method),
            "@path" => Some(self.path),
            "@query" => Some(self.query),
            "content-digest" => Some(self.content_digest),
            _ => None,
        }
    }
}

/// The `Content-Digest` field value for a body (RFC 9530 §2): `sha-256=:<base64 of SHA-256(body)>:`.
pub(crate) fn content_digest(body: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(Sha256::digest(body)))
}

/// SHA-256 of the body, for comparison with the `sha-256` member of a received `Content-Digest`.
pub(crate) fn body_sha256(body: &[u8]) -> [u8; 32] {
    Sha256::digest(body).into()
}

/// The signature parameters a signer emits, in this order: `created`, `nonce`, `keyid`, `alg`.
pub(crate) fn signer_params(created: u64, nonce: &str, keyid: &str) -> Option<(Vec<Item>, Params)> {
    let created = i64::try_from(created)
        .ok()
        .filter(|c| *c < 1_000_000_000_000_000)?;
    let items = COMPONENTS
        .iter()
        .map(|c| Item {
            value: BareItem::String((*c).to_owned()),
            params: Vec::new(),
        })
        .collect();
    let params = vec![
        ("created".to_owned(), BareItem::Integer(created)),
        ("nonce".to_owned(), BareItem::String(nonce.to_owned())),
        ("keyid".to_owned(), BareItem::String(keyid.to_owned())),
        ("alg".to_owned(), BareItem::String(ALG.to_owned())),
    ];
    Some((items, params))
}

/// Builds the signature base (RFC 9421 §2.5): one line `"<component>": <value>` per covered component in the
/// order listed, then `"@signature-params": <inner list>`, joined by LF, no trailing LF.
///
/// Returns `None` if a component is not one this profile knows or a value contains a CR or LF (which would let
/// one line pose as two).
pub(crate) fn signature_base(
    covered: &[Item],
    params: &Params,
    values: &ComponentValues<'_>,
) -> Option<String> {
    let mut base = String::with_capacity(256);
    for item in covered {
        let BareItem::String(name) = &item.value else {
            return None;
        };
        let value = values.value(name)?;
        if value.contains(['\r', '\n']) {
            return None;
        }
        base.push('"');
        base.push_str(name);
        base.push_str("\": ");
        base.push_str(value);
        base.push('\n');
    }
    base.push_str("\"@signature-params\": ");
    base.push_str(&sfv::serialize_inner_list(covered, params));
    Some(base)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn splits_the_target() {
        let v = ComponentValues::new("GET", "/a/b?x=1&y", "d");
        assert_eq!((v.path, v.query), ("/a/b", "?x=1&y"));
        let v = ComponentValues::new("GET", "/a", "d");
        assert_eq!((v.path, v.query), ("/a", "?"));
        let v = ComponentValues::new("GET", "?q", "d");
        assert_eq!((v.path, v.query), ("/", "?q"));
        let v = ComponentValues::new("GET", "/a?", "d");
        assert_eq!((v.path, v.query), ("/a", "?"));
    }

    #[test]
    fn content_digest_matches_rfc9530() {
        // RFC 9530 §2 example body and the SHA-256 of the empty body.
        assert_eq!(
            content_digest(br#"{"hello": "world"}"#),
            "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
        );
        assert_eq!(
            content_digest(b""),
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
        );
    }

    #[test]
    fn base_matches_the_documented_layout() {
        let (items, params) = signer_params(1_618_884_473, "bm9uY2U", "importer-1").unwrap();
        let values = ComponentValues::new("POST", "/v1/certificates", "sha-256=:AAAA:");
        let base = signature_base(&items, &params, &values).unwrap();
        assert_eq!(
            base,
            "\"@method\": POST\n\"@path\": /v1/certificates\n\"@query\": ?\n\"content-digest\": sha-256=:AAAA:\n\
             \"@signature-params\": (\"@method\" \"@path\" \"@query\" \"content-digest\");created=1618884473;\
             nonce=\"bm9uY2U\";keyid=\"importer-1\";alg=\"ed25519\""
        );
    }

    #[test]
    fn refuses_line_breaks_in_values() {
        let (items, params) = signer_params(1, "n", "k").unwrap();
        let values = ComponentValues::new("POST", "/a\n\"@method\": GET", "d");
        assert!(signature_base(&items, &params, &values).is_none());
    }
}
