//! Which checkpoint the service publishes at `/checkpoint`, and waiting for one that covers an entry.
//!
//! Without a witness policy the published checkpoint is the log's latest (signed over durable entries only).
//! With one (`serve --witness-policy`), it is the latest checkpoint whose cosignatures meet the policy's quorum,
//! collected in the background by [`super::cosigner`]; a checkpoint that has not reached the quorum is never
//! published, and the previous cosigned one stays in place.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::watch;

use super::ServeConfig;
use super::cosigner::Witnessing;

/// A published checkpoint: the signed note (with any cosignatures) and the tree size it states.
#[derive(Clone, Debug)]
pub(crate) struct Published {
    /// The tree size in the note.
    pub(crate) size: u64,
    /// The signed note text, cosignatures included.
    pub(crate) note: Arc<str>,
}

impl Published {
    /// Reads the size from a signed checkpoint note; `None` if the note is not one.
    pub(crate) fn from_note(note: String) -> Option<Published> {
        let at = note.find("\n\n")?;
        let text = note.get(..=at)?;
        let checkpoint = ledger::Checkpoint::parse(text).ok()?;
        Some(Published {
            size: checkpoint.size,
            note: note.into(),
        })
    }
}

/// The service's publication state: how far the log has grown, the witnessing set-up, and the stop signal that
/// ends long polls and the cosigner at shutdown.
pub struct Checkpoints {
    /// The log size after the latest acknowledged append (wakes the cosigner and long polls).
    appended: watch::Sender<u64>,
    /// Set once at shutdown.
    stopping: watch::Sender<bool>,
    /// Witnesses, policy and the latest cosigned checkpoint; `None` without `--witness-policy`.
    pub(crate) witnessing: Option<Witnessing>,
}

impl Checkpoints {
    /// Sets up publication for a log of `size` entries whose key is `log_vkey`; loads the witness policy if the
    /// configuration names one and checks that it lists this log's key.
    pub(crate) fn new(config: &ServeConfig, log_vkey: &str, size: u64) -> anyhow::Result<Self> {
        let witnessing = match &config.witness_policy {
            Some(path) => {
                let text = std::fs::read(path)
                    .with_context(|| format!("reading the witness policy {}", path.display()))?;
                Some(
                    Witnessing::new(&text, log_vkey)
                        .with_context(|| format!("witness policy {}", path.display()))?,
                )
            }
            None => None,
        };
        Ok(Checkpoints {
            appended: watch::Sender::new(size),
            stopping: watch::Sender::new(false),
            witnessing,
        })
    }

    /// Records that entry `index` is durable.
    pub(crate) fn appended(&self, index: u64) {
        self.appended.send_if_modified(|size| {
            let grown = *size <= index;
            if grown {
                *size = index.saturating_add(1);
            }
            grown
        });
    }

    /// A receiver of the log size after each append.
    pub(crate) fn appends(&self) -> watch::Receiver<u64> {
        self.appended.subscribe()
    }

    /// Tells long polls and the cosigner to finish.
    pub(crate) fn stop(&self) {
        self.stopping.send_replace(true);
    }

    /// A clone of the stop signal's sender, to set it from the shutdown future.
    pub(crate) fn stop_handle(&self) -> watch::Sender<bool> {
        self.stopping.clone()
    }

    /// Completes once [`Checkpoints::stop`] was called.
    pub(crate) async fn stopped(&self) {
        let mut rx = self.stopping.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// The checkpoint clients should use now: the latest cosigned one with witnesses (`None` before the first
    /// quorum), else the log's latest.
    pub(crate) fn published(&self, log: &ledger::Log) -> Option<Published> {
        match &self.witnessing {
            Some(w) => w.published(),
            None => Published::from_note(String::from_utf8(log.checkpoint()).ok()?),
        }
    }

    /// Waits (at most `max`, less if the service stops) until the published checkpoint covers `min_size`
    /// entries, and returns the published checkpoint then, whether or not it does.
    pub(crate) async fn wait_for_size(
        &self,
        log: &ledger::Log,
        min_size: u64,
        max: Duration,
    ) -> Option<Published> {
        let covers = |p: &Option<Published>| p.as_ref().is_some_and(|p| p.size >= min_size);
        let wait = async {
            match &self.witnessing {
                Some(w) => {
                    let mut rx = w.subscribe();
                    let _ = rx.wait_for(covers).await;
                }
                None => {
                    let mut rx = self.appends();
                    let _ = rx.wait_for(|size| *size >= min_size).await;
                }
            }
        };
        if !covers(&self.published(log)) {
            tokio::select! {
                _ = tokio::time::timeout(max, wait) => {}
                () = self.stopped() => {}
            }
        }
        self.published(log)
    }
}
