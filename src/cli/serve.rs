//! `serve`: runs the service in the foreground until ctrl-c; and the embedded server `demo` starts.

use std::path::Path;

use anyhow::Context as _;
use vault::PartyPublic;

use super::{Global, ServeArgs};

/// An in-process server on 127.0.0.1:0.
pub(super) struct Embedded {
    /// Its base URL.
    pub(super) url: String,
    /// The log's verifier key, read from `DATA/log.vkey`.
    pub(super) vkey: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Embedded {
    /// Shuts the server down gracefully and waits for it.
    pub(super) async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.task).await.context("the server task panicked")?
    }
}

/// Starts the service over `data` with `operator`, on an ephemeral local port.
pub(super) async fn start_embedded(data: &Path, operator: PartyPublic) -> anyhow::Result<Embedded> {
    let _ = (data, operator);
    // The server (`tradeledger::server::serve`) is built on branch `service`, which does not compile yet; once
    // merged this binds 127.0.0.1:0, spawns `server::serve(listener, ServeConfig::new(data, operator), stop)`
    // and reads `data/log.vkey`.
    anyhow::bail!("the service is not merged into this build yet")
}

pub(super) async fn serve(_g: &Global, args: ServeArgs) -> anyhow::Result<()> {
    let _operator = PartyPublic::load(&args.operator)
        .with_context(|| format!("reading the operator identity {}", args.operator.display()))?;
    anyhow::bail!("the service is not merged into this build yet")
}
