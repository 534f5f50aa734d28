//! Certificate ids, party ids and roles, as the vault needs them.
//!
//! The ledger crate is expected to own these types; until it does, the vault defines them here with the
//! shapes of docs/architecture.md (16-byte certificate ids, validated party-id strings, seven roles).

use std::fmt;
use std::str::FromStr;

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A certificate id: 16 random bytes, written as 32 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CertId([u8; 16]);

impl CertId {
    /// A fresh random certificate id.
    pub fn random() -> CertId {
        let mut id = [0u8; 16];
        rand::rng().fill_bytes(&mut id);
        CertId(id)
    }

    /// Wraps raw id bytes.
    pub fn from_bytes(bytes: [u8; 16]) -> CertId {
        CertId(bytes)
    }

    /// The raw id bytes, as bound into every encryption and commitment.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for CertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for CertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertId({self})")
    }
}

impl FromStr for CertId {
    type Err = Error;

    fn from_str(s: &str) -> Result<CertId> {
        let malformed = |reason: &str| Error::Malformed {
            what: "certificate id",
            reason: reason.to_owned(),
        };
        if s.len() != 32 || s.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(malformed("expected 32 lowercase hex digits"));
        }
        let mut id = [0u8; 16];
        hex::decode_to_slice(s, &mut id)
            .map_err(|_| malformed("expected 32 lowercase hex digits"))?;
        Ok(CertId(id))
    }
}

impl Serialize for CertId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CertId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<CertId, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A party id: 1 to 64 bytes of lowercase ASCII letters, digits, `.`, `-` and `_`, starting with a letter
/// or digit (so it is safe in file names, URLs and log lines).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PartyId(String);

impl PartyId {
    /// Validates a party id.
    pub fn new(id: impl Into<String>) -> Result<PartyId> {
        let id = id.into();
        let valid_char =
            |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b);
        let starts_well = id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
        if id.len() > 64 || !starts_well || !id.bytes().all(valid_char) {
            return Err(Error::InvalidPartyId(
                "1-64 characters of a-z, 0-9, '.', '-', '_', starting with a letter or digit"
                    .into(),
            ));
        }
        Ok(PartyId(id))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PartyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for PartyId {
    type Err = Error;

    fn from_str(s: &str) -> Result<PartyId> {
        PartyId::new(s)
    }
}

impl TryFrom<String> for PartyId {
    type Error = Error;

    fn try_from(s: String) -> Result<PartyId> {
        PartyId::new(s)
    }
}

impl From<PartyId> for String {
    fn from(id: PartyId) -> String {
        id.0
    }
}

/// What a party is to the system (design.md, "Identities and authorization").
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Registers certificates for goods it imports.
    Importer,
    /// Registers certificates for goods it exports.
    Exporter,
    /// Registers certificates for goods it produces.
    Producer,
    /// A customs broker acting for an importer.
    Broker,
    /// A customs authority (e.g. CBP).
    Customs,
    /// Checks the log and disclosures; never holds envelopes.
    Auditor,
    /// Runs the service and enrolls parties.
    Operator,
}

impl Role {
    /// The role's name as written in files and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Importer => "importer",
            Role::Exporter => "exporter",
            Role::Producer => "producer",
            Role::Broker => "broker",
            Role::Customs => "customs",
            Role::Auditor => "auditor",
            Role::Operator => "operator",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = Error;

    fn from_str(s: &str) -> Result<Role> {
        const ALL: [Role; 7] = [
            Role::Importer,
            Role::Exporter,
            Role::Producer,
            Role::Broker,
            Role::Customs,
            Role::Auditor,
            Role::Operator,
        ];
        ALL.into_iter()
            .find(|role| role.as_str() == s)
            .ok_or_else(|| Error::UnknownRole(s.chars().take(32).collect()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn party_ids_are_validated() {
        for good in ["cbp", "acme-imports.us", "a", "x_1"] {
            assert_eq!(PartyId::new(good).unwrap().as_str(), good);
        }
        for bad in ["", "-x", "Acme", "a b", "a/b", &"a".repeat(65)] {
            assert!(PartyId::new(bad).is_err(), "{bad:?}");
        }
        assert!(serde_json::from_str::<PartyId>("\"UPPER\"").is_err());
    }

    #[test]
    fn cert_ids_round_trip_as_hex() {
        let id = CertId::random();
        assert_eq!(id.to_string().parse::<CertId>().unwrap(), id);
        assert!("00".parse::<CertId>().is_err());
        assert!("A".repeat(32).parse::<CertId>().is_err());
    }

    #[test]
    fn roles_round_trip() {
        for name in ["importer", "customs", "operator"] {
            assert_eq!(name.parse::<Role>().unwrap().as_str(), name);
        }
        assert!("king".parse::<Role>().is_err());
    }
}
