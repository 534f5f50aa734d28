//! The client side: an HTTP client of the API, verification of everything it relies on against the pinned
//! log key, and the operations (enroll, register, grant, revoke, open, disclose, verify, audit).

mod entries;
mod http;
pub mod logview;
pub mod ops;
mod tiles;

pub use entries::RegistrationFacts;
pub use http::{Client, ClientError};
pub use logview::{LogView, TrustedCheckpoint, VerifiedEntry, VerifyError};
pub use tiles::{StaticTiles, TileSource};

/// Creates a directory of client state (`TRADELEDGER_HOME`, its `grants/`) with mode 0700, each new directory
/// made durable. An existing one is left as the user made it (it may be shared on purpose, and a warning would
/// break the one-line stderr of every command): the files the client writes in it are 0600 regardless.
pub(crate) fn private_dir(dir: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context as _;
    ledger::durable::create_private_dir(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok(())
}
