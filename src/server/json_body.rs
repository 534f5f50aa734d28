//! Parsing a JSON request body into its wire type, with an error that names the offending field.
//!
//! The message says where (an RFC 6901 JSON pointer into the body) and what was expected, but never echoes a
//! value: serde's own messages quote the value they met ("invalid type: string \"...\""), so only the parts
//! that come from our types are kept. A field name the client made up is named only if it looks like one.

use serde::de::DeserializeOwned;
use serde_path_to_error::{Path, Segment};

use super::error::ApiError;

/// Longest client-chosen field name repeated in an error message.
const MAX_NAMED_KEY: usize = 64;

/// Parses `body` as JSON of type `T`, or a `malformed_json` error naming the field at fault.
pub(super) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut reader = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut reader)
        .map_err(|e| malformed(&pointer(e.path()), e.inner()))?;
    // Trailing bytes after the value (serde_json::from_slice checks this too).
    reader.end().map_err(|e| malformed("", &e))?;
    Ok(value)
}

fn malformed(at: &str, error: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let message = match error.classify() {
        Category::Syntax | Category::Eof => format!(
            "malformed JSON at line {} column {}{}",
            error.line(),
            error.column(),
            within(at)
        ),
        Category::Io => "unreadable JSON".to_owned(),
        Category::Data => {
            let (at, what) = data_error(at, &error.to_string());
            format!("JSON of the wrong shape at {}: {what}", shown(&at))
        }
    };
    ApiError::bad_request("malformed_json", message)
}

/// Where a data error is and what went wrong, from serde's message (position suffix removed).
fn data_error(at: &str, message: &str) -> (String, String) {
    let message = message
        .rsplit_once(" at line ")
        .map_or(message, |(head, _)| head);
    // serde names the missing or unknown field, not its path: append it to the pointer of its object.
    if let Some(name) = quoted_after(message, "missing field `") {
        return (format!("{at}/{}", escape(name)), "missing field".to_owned());
    }
    // An unknown key is already the last segment of the path (`*` if it is not nameable).
    if message.starts_with("unknown field `") {
        return (at.to_owned(), "unknown field".to_owned());
    }
    // "invalid type: string \"…\", expected u64": keep only what was expected, which comes from our types.
    let what = match message.rsplit_once(", expected ") {
        Some((_, expected)) => format!("expected {expected}"),
        None if message == "invalid base64" => message.to_owned(),
        None => "not the expected value".to_owned(),
    };
    (at.to_owned(), what)
}

fn quoted_after<'a>(message: &'a str, prefix: &str) -> Option<&'a str> {
    let rest = message.strip_prefix(prefix)?;
    rest.split_once('`').map(|(name, _)| name)
}

/// A client-chosen key is repeated only if it is short and made of identifier characters.
fn is_nameable(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_NAMED_KEY
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// RFC 6901 pointer of a serde path; keys that are not nameable (a client may send any) become `*`.
fn pointer(path: &Path) -> String {
    let mut out = String::new();
    for segment in path.iter() {
        out.push('/');
        match segment {
            Segment::Seq { index } => out.push_str(&index.to_string()),
            Segment::Map { key } if is_nameable(key) => out.push_str(&escape(key)),
            Segment::Enum { variant } if is_nameable(variant) => out.push_str(&escape(variant)),
            _ => out.push('*'),
        }
    }
    out
}

/// RFC 6901 §3: `~` is written `~0` and `/` is written `~1`.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn shown(at: &str) -> String {
    if at.is_empty() {
        "the top level".to_owned()
    } else {
        at.to_owned()
    }
}

fn within(at: &str) -> String {
    if at.is_empty() {
        String::new()
    } else {
        format!(" (in {at})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::RegisterRequest;

    fn message(body: &str) -> String {
        let error = parse::<RegisterRequest>(body.as_bytes()).expect_err("must be refused");
        assert_eq!(error.code, "malformed_json");
        error.message
    }

    #[test]
    fn names_the_field_and_never_the_value() {
        let wrong_type = message(
            r#"{"entry":"AA==","ciphertext":"AA==","envelopes":[{"party":"p","envelope":"AA==","grant":"secret!"}]}"#,
        );
        assert_eq!(
            wrong_type,
            "JSON of the wrong shape at /envelopes/0/grant: invalid base64"
        );
        let wrong_type = message(r#"{"entry":"AA==","ciphertext":"AA==","envelopes":"secret"}"#);
        assert_eq!(
            wrong_type,
            "JSON of the wrong shape at /envelopes: expected a sequence"
        );
        let missing = message(r#"{"entry":"AA==","ciphertext":"AA=="}"#);
        assert_eq!(
            missing,
            "JSON of the wrong shape at /envelopes: missing field"
        );
        let unknown = message(r#"{"entry":"AA==","ciphertext":"AA==","envelopes":[],"x-extra":1}"#);
        assert_eq!(
            unknown,
            "JSON of the wrong shape at /x-extra: unknown field"
        );
        let unnameable =
            message(r#"{"entry":"AA==","ciphertext":"AA==","envelopes":[],"secret value":1}"#);
        assert_eq!(unnameable, "JSON of the wrong shape at /*: unknown field");
        let top = message(r#""secret""#);
        assert_eq!(
            top,
            "JSON of the wrong shape at the top level: expected struct RegisterRequest"
        );
    }

    /// Base64 is decoded from the string where the parser holds it: in the body, or unescaped (`\/`, `\u0041`)
    /// in its scratch buffer; a number where base64 belongs is refused without its value.
    #[test]
    fn base64_decodes_plain_and_escaped_strings() {
        let request: RegisterRequest = parse(
            br#"{"entry":"AAE=","ciphertext":"\/w==","envelopes":[{"party":"p","envelope":"\u0041A==","grant":"AA=="}]}"#,
        )
        .expect("valid");
        assert_eq!(request.entry.0, [0, 1]);
        assert_eq!(request.ciphertext.0, [0xff]);
        assert_eq!(request.envelopes[0].envelope.0, [0]);
        let wrong_type = message(r#"{"entry":12345,"ciphertext":"AA==","envelopes":[]}"#);
        assert_eq!(
            wrong_type,
            "JSON of the wrong shape at /entry: expected a base64 string"
        );
    }

    #[test]
    fn syntax_errors_give_the_position() {
        assert_eq!(
            message(r#"{"entry": "#),
            "malformed JSON at line 1 column 10 (in /entry)"
        );
        assert!(
            message(r#"{"entry":"AA==","ciphertext":"AA==","envelopes":[]} x"#)
                .starts_with("malformed JSON at line 1 column")
        );
    }
}
