//! A JSON object parser that refuses repeated members, for JOSE headers and JWKs (RFC 7515 §4: a header
//! with duplicate names must be rejected or resolved; rejecting leaves no two readings of one token).

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as one JSON object whose top-level member names are all distinct.
pub(crate) fn object(bytes: &[u8]) -> Result<Map<String, Value>, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let object = de
        .deserialize_map(UniqueObject)
        .map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(object)
}

struct UniqueObject;

impl<'de> Visitor<'de> for UniqueObject {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut object = Map::new();
        while let Some((name, value)) = access.next_entry::<String, Value>()? {
            if object.contains_key(&name) {
                return Err(de::Error::custom(format!("member {name:?} appears twice")));
            }
            object.insert(name, value);
        }
        Ok(object)
    }
}
