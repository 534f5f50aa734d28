//! Collects witness cosignatures for the log's checkpoints in the background and publishes a checkpoint once
//! the witness policy's quorum is met (C2SP tlog-witness, tlog-policy).
//!
//! Registrations never wait for witnesses: an append is acknowledged once durable, as without witnesses. The
//! cosigner wakes after appends, runs at most one round per `cosign_interval` over the log's latest checkpoint,
//! and publishes as soon as enough witnesses answered. A round that misses the quorum publishes nothing (the
//! previous cosigned checkpoint stays) and is retried after the interval.
//!
//! With frontends sharing the log and a bucket, only the holder of the publishing lease runs rounds (it is the
//! one that publishes their checkpoints to the bucket); every other frontend adopts the cosigned checkpoint it
//! finds in the bucket, once it has checked the witness quorum and that its log extends it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ledger::{Hash, Policy};
use tokio::sync::watch;

use super::locks::Locks;
use super::pg_lease::Lease;
use super::pg_locks::PgLockHeld;
use super::publish::Published;
use super::state::AppState;
use crate::witness::{ConsistencySource, WitnessClient, WitnessError};

/// Time allowed for one witness request; a slow witness must not stall the rounds for long.
const WITNESS_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an unreachable witness is skipped before it is tried again.
const UNREACHABLE_BACKOFF: Duration = Duration::from_secs(2);
/// Without any append notice, how often the cosigner still compares the log with what it published (appends
/// that bypass `AppState::append` are then cosigned too).
const IDLE_RECHECK: Duration = Duration::from_secs(1);

/// The witness policy, a client per witness, and the latest checkpoint that met the quorum.
pub(crate) struct Witnessing {
    policy: Policy,
    witnesses: Vec<WitnessClient>,
    published: watch::Sender<Option<Published>>,
}

impl Witnessing {
    /// Parses the policy; it must list the log's key and at least one witness with a URL to submit to.
    pub(crate) fn new(policy_text: &[u8], log_vkey: &str) -> anyhow::Result<Self> {
        let policy = Policy::parse(policy_text)?;
        anyhow::ensure!(
            policy
                .logs()
                .iter()
                .any(|l| l.verifier.to_vkey() == log_vkey),
            "it does not list this log's key {log_vkey} (DATA/log.vkey) in a `log` line"
        );
        let http = reqwest::Client::builder()
            .timeout(WITNESS_TIMEOUT)
            .connect_timeout(WITNESS_TIMEOUT)
            .build()
            .context("building the witness HTTP client")?;
        let witnesses = WitnessClient::from_policy(&http, &policy);
        anyhow::ensure!(
            !witnesses.is_empty(),
            "it lists no witness with a URL to submit checkpoints to"
        );
        Ok(Witnessing {
            policy,
            witnesses,
            published: watch::Sender::new(None),
        })
    }

    /// The latest checkpoint that met the quorum, if any yet.
    pub(crate) fn published(&self) -> Option<Published> {
        self.published.borrow().clone()
    }

    /// A receiver of each newly published checkpoint.
    pub(crate) fn subscribe(&self) -> watch::Receiver<Option<Published>> {
        self.published.subscribe()
    }

    /// Publishes `note` unless a larger checkpoint is already published (the published size never goes back).
    fn publish(&self, size: u64, note: &str) {
        self.published.send_if_modified(|current| {
            if current.as_ref().is_some_and(|c| c.size > size) {
                return false;
            }
            *current = Some(Published {
                size,
                note: note.into(),
            });
            true
        });
    }

    /// One round: submits the log's checkpoint `note` to every witness not in back-off, publishing it as soon as
    /// the cosignatures gathered so far meet the quorum, and again with all of them at the end of the round.
    async fn round(&self, state: &Arc<AppState>, note: String, skip_until: &mut [Option<Instant>]) {
        let Some(size) = Published::from_note(note.clone()).map(|p| p.size) else {
            tracing::error!("the log's checkpoint does not parse; not submitting it");
            return;
        };
        let now = Instant::now();
        let active: Vec<usize> = (0..self.witnesses.len())
            .filter(|i| {
                skip_until
                    .get(*i)
                    .copied()
                    .flatten()
                    .is_none_or(|t| t <= now)
            })
            .collect();
        let proofs = match LogProofs::prepare(state, &self.witnesses, &active, size).await {
            Ok(proofs) => Arc::new(proofs),
            Err(e) => {
                tracing::error!(error = %e, "preparing consistency proofs for the witnesses");
                return;
            }
        };
        let mut tasks = tokio::task::JoinSet::new();
        for &i in &active {
            let (witness, note, proofs) = (self.witnesses[i].clone(), note.clone(), proofs.clone());
            tasks.spawn(async move { (i, witness.submit(&note, proofs.as_ref()).await) });
        }
        let mut cosigned = note;
        let (mut gathered, mut published_with) = (0usize, None);
        while let Some(joined) = tasks.join_next().await {
            let Ok((i, outcome)) = joined else { continue };
            let name = self
                .witnesses
                .get(i)
                .map(WitnessClient::name)
                .unwrap_or("?");
            match outcome {
                Ok(cosignature) => {
                    cosigned.push_str(&cosignature.to_line());
                    gathered += 1;
                    if published_with.is_none()
                        && self.policy.verify_checkpoint(cosigned.as_bytes()).is_ok()
                    {
                        self.publish(size, &cosigned);
                        published_with = Some(gathered);
                        tracing::info!(
                            size,
                            cosignatures = gathered,
                            "published a cosigned checkpoint"
                        );
                    }
                }
                Err(e) => {
                    if matches!(e, WitnessError::Transport(_))
                        && let Some(slot) = skip_until.get_mut(i)
                    {
                        *slot = Some(Instant::now() + UNREACHABLE_BACKOFF);
                    }
                    tracing::warn!(witness = name, size, error = %e, "witness did not cosign");
                }
            }
        }
        match published_with {
            Some(n) if n < gathered => self.publish(size, &cosigned),
            Some(_) => {}
            None => tracing::warn!(
                size,
                cosignatures = gathered,
                "the witness quorum was not met; still serving the previous cosigned checkpoint"
            ),
        }
    }

    /// Adopts the bucket's checkpoint if it is newer than the published one, meets the witness quorum and this
    /// log extends it (the lease holder cosigned and published it).
    async fn adopt_from_bucket(&self, state: &Arc<AppState>, s3: &crate::bucket::S3) {
        let note = match s3.get("checkpoint").await {
            Ok(Some(object)) => object.bytes,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(error = %e, "reading the bucket's cosigned checkpoint");
                return;
            }
        };
        // Not yet cosigned (the bucket's first checkpoint before any quorum): nothing to adopt.
        if self.policy.verify_checkpoint(&note).is_err() {
            return;
        }
        let Some(size) = String::from_utf8(note.clone())
            .ok()
            .and_then(Published::from_note)
            .map(|p| p.size)
        else {
            return;
        };
        if self.is_published(size) {
            return;
        }
        let st = state.clone();
        let checked = tokio::task::spawn_blocking(move || {
            super::published::check_bucket_note(&st, &note).map(|()| note)
        })
        .await;
        match checked {
            Ok(Ok(note)) => {
                self.publish(size, &String::from_utf8_lossy(&note));
                tracing::debug!(
                    size,
                    "adopted the cosigned checkpoint the publishing frontend published"
                );
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "not adopting the bucket's cosigned checkpoint")
            }
            Err(e) => {
                tracing::error!(error = %e, "checking the bucket's cosigned checkpoint panicked")
            }
        }
    }

    fn is_published(&self, size: u64) -> bool {
        self.published
            .borrow()
            .as_ref()
            .is_some_and(|p| p.size >= size)
    }
}

/// Consistency proofs for one round: those from each witness's last known size, computed on the blocking pool
/// before the requests go out; any other (after a 409 names another size) is read from the log on the spot.
struct LogProofs {
    state: Arc<AppState>,
    size: u64,
    ready: HashMap<u64, Vec<Hash>>,
}

impl LogProofs {
    async fn prepare(
        state: &Arc<AppState>,
        witnesses: &[WitnessClient],
        active: &[usize],
        size: u64,
    ) -> anyhow::Result<Self> {
        let olds: Vec<u64> = active
            .iter()
            .filter_map(|&i| witnesses.get(i).map(WitnessClient::known_size))
            .filter(|&old| old > 0 && old < size)
            .collect();
        let st = state.clone();
        let ready = tokio::task::spawn_blocking(move || {
            olds.into_iter()
                .map(|old| Ok((old, st.log.consistency_proof(old, size)?)))
                .collect::<Result<HashMap<_, _>, ledger::Error>>()
        })
        .await??;
        Ok(LogProofs {
            state: state.clone(),
            size,
            ready,
        })
    }
}

impl ConsistencySource for LogProofs {
    fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ledger::Error> {
        match self.ready.get(&old) {
            Some(proof) if new == self.size => Ok(proof.clone()),
            // Rare: a witness answered 409 with a size we did not expect. A few tile reads, mostly cached.
            _ => self.state.log.consistency_proof(old, new),
        }
    }
}

/// The right to run a cosigning round now: always with one frontend; with frontends sharing the log, only
/// while no other frontend runs one (a PostgreSQL advisory lock, not waited for: this frontend tries again
/// after the interval), so that witnesses see one sequence of checkpoints, never two rounds interleaved.
async fn cosigning_turn(state: &Arc<AppState>) -> Option<Option<PgLockHeld>> {
    let Locks::Shared(_) = &state.locks else {
        return Some(None);
    };
    let st = state.clone();
    let turn = tokio::task::spawn_blocking(move || match &st.locks {
        Locks::Shared(pg) => pg.try_cosigning(),
        Locks::Local(_) => Ok(None),
    })
    .await;
    match turn {
        Ok(Ok(Some(held))) => Some(Some(held)),
        Ok(Ok(None)) => {
            tracing::debug!("another frontend is cosigning; this one waits for its next turn");
            None
        }
        // Logged where it failed; the next turn tries again.
        Ok(Err(_)) | Err(_) => None,
    }
}

/// Runs cosigning rounds until the service stops (with `lease`, only while holding it, adopting the holder's
/// cosigned checkpoints from the bucket otherwise). Returns at once without a witness policy.
pub(crate) async fn run(state: Arc<AppState>, lease: Option<Arc<Lease>>) {
    let Some(witnessing) = &state.checkpoints.witnessing else {
        return;
    };
    let bucket = match (&lease, &state.config.bucket) {
        (Some(_), Some(location)) => match crate::bucket::S3::new(location) {
            Ok(s3) => Some(s3),
            Err(e) => {
                tracing::error!(error = %e, "the bucket's settings: cosigned checkpoints not adopted");
                None
            }
        },
        _ => None,
    };
    let interval = state.config.cosign_interval;
    let mut appends = state.checkpoints.appends();
    let mut skip_until = vec![None; witnessing.witnesses.len()];
    loop {
        let started = Instant::now();
        let note = state.log.checkpoint();
        let size =
            Published::from_note(String::from_utf8_lossy(&note).into_owned()).map_or(0, |p| p.size);
        let standby = lease.as_ref().is_some_and(|l| !l.holds());
        if standby {
            if let Some(s3) = &bucket {
                witnessing.adopt_from_bucket(&state, s3).await;
            }
        } else if !witnessing.is_published(size)
            && let Some(turn) = cosigning_turn(&state).await
        {
            match String::from_utf8(note) {
                Ok(note) => witnessing.round(&state, note, &mut skip_until).await,
                Err(_) => tracing::error!("the log's checkpoint is not UTF-8"),
            }
            // Ending the turn is a database round trip: not on an async worker.
            let _ = tokio::task::spawn_blocking(move || drop(turn)).await;
        }
        // At most one round per interval; once up to date, sleep until the next append (or a while). An append
        // made before `borrow_and_update` shows in `log.size()`, one made after it wakes `changed()`.
        let pause = async {
            tokio::time::sleep_until((started + interval).into()).await;
            appends.borrow_and_update();
            if witnessing.is_published(state.log.size()) {
                let _ = tokio::time::timeout(IDLE_RECHECK, appends.changed()).await;
            }
        };
        tokio::select! {
            () = pause => {}
            () = state.checkpoints.stopped() => return,
        }
    }
}
