//! The client operations, each a function usable from tests and the CLI.
//!
//! Every operation that relies on something from the server verifies it first (see [`super::logview`]).

mod accesses;
mod audit;
mod bundle;
mod continuity;
mod enroll;
mod grant;
mod grantbook;
mod grants;
mod issuer;
mod open;
mod purge;
mod receipt;
mod register;
mod rotate;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod upper_tiles_tests;

use std::path::Path;

use anyhow::Context as _;
use vault::{CertId, PartyId, PartyKeys};

pub use accesses::{Access, AccessTrail, accesses};
pub use audit::{AuditReport, AuditState, Problem, Receipt, audit};
pub use bundle::{Bundle, BundledEntry, VerifiedDisclosure, verify_bundle, verify_bundle_under};
pub use continuity::Continuity;
pub use enroll::enroll;
pub use grant::{grant, revoke};
pub use grants::list_grants;
pub use issuer::{IssuerSignature, issuer_signature};
pub use open::{Opened, disclose, disclose_chosen, open};
pub use purge::purge;
pub use receipt::{ReceiptFile, VerifiedReceipt, fetch_receipt, refresh_receipt, verify_receipt};
pub use register::{
    InvalidCertificate, Registration, check_certificate, register, register_unvalidated,
    violations_at,
};
pub use rotate::{
    ROTATION_REQUEST_FORMAT, RewrapOutcome, RotationRequest, rewrap, rotation_request,
    submit_rotation,
};

use super::Client;
use super::logview::LogView;

/// A party acting through a client: its keys, the log key it trusts and its local state directory.
pub struct Actor<'a> {
    /// The client, signing as this party.
    pub client: &'a Client,
    /// The party's keys.
    pub keys: &'a PartyKeys,
    /// The log verifier key (vkey text) this party trusts.
    pub log_key: &'a str,
    /// The party's client state directory (`$TRADELEDGER_HOME`): grant records live here.
    pub home: &'a Path,
}

impl std::fmt::Debug for Actor<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Actor")
            .field("party", self.keys.id())
            .finish_non_exhaustive()
    }
}

/// Fetches and verifies a checkpoint that covers entry `index`; a log that signs checkpoints in batches may
/// lag an acknowledged append by a moment, so this retries briefly before giving up.
pub(crate) async fn view_covering<'a>(
    client: &'a Client,
    log_key: &str,
    index: u64,
) -> anyhow::Result<LogView<'a>> {
    // The server long-polls (up to 10 s) when asked for a size; an older server answers at once, hence the loop.
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(10) {
        let view = LogView::fetch_covering(client, log_key, index.saturating_add(1)).await?;
        if view.checkpoint().size > index {
            return Ok(view);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    anyhow::bail!(
        "no published checkpoint covers entry {index} after 10 seconds (with witnesses: is their quorum reachable?)"
    )
}

/// Parses a certificate id given on the command line.
pub fn parse_cert_id(text: &str) -> anyhow::Result<CertId> {
    text.parse()
        .context("certificate ids are 32 lowercase hex digits")
}

/// Parses a party id given on the command line.
pub fn parse_party(text: &str) -> anyhow::Result<PartyId> {
    PartyId::new(text).with_context(|| format!("invalid party id {text:?}"))
}
