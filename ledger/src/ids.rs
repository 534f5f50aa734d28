//! Identifiers carried by log entries: party ids, certificate ids and party roles.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The longest party id, in bytes.
pub const MAX_PARTY_ID_LEN: usize = 64;

/// A party identifier: 1..=64 bytes of `[a-z0-9][a-z0-9._-]*`.
///
/// The alphabet keeps ids safe in file names, URLs, Cedar entity ids and log lines without escaping.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartyId(String);

impl PartyId {
    /// Validates `id` as a party id.
    pub fn new(id: &str) -> Result<Self, Error> {
        Self::from_bytes(id.as_bytes())
    }

    /// Validates raw bytes (e.g. from an encoded entry) as a party id.
    pub fn from_bytes(id: &[u8]) -> Result<Self, Error> {
        let valid_first = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        let valid_rest = |b: &u8| valid_first(b) || matches!(b, b'.' | b'_' | b'-');
        match id.split_first() {
            Some((first, rest))
                if id.len() <= MAX_PARTY_ID_LEN
                    && valid_first(first)
                    && rest.iter().all(valid_rest) =>
            {
                // Only ASCII passed the checks above, so this is valid UTF-8.
                let s = std::str::from_utf8(id).map_err(|_| Error::InvalidPartyId)?;
                Ok(Self(s.to_owned()))
            }
            _ => Err(Error::InvalidPartyId),
        }
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

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::new(s)
    }
}

/// A certificate identifier: 16 random bytes, written as 32 lowercase hex digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CertId(pub [u8; 16]);

impl CertId {
    /// A fresh random certificate id.
    pub fn random() -> Self {
        Self(rand::random())
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for CertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for CertId {
    type Err = Error;

    /// Parses exactly 32 lowercase hex digits.
    fn from_str(s: &str) -> Result<Self, Error> {
        let digit = |c: u8| match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            _ => Err(Error::InvalidCertId),
        };
        if s.len() != 32 {
            return Err(Error::InvalidCertId);
        }
        let mut out = [0u8; 16];
        for (byte, pair) in out.iter_mut().zip(s.as_bytes().chunks_exact(2)) {
            if let [hi, lo] = pair {
                *byte = (digit(*hi)? << 4) | digit(*lo)?;
            }
        }
        Ok(Self(out))
    }
}

/// A party's role. The numeric codes are part of the entry encoding and never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Role {
    /// Imports goods; registers certificates.
    Importer,
    /// Exports goods; registers certificates.
    Exporter,
    /// Produces goods; registers certificates.
    Producer,
    /// A customs broker acting for a trader.
    Broker,
    /// A customs authority (e.g. CBP).
    Customs,
    /// Checks the log; holds no keys to certificates.
    Auditor,
    /// Runs the service and enrolls parties.
    Operator,
}

impl Role {
    /// Every role, in code order.
    pub const ALL: [Role; 7] = [
        Role::Importer,
        Role::Exporter,
        Role::Producer,
        Role::Broker,
        Role::Customs,
        Role::Auditor,
        Role::Operator,
    ];

    /// The role's code in the entry encoding (1..=7).
    pub fn code(self) -> u8 {
        match self {
            Role::Importer => 1,
            Role::Exporter => 2,
            Role::Producer => 3,
            Role::Broker => 4,
            Role::Customs => 5,
            Role::Auditor => 6,
            Role::Operator => 7,
        }
    }

    /// The role with this code.
    pub fn from_code(code: u8) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|r| r.code() == code)
            .ok_or(Error::UnknownRole)
    }

    /// The role's lowercase name, as used on the command line and in policies.
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

    fn from_str(s: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or(Error::UnknownRole)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn party_ids_follow_the_alphabet() {
        for good in ["a", "0", "acme-imports", "cbp.gov", "a_b", &"x".repeat(64)] {
            assert_eq!(PartyId::new(good).unwrap().as_str(), good);
        }
        for bad in [
            "",
            "-a",
            ".a",
            "_a",
            "A",
            "a b",
            "a/b",
            "é",
            &"x".repeat(65),
            "a\n",
        ] {
            assert!(PartyId::new(bad).is_err(), "{bad:?}");
        }
        assert!(PartyId::from_bytes(&[b'a', 0xff]).is_err());
    }

    #[test]
    fn cert_ids_are_lowercase_hex() {
        let id = CertId([0xab; 16]);
        assert_eq!(id.to_string(), "ab".repeat(16));
        assert_eq!(id.to_string().parse::<CertId>().unwrap(), id);
        for bad in [
            "AB".repeat(16),
            "ab".repeat(15),
            "ab".repeat(17),
            format!("{}zz", "ab".repeat(15)),
            "é".repeat(16),
        ] {
            assert!(bad.parse::<CertId>().is_err(), "{bad}");
        }
        assert_ne!(CertId::random(), CertId::random());
    }

    #[test]
    fn roles_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::from_code(role.code()).unwrap(), role);
            assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
        }
        assert!(Role::from_code(0).is_err());
        assert!(Role::from_code(8).is_err());
        assert!("Importer".parse::<Role>().is_err());
    }
}
