//! The signature block shared by USMCA and CAFTA-DR, and the checks on signature dates and statements.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::date::Date;
use super::party::need;
use super::violation::Report;
use super::walk::{Fields, boolean, date, short};

/// An authorized signature with its date and certification statement.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    /// Name as signed.
    pub name: String,
    /// Date signed, not in the future.
    pub date: Date,
    /// The certification statement.
    pub statement: String,
    /// Whether the signature is electronic (allowed by both regimes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub electronic: Option<bool>,
}

/// Reads `{name, date, statement, electronic?}`; the statement must open with one of `openings`.
pub(crate) fn signature(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    today: Date,
    openings: &[&str],
) -> Option<Signature> {
    let mut f = Fields::open(report, pointer, value)?;
    let name = f.required(report, "name", short);
    let date = f.required(report, "date", |r, p, v| signature_date(r, p, v, today));
    let statement = f.required(report, "statement", |r, p, v| statement(r, p, v, openings));
    let electronic = need(&mut f, report, "electronic", false, boolean);
    f.finish(report);
    Some(Signature {
        name: name?,
        date: date?,
        statement: statement?,
        electronic: electronic?,
    })
}

/// A signature date: a real date, not after `today` (rule `signature.future`).
pub(crate) fn signature_date(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    today: Date,
) -> Option<Date> {
    let signed = date(report, pointer, value)?;
    if signed > today {
        report.add(
            pointer,
            "signature.future",
            "a certification cannot be signed after today",
        );
        return None;
    }
    Some(signed)
}

/// Certification statements are compared case-insensitively, with runs of white space collapsed and typographic
/// apostrophes straightened, so that a statement pasted from a word processor still matches.
fn normalise(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
        .replace('\u{2019}', "'")
}

/// The certification statement: it must begin with one of `openings` (rule `statement.text`).
pub(crate) fn statement(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    openings: &[&str],
) -> Option<String> {
    let s = super::walk::long(report, pointer, value)?;
    let said = normalise(&s);
    if openings.iter().any(|o| said.starts_with(&normalise(o))) {
        Some(s)
    } else {
        let expected: Vec<String> = openings.iter().map(|o| format!("\"{o}...\"")).collect();
        report.add(
            pointer,
            "statement.text",
            format!("the statement must begin {}", expected.join(" or ")),
        );
        None
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    fn rules<T>(
        read: impl FnOnce(&mut Report, &str, &Value) -> Option<T>,
        value: Value,
    ) -> Vec<&'static str> {
        let mut report = Report::default();
        let out = read(&mut report, "/x", &value);
        let rules: Vec<_> = report
            .into_violations()
            .into_iter()
            .map(|v| v.rule)
            .collect();
        assert_eq!(out.is_some(), rules.is_empty());
        rules
    }

    #[test]
    fn signature_dates_are_not_in_the_future() {
        let today = Date::new(2026, 11, 21).unwrap();
        let read = |v| rules(|r, p, v| signature_date(r, p, v, today), v);
        assert!(read(json!("2026-11-21")).is_empty());
        assert!(read(json!("1994-01-01")).is_empty());
        assert_eq!(read(json!("2026-11-22")), ["signature.future"]);
        assert_eq!(read(json!("2026-11-31")), ["date.calendar"]);
        assert_eq!(read(json!("21/11/2026")), ["date.format"]);
    }

    #[test]
    fn statements_are_compared_loosely_but_must_open_right() {
        let read = |v| {
            rules(
                |r, p, v| statement(r, p, v, &["I certify that the goods"]),
                v,
            )
        };
        assert!(read(json!("I certify that the goods described...")).is_empty());
        assert!(read(json!("I  CERTIFY that\nthe goods")).is_empty());
        assert_eq!(read(json!("I hereby declare")), ["statement.text"]);
        assert_eq!(read(json!("  ")), ["text.empty"]);
        let french = |v| rules(|r, p, v| statement(r, p, v, &["J'atteste que"]), v);
        assert!(french(json!("J\u{2019}atteste que les marchandises")).is_empty());
    }
}
