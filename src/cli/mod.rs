//! The `tradeledger` command line: argument definitions and one module per command group.
//!
//! Every command prints human text, or JSON with `--json`, on stdout; a failure is returned as an error that
//! `main` prints as one `error: ...` line on stderr before exiting non-zero.

mod args;
mod bench;
mod certs;
mod check;
mod demo;
mod keys;
mod serve;

use std::path::PathBuf;

use anyhow::Context as _;
use vault::PartyKeys;

pub use args::*;

use crate::client::Client;

/// Runs one parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let g = &cli.global;
    match cli.command {
        Command::Keygen(args) => keys::keygen(g, args),
        Command::Serve(args) => serve::serve(g, args).await,
        Command::Enroll(args) => keys::enroll(g, args).await,
        Command::Register(args) => certs::register(g, args).await,
        Command::Grant(args) => certs::grant(g, args).await,
        Command::Revoke(args) => certs::revoke(g, args).await,
        Command::Open(args) => certs::open(g, args).await,
        Command::Disclose(args) => certs::disclose(g, args).await,
        Command::Verify(args) => check::verify(g, args),
        Command::Audit(args) => check::audit(g, args).await,
        Command::Demo => demo::demo(g).await,
        Command::Bench(args) => bench::bench(g, args).await,
    }
}

impl Global {
    /// The client configuration directory.
    fn home(&self) -> anyhow::Result<PathBuf> {
        crate::config::config_dir()
    }

    /// The party keys given with `--key`.
    fn keys(&self) -> anyhow::Result<PartyKeys> {
        let path = self
            .key
            .as_ref()
            .context("no key: pass --key FILE or set TRADELEDGER_KEY")?;
        PartyKeys::load(path).with_context(|| format!("loading the key {}", path.display()))
    }

    /// A client of `--server`, without an identity.
    fn client(&self) -> anyhow::Result<Client> {
        let server = self
            .server
            .as_deref()
            .context("no server: pass --server URL or set TRADELEDGER_SERVER")?;
        Ok(Client::new(server)?)
    }

    /// The log key, applying the pinning rule of [`crate::config`].
    fn log_key(&self) -> anyhow::Result<String> {
        crate::config::resolve_log_key(self.log_key.as_deref(), &self.home()?)
    }

    /// Prints `value` as JSON with `--json`, else `text`.
    fn print(&self, value: &serde_json::Value, text: &str) {
        if self.json {
            println!("{value}");
        } else {
            println!("{text}");
        }
    }
}
