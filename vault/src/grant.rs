//! Grant commitments: a public, hiding commitment to (certificate, recipient), opened by the grant salt
//! that travels only inside that recipient's envelope (design.md, "Commitments").

use ledger::Hash;
use rand::Rng;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{CertId, Error, PartyId, Result};

const GRANT_TAG: &[u8] = b"tradeledger/grant/v1";

/// A grant's random 256-bit salt. Whoever holds it can link the grant commitment to the recipient, so it
/// is kept secret: zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct GrantSalt([u8; 32]);

impl GrantSalt {
    /// A fresh random grant salt (one per grant).
    pub fn generate() -> GrantSalt {
        let mut salt = [0u8; 32];
        rand::rng().fill_bytes(&mut salt);
        GrantSalt(salt)
    }

    /// Wraps raw salt bytes (from an opened envelope).
    pub fn from_bytes(bytes: [u8; 32]) -> GrantSalt {
        GrantSalt(bytes)
    }

    /// The raw salt bytes.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

/// SHA-256("tradeledger/grant/v1" || 0x00 || cert id (16) || u16 BE len || party id || grant salt (32)).
///
/// The length prefix keeps (id, salt) pairs unambiguous; the 0x00 ends the domain tag.
pub fn grant_commitment(cert_id: &CertId, party: &PartyId, salt: &GrantSalt) -> Result<Hash> {
    let id = party.as_str().as_bytes();
    let len = u16::try_from(id.len()).map_err(|_| Error::InvalidPartyId("too long".into()))?;
    let mut h = Sha256::new();
    h.update(GRANT_TAG);
    h.update([0x00]);
    h.update(cert_id.as_bytes());
    h.update(len.to_be_bytes());
    h.update(id);
    h.update(salt.expose_secret());
    Ok(h.finalize().into())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn matches_the_documented_layout() {
        let cert = CertId([0x11; 16]);
        let party = PartyId::new("cbp").unwrap();
        let salt = GrantSalt::from_bytes([0x22; 32]);
        let mut preimage = b"tradeledger/grant/v1\x00".to_vec();
        preimage.extend([0x11; 16]);
        preimage.extend([0x00, 0x03]);
        preimage.extend(b"cbp");
        preimage.extend([0x22; 32]);
        let want: Hash = Sha256::digest(&preimage).into();
        assert_eq!(grant_commitment(&cert, &party, &salt).unwrap(), want);
    }

    #[test]
    fn every_input_changes_the_commitment() {
        let cert = CertId([1; 16]);
        let party = PartyId::new("acme").unwrap();
        let salt = GrantSalt::from_bytes([2; 32]);
        let base = grant_commitment(&cert, &party, &salt).unwrap();
        let others = [
            grant_commitment(&CertId([3; 16]), &party, &salt).unwrap(),
            grant_commitment(&cert, &PartyId::new("acmf").unwrap(), &salt).unwrap(),
            grant_commitment(&cert, &party, &GrantSalt::from_bytes([4; 32])).unwrap(),
        ];
        assert!(others.iter().all(|other| *other != base));
    }
}
