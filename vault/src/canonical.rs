//! Canonical forms of a JSON body: its leaves keyed by RFC 6901 JSON pointer, the byte encoding of a leaf
//! value, and canonical JSON text. Key order and whitespace never change any of them.

use std::io::Write as _;

use serde_json::Value;

use crate::{Error, Result};

/// Leaf value type tags (docs/formats.md, "Leaf encoding").
const TAG_NULL: u8 = 0x00;
const TAG_BOOL: u8 = 0x01;
const TAG_INTEGER: u8 = 0x02;
const TAG_FLOAT: u8 = 0x03;
const TAG_STRING: u8 = 0x04;
const TAG_EMPTY_OBJECT: u8 = 0x05;
const TAG_EMPTY_ARRAY: u8 = 0x06;

/// Every leaf value of `body` with its JSON pointer, sorted by pointer bytes.
///
/// Leaf values are strings, numbers, booleans, null, and empty objects and arrays (so that the shape of
/// the document is committed too). A scalar body is a single leaf at pointer "".
pub(crate) fn leaves(body: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    collect(body, &mut String::new(), &mut out);
    out.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out
}

fn collect<'a>(value: &'a Value, pointer: &mut String, out: &mut Vec<(String, &'a Value)>) {
    let len = pointer.len();
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                pointer.push('/');
                push_escaped(pointer, key);
                collect(child, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (index, child) in items.iter().enumerate() {
                pointer.push('/');
                pointer.push_str(&index.to_string());
                collect(child, pointer, out);
                pointer.truncate(len);
            }
        }
        _ => out.push((pointer.clone(), value)),
    }
}

/// RFC 6901 §3: `~` is written `~0` and `/` is written `~1`.
fn push_escaped(pointer: &mut String, key: &str) {
    for c in key.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Whether `pointer` is a syntactically valid RFC 6901 JSON pointer ("" or "/"-separated tokens in which
/// every `~` is followed by `0` or `1`).
pub(crate) fn is_valid_pointer(pointer: &str) -> bool {
    if !(pointer.is_empty() || pointer.starts_with('/')) {
        return false;
    }
    let bytes = pointer.as_bytes();
    bytes
        .iter()
        .enumerate()
        .all(|(i, &b)| b != b'~' || matches!(bytes.get(i + 1), Some(b'0' | b'1')))
}

/// The canonical encoding of a leaf value: one type tag byte, then
/// null: nothing; bool: 0x00 or 0x01; integer (fits i64 or u64): its shortest ASCII decimal;
/// other number: the 8 bytes of its IEEE 754 binary64 value, big-endian; string: its UTF-8 bytes;
/// empty object / empty array: nothing.
///
/// A non-empty object or array is not a leaf value and is refused. Appends to `out`.
pub(crate) fn encode_leaf_value(value: &Value, out: &mut Vec<u8>) -> Result<()> {
    match value {
        Value::Null => out.push(TAG_NULL),
        Value::Bool(b) => out.extend_from_slice(&[TAG_BOOL, u8::from(*b)]),
        Value::Number(n) => {
            // Writing into a Vec cannot fail.
            if let Some(i) = n.as_i64() {
                out.push(TAG_INTEGER);
                let _ = write!(out, "{i}");
            } else if let Some(u) = n.as_u64() {
                out.push(TAG_INTEGER);
                let _ = write!(out, "{u}");
            } else {
                let f = n.as_f64().ok_or_else(|| {
                    Error::Canonical("number is neither integer nor binary64".into())
                })?;
                out.push(TAG_FLOAT);
                out.extend_from_slice(&f.to_be_bytes());
            }
        }
        Value::String(s) => {
            out.push(TAG_STRING);
            out.extend_from_slice(s.as_bytes());
        }
        Value::Object(map) if map.is_empty() => out.push(TAG_EMPTY_OBJECT),
        Value::Array(items) if items.is_empty() => out.push(TAG_EMPTY_ARRAY),
        Value::Object(_) | Value::Array(_) => {
            return Err(Error::Canonical(
                "a non-empty object or array is not a leaf value".into(),
            ));
        }
    }
    Ok(())
}

/// Canonical JSON text: object members sorted by the UTF-8 bytes of their keys, no insignificant
/// whitespace, strings and numbers as serde_json writes them. Independent of serde_json's map ordering
/// feature (other crates in a build may switch it to insertion order).
pub fn canonical_json(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Object(map) => {
            let mut members: Vec<_> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, child)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_canonical(child, out);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, child) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(child, out);
            }
            out.push(b']');
        }
        Value::String(s) => write_string(s, out),
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => out.extend_from_slice(n.to_string().as_bytes()),
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    // Writing a str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, s);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn leaves_are_pointers_in_byte_order() {
        let body = json!({"b": [1, {"x/y": "z", "t~": null}], "a": {}, "c": [], "": true});
        let got: Vec<_> = leaves(&body)
            .into_iter()
            .map(|(p, v)| (p, v.clone()))
            .collect();
        let want = vec![
            ("/".to_owned(), json!(true)),
            ("/a".to_owned(), json!({})),
            ("/b/0".to_owned(), json!(1)),
            ("/b/1/t~0".to_owned(), json!(null)),
            ("/b/1/x~1y".to_owned(), json!("z")),
            ("/c".to_owned(), json!([])),
        ];
        assert_eq!(got, want);
        assert_eq!(leaves(&json!("scalar")).len(), 1);
        assert_eq!(leaves(&json!("scalar"))[0].0, "");
    }

    fn encode_leaf_value(value: &Value) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        super::encode_leaf_value(value, &mut out)?;
        Ok(out)
    }

    #[test]
    fn leaf_values_encode_by_type() {
        assert_eq!(encode_leaf_value(&json!(null)).unwrap(), [0]);
        assert_eq!(encode_leaf_value(&json!(true)).unwrap(), [1, 1]);
        assert_eq!(encode_leaf_value(&json!(-12)).unwrap(), b"\x02-12");
        assert_eq!(
            encode_leaf_value(&json!(u64::MAX)).unwrap(),
            b"\x0218446744073709551615"
        );
        assert_eq!(
            encode_leaf_value(&json!(1.5)).unwrap(),
            [&[3][..], &1.5f64.to_be_bytes()].concat()
        );
        assert_eq!(encode_leaf_value(&json!("é")).unwrap(), b"\x04\xc3\xa9");
        assert_eq!(encode_leaf_value(&json!({})).unwrap(), [5]);
        assert_eq!(encode_leaf_value(&json!([])).unwrap(), [6]);
        assert!(encode_leaf_value(&json!([1])).is_err());
        // "1" and "1.0" are different JSON numbers to every parser here, and stay different.
        let one: Value = serde_json::from_str("1.0").unwrap();
        assert_ne!(
            encode_leaf_value(&one).unwrap(),
            encode_leaf_value(&json!(1)).unwrap()
        );
    }

    #[test]
    fn canonical_json_ignores_key_order_and_whitespace() {
        let a: Value =
            serde_json::from_str(r#"{ "b": [1, 2.5, "\u00e9\n"], "a": {"y": null, "x": true} }"#)
                .unwrap();
        let b: Value =
            serde_json::from_str(r#"{"a":{"x":true,"y":null},"b":[1,2.5,"é\n"]}"#).unwrap();
        let text = canonical_json(&a);
        assert_eq!(text, canonical_json(&b));
        assert_eq!(
            String::from_utf8(text.clone()).unwrap(),
            r#"{"a":{"x":true,"y":null},"b":[1,2.5,"é\n"]}"#
        );
        let back: Value = serde_json::from_slice(&text).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn pointer_syntax() {
        for good in ["", "/", "/a~0b/~1", "/0/x"] {
            assert!(is_valid_pointer(good), "{good}");
        }
        for bad in ["a", "/~", "/~2", "/a~"] {
            assert!(!is_valid_pointer(bad), "{bad}");
        }
    }
}
