//! The pieces the vocabulary's credential schemas share: the `@context` and `type` constants, URIs, RFC 3339
//! date-times, `credentialSchema`, organizations, places and postal addresses.
//!
//! The vocabulary types these fields as plain strings; only where it says `format` (`uri`, `date-time`, `date`)
//! is the text checked, so a credential valid under the vocabulary is not refused for writing `Mexico` where
//! tradeledger's own schemas would ask for `MX`.

use serde_json::Value;

use crate::cert::date::Date;
use crate::cert::violation::{Report, child};
use crate::cert::walk::{Fields, boolean, kind, string};

/// The `@context` every credential of the vocabulary declares, in this order.
pub(crate) const CONTEXT: [&str; 2] = [
    "https://www.w3.org/ns/credentials/v2",
    "https://w3id.org/traceability/v1",
];

/// The value of `credentialSchema.type` the vocabulary allows.
const SCHEMA_VALIDATOR: &str = "OpenApiSpecificationValidator2022";

/// An array that must be exactly `expected` (the vocabulary's `const` arrays): rule `value.const`.
pub(crate) fn constant(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    expected: &[&str],
) -> Option<()> {
    let matches = value.as_array().is_some_and(|items| {
        items.len() == expected.len() && items.iter().zip(expected).all(|(i, e)| i == e)
    });
    if matches {
        return Some(());
    }
    let listed: Vec<String> = expected.iter().map(|e| format!("\"{e}\"")).collect();
    report.add(
        pointer,
        "value.const",
        format!("expected exactly [{}]", listed.join(", ")),
    );
    None
}

/// A string field: the vocabulary's `type: string`, nothing more.
pub(crate) fn text(report: &mut Report, pointer: &str, value: &Value) -> Option<String> {
    string(report, pointer, value).map(str::to_owned)
}

/// A number field (`type: number`).
pub(crate) fn number(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    if value.is_number() {
        Some(())
    } else {
        report.add(
            pointer,
            "type",
            format!("expected a number, found {}", kind(value)),
        );
        None
    }
}

/// A flag (`type: boolean`).
pub(crate) fn flag(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    boolean(report, pointer, value).map(|_| ())
}

/// An absolute URI (`format: uri`, RFC 3986 §3: a scheme, a colon, no spaces or control characters):
/// rule `uri.format`.
pub(crate) fn uri(report: &mut Report, pointer: &str, value: &Value) -> Option<String> {
    let s = string(report, pointer, value)?;
    let scheme_ok = s.split_once(':').is_some_and(|(scheme, _)| {
        scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    });
    let chars_ok = !s
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '\\'));
    if scheme_ok && chars_ok {
        Some(s.to_owned())
    } else {
        report.add(
            pointer,
            "uri.format",
            "expected an absolute URI such as https://example.com/x or did:web:example.com",
        );
        None
    }
}

/// An RFC 3339 §5.6 `date-time` (`2026-03-01T00:00:00Z`, fractions and offsets allowed), returned as the
/// calendar date it names as written: rule `datetime.format`, or `date.calendar` for a day that does not exist.
pub(crate) fn date_time(report: &mut Report, pointer: &str, value: &Value) -> Option<Date> {
    let s = string(report, pointer, value)?;
    match parse_date_time(s) {
        Some(Ok(d)) => Some(d),
        Some(Err(())) => {
            report.add(pointer, "date.calendar", "expected a real calendar date");
            None
        }
        None => {
            report.add(
                pointer,
                "datetime.format",
                "expected an RFC 3339 date-time such as 2026-03-01T00:00:00Z",
            );
            None
        }
    }
}

/// `None` for the wrong shape, `Some(Err)` for a well-formed text naming a day that does not exist.
fn parse_date_time(s: &str) -> Option<Result<Date, ()>> {
    let (day, rest) = (s.get(..10)?, s.get(10..)?);
    let rest = rest.strip_prefix(['T', 't'])?;
    let b = rest.as_bytes();
    let two = |i: usize| -> Option<u8> {
        let (h, l) = (*b.get(i)?, *b.get(i + 1)?);
        (h.is_ascii_digit() && l.is_ascii_digit()).then(|| (h - b'0') * 10 + (l - b'0'))
    };
    let (hour, minute, second) = (two(0)?, two(3)?, two(6)?);
    if b.get(2) != Some(&b':') || b.get(5) != Some(&b':') {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut zone = rest.get(8..)?;
    if let Some(fraction) = zone.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        zone = fraction.get(digits..)?;
    }
    let zone_ok = matches!(zone, "Z" | "z")
        || (zone.len() == 6
            && zone.starts_with(['+', '-'])
            && zone.as_bytes().get(3) == Some(&b':')
            && zone.get(1..3).zip(zone.get(4..6)).is_some_and(|(h, m)| {
                matches!(h.parse::<u8>(), Ok(0..=23))
                    && matches!(m.parse::<u8>(), Ok(0..=59))
                    && h.bytes().chain(m.bytes()).all(|c| c.is_ascii_digit())
            }));
    if !zone_ok {
        return None;
    }
    match Date::parse_checked(day) {
        Ok(d) => Some(Ok(d)),
        Err(crate::cert::date::DateError::Calendar) => Some(Err(())),
        Err(crate::cert::date::DateError::Format) => None,
    }
}

/// `credentialSchema`: an object with an optional URI `id` and `type` `OpenApiSpecificationValidator2022`
/// (the vocabulary does not close this object).
pub(crate) fn credential_schema(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let id = f.optional(report, "id", uri);
    let kind = f.optional(report, "type", |r, p, v| {
        if v.as_str() == Some(SCHEMA_VALIDATOR) {
            Some(())
        } else {
            r.add(p, "value.const", format!("expected \"{SCHEMA_VALIDATOR}\""));
            None
        }
    });
    id?;
    kind?;
    Some(())
}

/// Which fields an organization object of the vocabulary has beyond `type`, and which of them are required.
pub(crate) struct OrgSpec {
    /// Optional string fields.
    pub(crate) strings: &'static [&'static str],
    /// Required string fields.
    pub(crate) required: &'static [&'static str],
    /// Optional fields that must be URIs (`format: uri`).
    pub(crate) uris: &'static [&'static str],
    /// Whether a `location` (a `Place` with a `PostalAddress`) may be given.
    pub(crate) location: bool,
    /// The rule a postal address's country must meet, if any (the regime's territory).
    pub(crate) territory: Option<Territory>,
}

/// Countries an address may name, by ISO code or by name: `rule` is reported at `addressCountry` otherwise.
#[derive(Clone, Copy)]
pub(crate) struct Territory {
    /// Accepted spellings, compared without regard to case.
    pub(crate) spellings: &'static [&'static str],
    /// The rule code.
    pub(crate) rule: &'static str,
    /// The territory, for the message.
    pub(crate) name: &'static str,
}

/// An `Organization` object (closed: unknown fields are reported) with `type` `["Organization"]` required.
pub(crate) fn organization(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    spec: &OrgSpec,
) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = f
        .required(report, "type", |r, p, v| {
            constant(r, p, v, &["Organization"])
        })
        .is_some();
    for key in spec.uris {
        ok &= f.optional(report, key, uri).is_some();
    }
    for key in spec.required {
        ok &= f.required(report, key, text).is_some();
    }
    for key in spec.strings {
        ok &= f.optional(report, key, text).is_some();
    }
    if spec.location {
        ok &= f
            .optional(report, "location", |r, p, v| {
                location(r, p, v, spec.territory)
            })
            .is_some();
    }
    f.finish(report);
    ok.then_some(())
}

/// A `Place` with an optional `PostalAddress` (the vocabulary leaves `Place` open, the address closed).
pub(crate) fn location(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    territory: Option<Territory>,
) -> Option<()> {
    place(report, pointer, value, territory, false)
}

/// [`location`], with `named` passed on to [`postal_address`].
fn place(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    territory: Option<Territory>,
    named: bool,
) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let kind = f.optional(report, "type", |r, p, v| constant(r, p, v, &["Place"]));
    let address = f.optional(report, "address", |r, p, v| {
        postal_address(r, p, v, territory, named)
    });
    kind?;
    address?;
    Some(())
}

/// The members both credentials' issuers share: `type` `Organization` and `id` (a URI) required, `name` and a
/// `location` optional. The location may be in any country (the certifier may be the importer's agent);
/// `named_address` admits the address `name` the vocabulary gives the generic issuer. The caller reads its own
/// members, then finishes `f`. Returns whether every member read was valid.
pub(crate) fn issuer_members(report: &mut Report, f: &mut Fields<'_>, named_address: bool) -> bool {
    let mut ok = f
        .required(report, "type", |r, p, v| {
            constant(r, p, v, &["Organization"])
        })
        .is_some();
    ok &= f.required(report, "id", uri).is_some();
    ok &= maybe(f, report, "name", |r, p, v| text(r, p, v).map(|_| ()));
    ok &= maybe(f, report, "location", |r, p, v| {
        place(r, p, v, None, named_address)
    });
    ok
}

/// A closed `PostalAddress` with `type` `["PostalAddress"]` required; `named` admits the `name` field the
/// issuer's address has in the vocabulary.
pub(crate) fn postal_address(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    territory: Option<Territory>,
    named: bool,
) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = f
        .required(report, "type", |r, p, v| {
            constant(r, p, v, &["PostalAddress"])
        })
        .is_some();
    let mut keys = vec![
        "streetAddress",
        "addressLocality",
        "addressRegion",
        "postalCode",
    ];
    if named {
        keys.push("name");
    }
    for key in keys {
        ok &= f.optional(report, key, text).is_some();
    }
    ok &= f
        .optional(report, "addressCountry", |r, p, v| {
            let country = text(r, p, v)?;
            match territory {
                Some(t)
                    if !t
                        .spellings
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(country.trim())) =>
                {
                    r.add(p, t.rule, format!("the address must be in {}", t.name));
                    None
                }
                _ => Some(()),
            }
        })
        .is_some();
    f.finish(report);
    ok.then_some(())
}

/// Reads `key` of `f` with `read` when present; absent is fine.
pub(crate) fn maybe(
    f: &mut Fields<'_>,
    report: &mut Report,
    key: &'static str,
    read: impl FnOnce(&mut Report, &str, &Value) -> Option<()>,
) -> bool {
    f.optional(report, key, |r, p, v| read(r, p, v)).is_some()
}

/// An array of `min..=max` items, each read with `item` (all of them, so every violation is reported).
pub(crate) fn array(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    min: usize,
    max: usize,
    mut item: impl FnMut(&mut Report, &str, &Value) -> Option<()>,
) -> Option<()> {
    let Value::Array(items) = value else {
        report.add(
            pointer,
            "type",
            format!("expected an array, found {}", kind(value)),
        );
        return None;
    };
    if items.len() < min {
        report.add(pointer, "list.empty", "must list at least one item");
        return None;
    }
    if items.len() > max {
        report.add(
            pointer,
            "list.too-long",
            format!("must list at most {max} items"),
        );
        return None;
    }
    let mut ok = true;
    for (i, v) in items.iter().enumerate() {
        let p = child(pointer, &i.to_string());
        ok &= item(report, &p, v).is_some();
    }
    ok.then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times_follow_rfc3339() {
        for ok in [
            "2026-03-01T00:00:00Z",
            "2026-03-01T23:59:60Z",
            "2026-03-01t10:00:00.123z",
            "2026-03-01T10:00:00-06:00",
            "2024-02-29T10:00:00+05:30",
        ] {
            assert!(matches!(parse_date_time(ok), Some(Ok(_))), "{ok}");
        }
        for bad in [
            "2026-03-01",
            "2026-03-01 10:00:00Z",
            "2026-03-01T10:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01T10:00:00",
            "2026-03-01T10:00:00.Z",
            "2026-03-01T10:00:00+0600",
            "2026-3-01T10:00:00Z",
            "",
        ] {
            assert_eq!(parse_date_time(bad), None, "{bad}");
        }
        assert_eq!(parse_date_time("2026-02-30T10:00:00Z"), Some(Err(())));
    }

    #[test]
    fn uris_need_a_scheme() {
        let mut report = Report::default();
        for ok in [
            "https://example.com/x",
            "did:web:example.com",
            "urn:uuid:0b7a4c5e-2f4a-4c1e-9d3e-2c6f1e9b8a10",
        ] {
            assert!(uri(&mut report, "", &Value::from(ok)).is_some(), "{ok}");
        }
        for bad in ["example.com", "1http://x", "https://ex ample.com", ":x"] {
            assert!(uri(&mut report, "", &Value::from(bad)).is_none(), "{bad}");
        }
    }
}
