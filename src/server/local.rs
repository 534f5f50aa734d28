//! [`LocalServer`]: the service run inside this process on an ephemeral port of 127.0.0.1, for `demo`, `bench`
//! without `--server`, the end-to-end tests and the benchmarks, which all need the same start and stop.

use anyhow::Context as _;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{ServeConfig, serve_with_ready};

/// A running in-process service. Dropping it shuts the service down without waiting; [`LocalServer::stop`]
/// waits until the stores are flushed and closed.
pub struct LocalServer {
    /// Its base URL, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The log's verifier key, as the service wrote it to `DATA/log.vkey` when it started.
    pub vkey: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl LocalServer {
    /// Starts the service with `config` and returns once its stores are open and it accepts connections; a
    /// service that fails to start returns its error.
    pub async fn start(config: ServeConfig) -> anyhow::Result<LocalServer> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding 127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let vkey_path = config.data.join("log.vkey");
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready, is_ready) = oneshot::channel();
        // A dropped sender ends the wait as surely as a sent stop.
        let shutdown = async {
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve_with_ready(listener, config, shutdown, ready));
        if is_ready.await.is_err() {
            return Err(task
                .await
                .context("the server task panicked")?
                .err()
                .unwrap_or_else(|| anyhow::anyhow!("the server stopped before it was ready")));
        }
        let vkey = std::fs::read_to_string(&vkey_path).context("reading the log's verifier key")?;
        Ok(LocalServer {
            url,
            vkey: vkey.trim_end().to_owned(),
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Shuts the service down gracefully and waits until it has flushed and closed its stores; returns the
    /// error it stopped with, if any.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.context("the server task panicked")?,
            None => Ok(()),
        }
    }
}
