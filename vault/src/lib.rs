//! tradeledger's vault: client-side sealing and opening of certificate bodies, per-recipient HPKE
//! envelopes, salted field commitments with selective disclosure, grant commitments and party keys.
//!
//! The public interface is:
pub use commit::MasterSalt;
pub use envelope::{ENVELOPE_LEN, ENVELOPE_VERSION, unwrap, wrap};
pub use error::{Error, Result};
pub use grant::{GrantSalt, grant_commitment};
pub use ids::{CertId, PartyId, Role};
pub use keys::{PartyKeys, PartyPublic};
pub use seal::{BODY_VERSION, DataKey, OpenedBody, open_body, seal_body};

mod commit;
mod envelope;
mod error;
mod grant;
mod ids;
mod keys;
mod seal;
