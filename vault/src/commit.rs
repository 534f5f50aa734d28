//! Document commitments: an RFC 6962 Merkle root over a certificate's salted JSON-pointer leaves
//! (docs/formats.md, "Leaf encoding" and "Document commitment").

use rand::Rng;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The random 256-bit master salt from which every per-field salt of one document is derived. It travels
/// only inside the body ciphertext: secret, zeroized on drop, never printed.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterSalt([u8; 32]);

impl MasterSalt {
    /// A fresh random master salt (one per certificate).
    pub fn generate() -> MasterSalt {
        let mut salt = [0u8; 32];
        rand::rng().fill_bytes(&mut salt);
        MasterSalt(salt)
    }

    /// Wraps raw salt bytes (from an opened body).
    pub fn from_bytes(bytes: [u8; 32]) -> MasterSalt {
        MasterSalt(bytes)
    }

    /// The raw salt bytes.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}
