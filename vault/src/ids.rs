//! Certificate ids, party ids and roles: the ledger's types, so an id means the same thing on the log and in
//! the vault.

pub use ledger::{CertId, PartyId, Role};
