//! Walking a JSON value field by field, reporting every problem instead of stopping at the first.
//!
//! Each reader returns `Some(value)` only when it reported nothing for that value, and `None` after reporting at
//! least one violation, so a regime can build its typed struct exactly when the report is clean.

use serde_json::{Map, Value};

use super::date::{Date, DateError};
use super::violation::{Report, child};

/// Longest accepted name, title, street, tax id or similar short text, in characters.
pub(crate) const SHORT_TEXT: usize = 200;
/// Longest accepted goods description or rule-of-origin text, in characters.
pub(crate) const LONG_TEXT: usize = 2000;
/// Most goods (or producers) one certificate may list.
pub(crate) const MAX_ITEMS: usize = 1000;

/// An object being read: which of its keys the schema consumed, so the rest can be reported as unknown.
pub(crate) struct Fields<'v> {
    pointer: String,
    map: &'v Map<String, Value>,
    seen: Vec<&'static str>,
}

/// The result of reading an optional field: `Some(None)` when absent, `None` when present but invalid.
pub(crate) type Optional<T> = Option<Option<T>>;

impl<'v> Fields<'v> {
    /// Starts reading `value` as an object, reporting `type` if it is not one.
    pub(crate) fn open(report: &mut Report, pointer: &str, value: &'v Value) -> Option<Fields<'v>> {
        match value {
            Value::Object(map) => Some(Fields {
                pointer: pointer.to_owned(),
                map,
                seen: Vec::new(),
            }),
            _ => {
                report.add(
                    pointer,
                    "type",
                    format!("expected an object, found {}", kind(value)),
                );
                None
            }
        }
    }

    /// The value of `key`, `None` when absent or `null` (both mean "not given").
    pub(crate) fn get(&mut self, key: &'static str) -> Option<&'v Value> {
        self.seen.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// The value of `key` without reading it (for rules that depend on another field, whatever that field's
    /// own violations).
    pub(crate) fn peek(&self, key: &str) -> Option<&'v Value> {
        self.map.get(key)
    }

    /// The pointer of `key` in this object.
    pub(crate) fn pointer(&self, key: &str) -> String {
        child(&self.pointer, key)
    }

    /// Reads a required field with `read`, reporting `field.required` when it is absent.
    pub(crate) fn required<T>(
        &mut self,
        report: &mut Report,
        key: &'static str,
        read: impl FnOnce(&mut Report, &str, &'v Value) -> Option<T>,
    ) -> Option<T> {
        self.required_as(
            report,
            key,
            "field.required",
            "this field is required",
            read,
        )
    }

    /// [`Fields::required`] with a specific rule code for the missing field (a conditional requirement).
    pub(crate) fn required_as<T>(
        &mut self,
        report: &mut Report,
        key: &'static str,
        rule: &'static str,
        message: &str,
        read: impl FnOnce(&mut Report, &str, &'v Value) -> Option<T>,
    ) -> Option<T> {
        let pointer = self.pointer(key);
        match self.get(key) {
            Some(value) => read(report, &pointer, value),
            None => {
                report.add(&pointer, rule, message);
                None
            }
        }
    }

    /// Reads an optional field with `read`.
    pub(crate) fn optional<T>(
        &mut self,
        report: &mut Report,
        key: &'static str,
        read: impl FnOnce(&mut Report, &str, &'v Value) -> Option<T>,
    ) -> Optional<T> {
        let pointer = self.pointer(key);
        match self.get(key) {
            Some(value) => read(report, &pointer, value).map(Some),
            None => Some(None),
        }
    }

    /// Reports every key the schema did not read as `field.unknown`: a misspelt optional field would otherwise be
    /// silently dropped from a legal document.
    pub(crate) fn finish(self, report: &mut Report) {
        for key in self.map.keys() {
            if !self.seen.contains(&key.as_str()) {
                report.add(
                    &child(&self.pointer, key),
                    "field.unknown",
                    "this field is not part of the schema",
                );
            }
        }
    }
}

/// The JSON type of `value`, for messages (never the value itself).
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string, reporting `type` otherwise.
pub(crate) fn string<'v>(report: &mut Report, pointer: &str, value: &'v Value) -> Option<&'v str> {
    match value {
        Value::String(s) => Some(s),
        _ => {
            report.add(
                pointer,
                "type",
                format!("expected a string, found {}", kind(value)),
            );
            None
        }
    }
}

/// A boolean, reporting `type` otherwise.
pub(crate) fn boolean(report: &mut Report, pointer: &str, value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        _ => {
            report.add(
                pointer,
                "type",
                format!("expected true or false, found {}", kind(value)),
            );
            None
        }
    }
}

/// Non-blank text of at most `max` characters without control characters other than line breaks and tabs.
pub(crate) fn text(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    max: usize,
) -> Option<String> {
    let s = string(report, pointer, value)?;
    if s.trim().is_empty() {
        report.add(pointer, "text.empty", "must not be empty or blank");
        return None;
    }
    let mut ok = true;
    if s.chars().count() > max {
        report.add(
            pointer,
            "text.too-long",
            format!("must be at most {max} characters"),
        );
        ok = false;
    }
    if s.chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        report.add(
            pointer,
            "text.control",
            "must not contain control characters",
        );
        ok = false;
    }
    ok.then(|| s.to_owned())
}

/// Short text (names, titles, numbers): see [`text`].
pub(crate) fn short(report: &mut Report, pointer: &str, value: &Value) -> Option<String> {
    text(report, pointer, value, SHORT_TEXT)
}

/// Long text (descriptions, rules of origin): see [`text`].
pub(crate) fn long(report: &mut Report, pointer: &str, value: &Value) -> Option<String> {
    text(report, pointer, value, LONG_TEXT)
}

/// One of a closed set of strings, reporting `value.enum` with the accepted spellings otherwise.
pub(crate) fn choice<T: Copy>(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    choices: &[(&str, T)],
) -> Option<T> {
    choice_as(report, pointer, value, choices, "value.enum")
}

/// [`choice`] with a specific rule code (e.g. `origin.criterion`).
pub(crate) fn choice_as<T: Copy>(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    choices: &[(&str, T)],
    rule: &'static str,
) -> Option<T> {
    choice_said(report, pointer, value, choices, rule, "expected one of")
}

/// [`choice_as`] with the message's lead-in, for fields where the strings are one alternative among others.
pub(crate) fn choice_said<T: Copy>(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    choices: &[(&str, T)],
    rule: &'static str,
    lead: &str,
) -> Option<T> {
    let s = string(report, pointer, value)?;
    let found = choices.iter().find(|(name, _)| *name == s).map(|(_, v)| *v);
    if found.is_none() {
        let names: Vec<String> = choices
            .iter()
            .map(|(name, _)| format!("\"{name}\""))
            .collect();
        report.add(pointer, rule, format!("{lead} {}", names.join(", ")));
    }
    found
}

/// A non-empty array of at most [`MAX_ITEMS`] items, each read with `item`; every item is read even after a
/// bad one so all their violations are reported.
pub(crate) fn list<'v, T>(
    report: &mut Report,
    pointer: &str,
    value: &'v Value,
    mut item: impl FnMut(&mut Report, &str, &'v Value) -> Option<T>,
) -> Option<Vec<T>> {
    let Value::Array(items) = value else {
        report.add(
            pointer,
            "type",
            format!("expected an array, found {}", kind(value)),
        );
        return None;
    };
    if items.is_empty() {
        report.add(pointer, "list.empty", "must list at least one item");
        return None;
    }
    if items.len() > MAX_ITEMS {
        report.add(
            pointer,
            "list.too-long",
            format!("must list at most {MAX_ITEMS} items"),
        );
        return None;
    }
    let read: Vec<Option<T>> = items
        .iter()
        .enumerate()
        .map(|(i, v)| item(report, &child(pointer, &i.to_string()), v))
        .collect();
    read.into_iter().collect()
}

/// A calendar date `YYYY-MM-DD` (ISO 8601): `date.format` for the wrong shape, `date.calendar` for a day that
/// does not exist.
pub(crate) fn date(report: &mut Report, pointer: &str, value: &Value) -> Option<Date> {
    let s = string(report, pointer, value)?;
    match Date::parse_checked(s) {
        Ok(d) => Some(d),
        Err(DateError::Format) => {
            report.add(pointer, "date.format", "expected a date written YYYY-MM-DD");
            None
        }
        Err(DateError::Calendar) => {
            report.add(
                pointer,
                "date.calendar",
                "expected a real calendar date (YYYY-MM-DD)",
            );
            None
        }
    }
}
