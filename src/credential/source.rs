//! Where the mapping reads native fields from: a whole certificate body, or the fields a disclosure reveals.

use serde_json::Value;

/// What a source knows about one native field.
pub(crate) enum Lookup<'a> {
    /// The field has this value.
    Present(&'a Value),
    /// The field is known to be absent (only a whole body, or a disclosure of every field, knows that).
    Absent,
    /// The source does not say (a selective disclosure that left the field out).
    Unknown,
}

/// A view of a native certificate by JSON pointer.
pub(crate) trait Source {
    /// The field at `pointer` (a scalar leaf, or a whole array/object for a whole body).
    fn get(&self, pointer: &str) -> Lookup<'_>;
    /// The indices known under the array at `pointer`.
    fn indices(&self, pointer: &str) -> Vec<usize>;
}

/// A whole certificate body: every field is known, present or absent.
pub(crate) struct Body<'a>(pub(crate) &'a Value);

impl Source for Body<'_> {
    fn get(&self, pointer: &str) -> Lookup<'_> {
        match self.0.pointer(pointer) {
            Some(Value::Null) | None => Lookup::Absent,
            Some(value) => Lookup::Present(value),
        }
    }

    fn indices(&self, pointer: &str) -> Vec<usize> {
        match self.0.pointer(pointer) {
            Some(Value::Array(items)) => (0..items.len()).collect(),
            _ => Vec::new(),
        }
    }
}

/// The fields of a verified disclosure; `complete` when it disclosed every leaf of the committed body.
pub(crate) struct Disclosed<'a> {
    pub(crate) disclosure: &'a vault::Disclosure,
    pub(crate) complete: bool,
}

impl Source for Disclosed<'_> {
    fn get(&self, pointer: &str) -> Lookup<'_> {
        match self.disclosure.get(pointer) {
            Some(Value::Null) => Lookup::Absent,
            Some(value) => Lookup::Present(value),
            None if self.complete && !self.has_below(pointer) => Lookup::Absent,
            None => Lookup::Unknown,
        }
    }

    fn indices(&self, pointer: &str) -> Vec<usize> {
        let prefix = format!("{pointer}/");
        let mut found: Vec<usize> = self
            .disclosure
            .fields
            .iter()
            .filter_map(|f| f.pointer.strip_prefix(&prefix))
            .filter_map(|rest| rest.split('/').next()?.parse().ok())
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }
}

impl Disclosed<'_> {
    fn has_below(&self, pointer: &str) -> bool {
        let prefix = format!("{pointer}/");
        self.disclosure
            .fields
            .iter()
            .any(|f| f.pointer.starts_with(&prefix))
    }
}

/// A source that has every field (an empty string) and one element in every array: the mapping over it yields
/// every constant claim the credential type can have, at index 0 of each array.
pub(crate) struct Wildcard(pub(crate) Value);

impl Wildcard {
    pub(crate) fn new() -> Wildcard {
        Wildcard(Value::String(String::new()))
    }
}

impl Source for Wildcard {
    fn get(&self, _pointer: &str) -> Lookup<'_> {
        Lookup::Present(&self.0)
    }

    fn indices(&self, _pointer: &str) -> Vec<usize> {
        vec![0]
    }
}
