//! A schema violation: where (RFC 6901 JSON pointer), which rule (a stable code) and what was expected.

use std::fmt;

use serde::Serialize;

/// One reason a certificate body is refused.
///
/// A violation never contains the offending value: certificate bodies are trade secrets and violations end up
/// in HTTP responses and logs. `pointer` names the place (RFC 6901, built from the schema's field names and
/// array indices; the only user-chosen text it can carry is the name of an unknown field), `rule` is a stable
/// code clients can match on, and `message` says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Violation {
    /// RFC 6901 JSON pointer to the offending field (`""` is the whole body).
    pub pointer: String,
    /// Stable rule code, e.g. `hs.digits` or `blanket.max-12-months` (listed in docs/formats.md).
    pub rule: &'static str,
    /// What was expected, in English, without the value that was found.
    pub message: String,
}

impl fmt::Display for Violation {
    /// `pointer: message [rule]`, with `(body)` standing for the empty pointer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pointer = if self.pointer.is_empty() {
            "(body)"
        } else {
            &self.pointer
        };
        write!(f, "{pointer}: {} [{}]", self.message, self.rule)
    }
}

/// Renders violations for a human, one `pointer: message [rule]` per line.
pub fn render(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("{v}\n")).collect()
}

/// Appends one array index or object key to a pointer, escaping `~` and `/` as RFC 6901 §3 requires.
pub(crate) fn child(pointer: &str, key: &str) -> String {
    let mut out = String::with_capacity(pointer.len() + key.len() + 1);
    out.push_str(pointer);
    out.push('/');
    for c in key.chars() {
        match c {
            '~' => out.push_str("~0"),
            '/' => out.push_str("~1"),
            c => out.push(c),
        }
    }
    out
}

/// The violations found so far during one validation.
#[derive(Default)]
pub(crate) struct Report {
    violations: Vec<Violation>,
}

impl Report {
    /// Records a violation at `pointer`.
    pub(crate) fn add(&mut self, pointer: &str, rule: &'static str, message: impl Into<String>) {
        self.violations.push(Violation {
            pointer: pointer.to_owned(),
            rule,
            message: message.into(),
        });
    }

    /// Whether nothing was reported.
    pub(crate) fn is_clean(&self) -> bool {
        self.violations.is_empty()
    }

    pub(crate) fn into_violations(self) -> Vec<Violation> {
        self.violations
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_escaping_follows_rfc6901() {
        assert_eq!(child("", "goods"), "/goods");
        assert_eq!(child("/goods", "0"), "/goods/0");
        assert_eq!(child("", "a/b~c"), "/a~1b~0c");
    }

    #[test]
    fn renders_pointer_message_rule() {
        let v = Violation {
            pointer: "/goods/0/hs_code".into(),
            rule: "hs.digits",
            message: "digits only".into(),
        };
        assert_eq!(v.to_string(), "/goods/0/hs_code: digits only [hs.digits]");
        let root = Violation {
            pointer: String::new(),
            rule: "type",
            message: "expected an object".into(),
        };
        assert_eq!(
            render(&[v, root]),
            "/goods/0/hs_code: digits only [hs.digits]\n(body): expected an object [type]\n"
        );
    }
}
