//! Authorization by Cedar policies: who may enroll, register, grant, revoke, purge, fetch and read.
//!
//! The policies and their schema are files in a directory (`policies/` by default), loaded and validated at
//! start; the server asks one typed question per request ([`Authorizer::authorize`]) and never writes Cedar text.
//! How the default rules map to design.md is in docs/architecture.md, "Authorization and request signatures".

mod authorizer;
mod error;
mod load;
mod model;

#[cfg(test)]
mod tests;

pub use authorizer::{Authorizer, Decision};
pub use error::{AuthzError, Denied};
pub use load::SCHEMA_FILE;
pub use model::{Action, CertificateInfo, PartyInfo, Role};
