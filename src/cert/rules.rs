//! Field rules shared by the regimes: HS codes, countries, contact details, periods, signature dates and the
//! certification statement.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::countries::is_iso_alpha2;
use super::date::Date;
use super::violation::Report;
use super::walk::{Fields, date, string};

/// Parsed HS or HTS classification: the text as written (`"8708.29"`), known to hold 6, 8 or 10 digits.
pub(crate) fn hs_code(report: &mut Report, pointer: &str, value: &Value) -> Option<String> {
    let s = string(report, pointer, value)?;
    let digits: String = s.chars().filter(|c| *c != '.').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        report.add(
            pointer,
            "hs.digits",
            "an HS code holds only digits, optionally grouped by dots (8708.29)",
        );
        return None;
    }
    let mut ok = true;
    if ![6, 8, 10].contains(&digits.len()) {
        report.add(
            pointer,
            "hs.length",
            "expected 6 digits (HS subheading) or 8 or 10 (HTS)",
        );
        ok = false;
    }
    // Chapter 77 is reserved in the HS; 98 and 99 are national special provisions, not an origin classification.
    let chapter_ok = digits
        .get(0..2)
        .is_some_and(|c| c != "77" && matches!(c.parse::<u8>(), Ok(1..=97)));
    if digits.len() >= 2 && !chapter_ok {
        report.add(
            pointer,
            "hs.chapter",
            "the chapter (first two digits) must be 01-97 and not 77",
        );
        ok = false;
    }
    ok.then(|| s.to_owned())
}

/// An upper-case ISO 3166-1 alpha-2 code.
pub(crate) fn country(report: &mut Report, pointer: &str, value: &Value) -> Option<String> {
    let s = string(report, pointer, value)?;
    if is_iso_alpha2(s) {
        Some(s.to_owned())
    } else {
        report.add(
            pointer,
            "country.iso3166",
            "expected an ISO 3166-1 alpha-2 country code in upper case (MX)",
        );
        None
    }
}

/// A plausibly formed e-mail address: one `@`, a local part without spaces, a dotted DNS domain.
pub(crate) fn email(report: &mut Report, pointer: &str, value: &Value) -> Option<String> {
    let s = string(report, pointer, value)?;
    if plausible_email(s) {
        Some(s.to_owned())
    } else {
        report.add(
            pointer,
            "email.format",
            "expected an e-mail address such as name@example.com",
        );
        None
    }
}

fn plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = (1..=64).contains(&local.len())
        && !local.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '@' | '"' | '<' | '>' | ',')
        });
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let tld_ok = labels
        .last()
        .is_some_and(|t| t.len() >= 2 && t.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-'));
    s.len() <= 254 && local_ok && labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok
}

/// A plausibly formed telephone (or fax) number: 7 to 15 digits (E.164 allows at most 15), an optional leading
/// `+`, the usual separators, and an optional extension (`ext. 204`, `x204`).
pub(crate) fn phone(report: &mut Report, pointer: &str, value: &Value) -> Option<String> {
    let s = string(report, pointer, value)?;
    if plausible_phone(s) {
        Some(s.to_owned())
    } else {
        report.add(
            pointer,
            "phone.format",
            "expected a telephone number of 7-15 digits, e.g. +1 313 555 0142",
        );
        None
    }
}

fn plausible_phone(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    let (main, extension) = match lower.split_once("ext").or_else(|| lower.split_once('x')) {
        Some((main, ext)) => (main, Some(ext.trim_start_matches('.').trim())),
        None => (lower.as_str(), None),
    };
    let main = main.trim();
    let extension_ok = extension
        .is_none_or(|e| (1..=6).contains(&e.len()) && e.bytes().all(|b| b.is_ascii_digit()));
    let digits = main.bytes().filter(u8::is_ascii_digit).count();
    let chars_ok = main.char_indices().all(|(i, c)| {
        c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')' | '.' | '/') || (c == '+' && i == 0)
    });
    extension_ok && chars_ok && (7..=15).contains(&digits)
}

/// A period of dates, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// First day covered.
    pub from: Date,
    /// Last day covered.
    pub to: Date,
}

/// A blanket period `{from, to}` with `from <= to <= from + 12 months` (USMCA Art. 5.2.5, 19 CFR 10.584(b),
/// 19 CFR 181.11(b)): rules `blanket.order` and `blanket.max-12-months`, both reported at `/to`.
pub(crate) fn blanket(report: &mut Report, pointer: &str, value: &Value) -> Option<Period> {
    let period = period(report, pointer, value, "blanket.order")?;
    let to_pointer = super::violation::child(pointer, "to");
    match period.from.add_months(12) {
        Some(limit) if period.to <= limit => Some(period),
        _ => {
            report.add(
                &to_pointer,
                "blanket.max-12-months",
                "a blanket period covers at most 12 months",
            );
            None
        }
    }
}

/// A period `{from, to}` with `from <= to` (rule `order_rule` at `/to`).
pub(crate) fn period(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    order_rule: &'static str,
) -> Option<Period> {
    let mut f = Fields::open(report, pointer, value)?;
    let from = f.required(report, "from", date);
    let to = f.required(report, "to", date);
    let to_pointer = f.pointer("to");
    f.finish(report);
    let (from, to) = (from?, to?);
    if from > to {
        report.add(
            &to_pointer,
            order_rule,
            "the period must not end before it starts",
        );
        return None;
    }
    Some(Period { from, to })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use serde_json::json;

    use super::*;

    /// The rule codes `read` reports for `value`.
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
        assert_eq!(
            out.is_some(),
            rules.is_empty(),
            "Some exactly when nothing was reported"
        );
        rules
    }

    #[test]
    fn hs_codes() {
        for ok in [
            "870830",
            "8708.30",
            "8708.30.50",
            "8708305010",
            "0702.00",
            "9701.21",
        ] {
            assert_eq!(rules(hs_code, json!(ok)), Vec::<&str>::new(), "{ok}");
        }
        assert_eq!(rules(hs_code, json!("8708 30")), ["hs.digits"]);
        assert_eq!(rules(hs_code, json!("8708-30")), ["hs.digits"]);
        assert_eq!(rules(hs_code, json!("８７０８３０")), ["hs.digits"]);
        assert_eq!(rules(hs_code, json!("87")), ["hs.length"]);
        assert_eq!(rules(hs_code, json!("8708301")), ["hs.length"]);
        assert_eq!(rules(hs_code, json!("")), ["hs.length"]);
        assert_eq!(rules(hs_code, json!("770110")), ["hs.chapter"]);
        assert_eq!(rules(hs_code, json!("990388")), ["hs.chapter"]);
        assert_eq!(rules(hs_code, json!("9817.00.50")), ["hs.chapter"]);
        assert_eq!(rules(hs_code, json!("0012")), ["hs.length", "hs.chapter"]);
        assert_eq!(rules(hs_code, json!(870830)), ["type"]);
    }

    #[test]
    fn countries() {
        assert!(rules(country, json!("MX")).is_empty());
        for bad in ["mx", "MEX", "XK", "", " MX"] {
            assert_eq!(rules(country, json!(bad)), ["country.iso3166"], "{bad}");
        }
    }

    #[test]
    fn emails() {
        for ok in [
            "a@b.co",
            "m.velazquez@bajio-autopartes.example.mx",
            "first+tag@sub.example.com",
        ] {
            assert!(rules(email, json!(ok)).is_empty(), "{ok}");
        }
        for bad in [
            "a@b",
            "@b.com",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
            "a@-b.com",
            "a@b.c",
            "a@b.com.",
            "a",
        ] {
            assert_eq!(rules(email, json!(bad)), ["email.format"], "{bad}");
        }
    }

    #[test]
    fn phones() {
        for ok in [
            "+1 313 555 0142",
            "(802) 555-0139",
            "+52 81 5550 1276",
            "+1 520 555 0191 ext. 204",
            "4615550123x12",
        ] {
            assert!(rules(phone, json!(ok)).is_empty(), "{ok}");
        }
        for bad in [
            "12345",
            "n/a",
            "+1 313 555 0142 ext.",
            "1+313 555 0142",
            "+1 313 555 0142 0000 0000",
            "call me",
        ] {
            assert_eq!(rules(phone, json!(bad)), ["phone.format"], "{bad}");
        }
    }

    #[test]
    fn blanket_periods() {
        let period = |from: &str, to: &str| json!({"from": from, "to": to});
        assert!(rules(blanket, period("2026-01-01", "2026-12-31")).is_empty());
        assert!(
            rules(blanket, period("2026-01-15", "2027-01-15")).is_empty(),
            "exactly 12 months"
        );
        assert!(
            rules(blanket, period("2026-05-05", "2026-05-05")).is_empty(),
            "one day"
        );
        assert!(
            rules(blanket, period("2024-02-29", "2025-02-28")).is_empty(),
            "leap day clamps"
        );
        assert_eq!(
            rules(blanket, period("2024-02-29", "2025-03-01")),
            ["blanket.max-12-months"]
        );
        assert_eq!(
            rules(blanket, period("2026-01-15", "2027-01-16")),
            ["blanket.max-12-months"]
        );
        assert_eq!(
            rules(blanket, period("2026-01-15", "2026-01-14")),
            ["blanket.order"]
        );
        assert_eq!(
            rules(blanket, period("2026-01-15", "2026-13-14")),
            ["date.calendar"]
        );
        assert_eq!(
            rules(blanket, json!({"from": "2026-01-15"})),
            ["field.required"]
        );
        assert_eq!(
            rules(blanket, json!({"from": "x", "to": "y", "until": "z"})),
            ["date.format", "date.format", "field.unknown"]
        );
    }
}
