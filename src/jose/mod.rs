//! JOSE for credentials: strict base64url, `did:jwk` for Ed25519 keys, and compact JWS with `alg` `EdDSA`.
//!
//! The public interface is:
//! - [`b64`]: base64url without padding, refusing padding and non-canonical trailing bits (RFC 7515 §2);
//! - [`did_jwk`]: `did:jwk:<base64url(JWK)>` of an Ed25519 key and its verification method `#0`;
//! - [`jws`]: [`jws::sign`] and [`jws::verify`] of compact JWS (RFC 7515 §7.1, RFC 8037 §3.1, `EdDSA` only);
//! - [`JoseError`]: every way untrusted JOSE input is refused, each naming what was wrong.
//!
//! Only Ed25519 (through the project's ed25519-dalek, `verify_strict`) is supported: the keys that sign here are
//! the parties' enrolled signing keys, so nothing else could be checked against the log anyway.

pub mod b64;
pub mod did_jwk;
mod error;
pub mod jws;
mod strict_json;
#[cfg(test)]
mod tests;

pub use error::JoseError;
