//! The subset of RFC 8941 structured fields that request signatures need: dictionaries of inner lists and
//! byte sequences, with parameters; a strict parser that never panics and a canonical serializer.
//!
//! Stricter than RFC 8941 on purpose: a duplicate dictionary key or parameter key is refused instead of "last one
//! wins", so a signed header cannot be read two ways; decimals are refused (nothing here uses them).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// A bare item (RFC 8941 §3.3), without decimals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BareItem {
    /// §3.3.1, at most 15 digits.
    Integer(i64),
    /// §3.3.3, printable ASCII.
    String(String),
    /// §3.3.4.
    Token(String),
    /// §3.3.5, decoded.
    Bytes(Vec<u8>),
    /// §3.3.6.
    Boolean(bool),
}

/// Parameters in their order of appearance (RFC 8941 §3.1.2).
pub(crate) type Params = Vec<(String, BareItem)>;

/// An item with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Item {
    pub(crate) value: BareItem,
    pub(crate) params: Params,
}

/// A dictionary member value: an item or an inner list (RFC 8941 §3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MemberValue {
    /// A single item.
    Item(Item),
    /// An inner list with the list's own parameters.
    InnerList(Vec<Item>, Params),
}

/// The reason a field failed to parse; internal, mapped to a public error by the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ParseError;

type Result<T> = std::result::Result<T, ParseError>;

/// Parses a dictionary field value (RFC 8941 §4.2.2), refusing duplicate keys.
pub(crate) fn parse_dictionary(input: &str) -> Result<Vec<(String, MemberValue)>> {
    let mut p = Parser {
        s: input.as_bytes(),
        pos: 0,
    };
    p.skip_sp();
    let mut members: Vec<(String, MemberValue)> = Vec::new();
    if p.at_end() {
        return Ok(members);
    }
    loop {
        let key = p.key()?;
        let value = if p.eat(b'=') {
            if p.peek() == Some(b'(') {
                let (items, params) = p.inner_list()?;
                MemberValue::InnerList(items, params)
            } else {
                let value = p.bare_item()?;
                MemberValue::Item(Item {
                    value,
                    params: p.params()?,
                })
            }
        } else {
            MemberValue::Item(Item {
                value: BareItem::Boolean(true),
                params: p.params()?,
            })
        };
        if members.iter().any(|(k, _)| *k == key) {
            return Err(ParseError);
        }
        members.push((key, value));
        p.skip_ows();
        if p.at_end() {
            return Ok(members);
        }
        if !p.eat(b',') {
            return Err(ParseError);
        }
        p.skip_ows();
        if p.at_end() {
            // A trailing comma is an error (RFC 8941 §4.2.2 step 3.7).
            return Err(ParseError);
        }
    }
}

/// Serializes an inner list with its parameters (RFC 8941 §4.1.1.1), the form `@signature-params` takes.
pub(crate) fn serialize_inner_list(items: &[Item], params: &Params) -> String {
    let mut out = String::from("(");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        serialize_bare_item(&item.value, &mut out);
        serialize_params(&item.params, &mut out);
    }
    out.push(')');
    serialize_params(params, &mut out);
    out
}

fn serialize_params(params: &Params, out: &mut String) {
    for (key, value) in params {
        out.push(';');
        out.push_str(key);
        if *value != BareItem::Boolean(true) {
            out.push('=');
            serialize_bare_item(value, out);
        }
    }
}

/// Serializes a bare item; callers only hold values that came from the parser or from checked constructors,
/// so strings are printable ASCII and tokens well formed.
pub(crate) fn serialize_bare_item(value: &BareItem, out: &mut String) {
    match value {
        BareItem::Integer(n) => out.push_str(&n.to_string()),
        BareItem::String(s) => {
            out.push('"');
            for c in s.chars() {
                if c == '"' || c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
            out.push('"');
        }
        BareItem::Token(t) => out.push_str(t),
        BareItem::Bytes(b) => {
            out.push(':');
            out.push_str(&STANDARD.encode(b));
            out.push(':');
        }
        BareItem::Boolean(b) => out.push_str(if *b { "?1" } else { "?0" }),
    }
}

/// True if `s` can be carried as an sf-string (printable ASCII, RFC 8941 §3.3.3).
pub(crate) fn is_sf_string(s: &str) -> bool {
    s.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.s.len()
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn bump(&mut self) -> Result<u8> {
        let b = self.peek().ok_or(ParseError)?;
        self.pos += 1;
        Ok(b)
    }

    fn skip_sp(&mut self) {
        while self.peek() == Some(b' ') {
            self.pos += 1;
        }
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// RFC 8941 §4.2.3.3.
    fn key(&mut self) -> Result<String> {
        match self.peek() {
            Some(b) if b.is_ascii_lowercase() || b == b'*' => {}
            _ => return Err(ParseError),
        }
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'_' | b'-' | b'.' | b'*')
            {
                self.pos += 1;
            } else {
                break;
            }
        }
        self.slice_string(start)
    }

    fn slice_string(&self, start: usize) -> Result<String> {
        let bytes = self.s.get(start..self.pos).ok_or(ParseError)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| ParseError)
    }

    /// RFC 8941 §4.2.3.2.
    fn params(&mut self) -> Result<Params> {
        let mut params: Params = Vec::new();
        while self.eat(b';') {
            self.skip_sp();
            let key = self.key()?;
            let value = if self.eat(b'=') {
                self.bare_item()?
            } else {
                BareItem::Boolean(true)
            };
            if params.iter().any(|(k, _)| *k == key) {
                return Err(ParseError);
            }
            params.push((key, value));
        }
        Ok(params)
    }

    /// RFC 8941 §4.2.1.2.
    fn inner_list(&mut self) -> Result<(Vec<Item>, Params)> {
        if !self.eat(b'(') {
            return Err(ParseError);
        }
        let mut items = Vec::new();
        loop {
            self.skip_sp();
            if self.eat(b')') {
                let params = self.params()?;
                return Ok((items, params));
            }
            let value = self.bare_item()?;
            let params = self.params()?;
            items.push(Item { value, params });
            match self.peek() {
                Some(b' ' | b')') => {}
                _ => return Err(ParseError),
            }
        }
    }

    /// RFC 8941 §4.2.3.1.
    fn bare_item(&mut self) -> Result<BareItem> {
        match self.peek() {
            Some(b'-') => self.integer(),
            Some(b) if b.is_ascii_digit() => self.integer(),
            Some(b'"') => self.string(),
            Some(b':') => self.bytes(),
            Some(b'?') => self.boolean(),
            Some(b) if b.is_ascii_alphabetic() || b == b'*' => self.token(),
            _ => Err(ParseError),
        }
    }

    /// RFC 8941 §4.2.4, integers only.
    fn integer(&mut self) -> Result<BareItem> {
        let negative = self.eat(b'-');
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits = self.pos - start;
        if digits == 0 || digits > 15 || self.peek() == Some(b'.') {
            return Err(ParseError);
        }
        let text = self.slice_string(start)?;
        let n: i64 = text.parse().map_err(|_| ParseError)?;
        Ok(BareItem::Integer(if negative { -n } else { n }))
    }

    /// RFC 8941 §4.2.5.
    fn string(&mut self) -> Result<BareItem> {
        if !self.eat(b'"') {
            return Err(ParseError);
        }
        let mut out = String::new();
        loop {
            match self.bump()? {
                b'\\' => match self.bump()? {
                    c @ (b'"' | b'\\') => out.push(char::from(c)),
                    _ => return Err(ParseError),
                },
                b'"' => return Ok(BareItem::String(out)),
                c if (0x20..=0x7e).contains(&c) => out.push(char::from(c)),
                _ => return Err(ParseError),
            }
        }
    }

    /// RFC 8941 §4.2.6.
    fn token(&mut self) -> Result<BareItem> {
        let start = self.pos;
        self.pos += 1;
        while let Some(b) = self.peek() {
            let tchar = b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~:/".contains(&b);
            if !tchar {
                break;
            }
            self.pos += 1;
        }
        Ok(BareItem::Token(self.slice_string(start)?))
    }

    /// RFC 8941 §4.2.7; the base64 must be canonical (padded, no trailing bits).
    fn bytes(&mut self) -> Result<BareItem> {
        if !self.eat(b':') {
            return Err(ParseError);
        }
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b == b':' {
                break;
            }
            if !(b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=')) {
                return Err(ParseError);
            }
            self.pos += 1;
        }
        let encoded = self.s.get(start..self.pos).ok_or(ParseError)?;
        if !self.eat(b':') {
            return Err(ParseError);
        }
        STANDARD
            .decode(encoded)
            .map(BareItem::Bytes)
            .map_err(|_| ParseError)
    }

    /// RFC 8941 §4.2.8.
    fn boolean(&mut self) -> Result<BareItem> {
        if !self.eat(b'?') {
            return Err(ParseError);
        }
        match self.bump()? {
            b'0' => Ok(BareItem::Boolean(false)),
            b'1' => Ok(BareItem::Boolean(true)),
            _ => Err(ParseError),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_a_signature_input() {
        let d = parse_dictionary(
            r#"sig1=("@method" "@path");created=1618884473;nonce="b3k2";keyid="test-key-ed25519";alg="ed25519""#,
        )
        .unwrap();
        let [(label, MemberValue::InnerList(items, params))] = d.as_slice() else {
            panic!("shape: {d:?}")
        };
        assert_eq!(label, "sig1");
        assert_eq!(items.len(), 2);
        assert_eq!(
            params[0],
            ("created".into(), BareItem::Integer(1_618_884_473))
        );
        assert_eq!(
            serialize_inner_list(items, params),
            r#"("@method" "@path");created=1618884473;nonce="b3k2";keyid="test-key-ed25519";alg="ed25519""#
        );
    }

    #[test]
    fn normalizes_optional_whitespace_on_serialization() {
        let d =
            parse_dictionary(r#"  sig1=(  "@method"   "@path" );  created=1 ,  x=:AAE=:"#).unwrap();
        let MemberValue::InnerList(items, params) = &d[0].1 else {
            panic!()
        };
        assert_eq!(
            serialize_inner_list(items, params),
            r#"("@method" "@path");created=1"#
        );
        assert_eq!(
            d[1].1,
            MemberValue::Item(Item {
                value: BareItem::Bytes(vec![0, 1]),
                params: vec![]
            })
        );
    }

    #[test]
    fn refuses_malformed_inputs() {
        for bad in [
            "sig1=(",
            "sig1=(\"a\"\"b\")",
            "Sig1=:AA==:",
            "sig1=:AA=:",
            "sig1=:AB==:",
            "a=1, a=2",
            "a=1;x=1;x=2",
            "a=1,",
            "a=1.5",
            "a=1234567890123456",
            "a=\"\\n\"",
            "a=\"unterminated",
            "a=?2",
            "a=1 b=2",
        ] {
            assert_eq!(parse_dictionary(bad), Err(ParseError), "{bad}");
        }
    }

    #[test]
    fn string_escapes_round_trip() {
        let value = BareItem::String(r#"a"b\c"#.into());
        let mut out = String::new();
        serialize_bare_item(&value, &mut out);
        let d = parse_dictionary(&format!("k={out}")).unwrap();
        assert_eq!(
            d[0].1,
            MemberValue::Item(Item {
                value,
                params: vec![]
            })
        );
    }

    proptest! {
        #[test]
        fn never_panics(s in ".{0,200}") {
            let _ = parse_dictionary(&s);
        }

        #[test]
        fn never_panics_on_near_miss(s in r#"[a-z0-9=;:,()"?*. \\+/-]{0,120}"#) {
            let _ = parse_dictionary(&s);
        }
    }
}
