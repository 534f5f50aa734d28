//! The `tradeledger` command line: argument definitions and one module per command group.
//!
//! Every command prints human text, or JSON with `--json`, on stdout; a failure is returned as an error that
//! `main` prints as one `error: ...` line on stderr before exiting non-zero.

mod args;
mod bench;
mod certs;
mod check;
mod credentials;
mod demo;
mod keys;
mod lifecycle;
mod migrate;
pub mod output;
mod receipt;
mod serve;
mod witness;

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
        Command::Serve(args) => serve::serve(g, *args).await,
        Command::Repair(args) => serve::repair(g, args).await,
        Command::Migrate(args) => migrate::migrate(g, args).await,
        Command::Enroll(args) => keys::enroll(g, args).await,
        Command::Register(args) => certs::register(g, args).await,
        Command::Grant(args) => certs::grant(g, args).await,
        Command::Revoke(args) => certs::revoke(g, args).await,
        Command::Open(args) => certs::open(g, args).await,
        Command::Disclose(args) => certs::disclose(g, args).await,
        Command::Verify(args) => check::verify(g, args),
        Command::Audit(args) => check::audit(g, args).await,
        Command::Demo => demo::demo(g).await,
        Command::Accesses(args) => lifecycle::accesses(g, args).await,
        Command::Rotate(args) => lifecycle::rotate(g, args).await,
        Command::Rewrap(args) => lifecycle::rewrap(g, args).await,
        Command::Purge(args) => lifecycle::purge(g, args).await,
        Command::Witness(args) => witness::witness(g, args).await,
        Command::WitnessKeygen(args) => witness::keygen(g, args),
        Command::Receipt(args) => receipt::receipt(g, args).await,
        Command::Bench(args) => bench::bench(g, args).await,
        Command::Export(args) => credentials::export(g, args).await,
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

    /// A client of `--server`, without an identity; with `--policy`, it accepts only cosigned checkpoints.
    fn client(&self) -> anyhow::Result<Client> {
        let server = self
            .server
            .as_deref()
            .context("no server: pass --server URL or set TRADELEDGER_SERVER")?;
        let client = Client::new(server)?;
        Ok(match self.policy()? {
            Some(policy) => client.with_policy(policy),
            None => client,
        })
    }

    /// The witness policy given with `--policy`, parsed.
    fn policy(&self) -> anyhow::Result<Option<ledger::Policy>> {
        let Some(path) = &self.policy else {
            return Ok(None);
        };
        let text = std::fs::read(path)
            .with_context(|| format!("reading the policy {}", path.display()))?;
        let policy = ledger::Policy::parse(&text)
            .with_context(|| format!("the policy {} is malformed", path.display()))?;
        Ok(Some(policy))
    }

    /// The log key, applying the pinning rule of [`crate::config`]. With `--policy` and no `--log-key`, the
    /// policy's one log key is the key given; the key must be one the policy lists.
    fn log_key(&self) -> anyhow::Result<String> {
        let policy = self.policy()?;
        let from_policy = match (&self.log_key, &policy) {
            (None, Some(p)) if p.logs().len() == 1 => {
                p.logs().first().map(|l| l.verifier.to_vkey())
            }
            _ => None,
        };
        let key = crate::config::resolve_log_key(
            self.log_key.as_deref().or(from_policy.as_deref()),
            &self.home()?,
        )?;
        if let Some(p) = &policy
            && !p.logs().iter().any(|l| l.verifier.to_vkey() == key)
        {
            anyhow::bail!("the policy does not list the log key {key}");
        }
        Ok(key)
    }

    /// Prints `value` as JSON with `--json`, else `text`.
    fn print(&self, value: &serde_json::Value, text: &str) -> anyhow::Result<()> {
        if self.json {
            output::line(value)
        } else {
            output::line(text)
        }
    }
}
