//! The client side: an HTTP client of the API, verification of everything it relies on against the pinned
//! log key, and the operations (enroll, register, grant, revoke, open, disclose, verify, audit).

mod entries;
mod http;
pub mod logview;
pub mod ops;

pub use entries::RegistrationFacts;
pub use http::{Client, ClientError};
pub use logview::{LogView, TrustedCheckpoint, VerifiedEntry, VerifyError};
