//! The registration pipeline: registrations that passed every check are stored and logged in batches, many
//! sharing one vault commit and one log append, and the vault commit of one batch overlaps the log append of
//! the batch before it.
//!
//! Two threads, one per durable store. The vault stage takes everything queued, stores it with one
//! `put_certificates` (one record write, one `fdatasync`, its index changes) and passes what was stored on; the
//! log stage appends those entries with one `append_batch` (one journal sync, one signed checkpoint), applies
//! them to the registry and answers. An entry reaches the log only after its certificate is durable in the
//! vault, so an entry on the log always describes stored state; nobody is answered before both are durable.
//! Before, every registration held a blocking thread through two group commits, and with hundreds of clients
//! hundreds of threads woke at every commit to find out whether theirs was done.
//!
//! The threads hold only a weak reference to the state, and a strong one only while working on a batch (it
//! is dropped before anyone is answered), so graceful shutdown still finds the state free once every request
//! has finished; dropping the state closes the queue and the threads end.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, Weak, mpsc};

use ledger::{CertId, SignedEntry};
use tokio::sync::oneshot;
use vault::{NewCertificate, StoreError, VaultStore as _};

use super::error::ApiError;
use super::state::AppState;

/// At most this many registrations go into one vault commit (about 9 KB each: ~10 MB of records).
const MAX_BATCH: usize = 1024;

/// A registration that passed authentication, policy and every consistency check.
pub(super) struct Checked {
    /// The certificate.
    pub(super) cert_id: CertId,
    /// Its ciphertext.
    pub(super) ciphertext: Vec<u8>,
    /// Per recipient: party id and the stored (grant-framed) envelope.
    pub(super) envelopes: Vec<(String, Vec<u8>)>,
    /// The registration entry to log.
    pub(super) entry: SignedEntry,
}

/// A submitted registration's log index, once it is durable.
pub(super) struct Pending(oneshot::Receiver<Result<u64, ApiError>>);

impl Pending {
    /// Waits for the registration to be stored and logged.
    pub(super) async fn index(self) -> Result<u64, ApiError> {
        self.0.await.map_err(|_| ApiError::unavailable())?
    }
}

/// A checked registration waiting in the pipeline, with whom to tell its log index.
struct Job {
    checked: Checked,
    encoded: Vec<u8>,
    reply: oneshot::Sender<Result<u64, ApiError>>,
}

/// The entrance of the pipeline; its threads start with the first registration.
#[derive(Default)]
pub(super) struct Registrar {
    queue: Mutex<Option<mpsc::Sender<Job>>>,
}

impl Registrar {
    /// Queues a checked registration to be stored and logged; the answer is its log index, once both are
    /// durable. Called on the check thread that checked it, so that the request's task is woken once, by
    /// the answer, rather than once more in between to hand the registration on.
    pub(super) fn submit(
        &self,
        state: &Arc<AppState>,
        checked: Checked,
    ) -> Result<Pending, ApiError> {
        let encoded = checked.entry.encode();
        let (reply, answer) = oneshot::channel();
        self.sender(state)?
            .send(Job {
                checked,
                encoded,
                reply,
            })
            .map_err(|_| ApiError::unavailable())?;
        Ok(Pending(answer))
    }

    fn sender(&self, state: &Arc<AppState>) -> Result<mpsc::Sender<Job>, ApiError> {
        let mut queue = self.queue.lock().map_err(|_| ApiError::internal())?;
        if let Some(sender) = queue.as_ref() {
            return Ok(sender.clone());
        }
        let (sender, incoming) = mpsc::channel();
        let (stored, to_log) = mpsc::channel();
        let spawn = |name: &str| std::thread::Builder::new().name(name.to_owned());
        let weak = Arc::downgrade(state);
        spawn("registrar-vault")
            .spawn(move || vault_stage(&weak, &incoming, &stored))
            .map_err(|e| spawn_failed(&e))?;
        let weak = Arc::downgrade(state);
        spawn("registrar-log")
            .spawn(move || log_stage(&weak, &to_log))
            .map_err(|e| spawn_failed(&e))?;
        *queue = Some(sender.clone());
        Ok(sender)
    }
}

fn spawn_failed(error: &std::io::Error) -> ApiError {
    tracing::error!(error = %error, "cannot start the registration pipeline");
    ApiError::unavailable()
}

/// Everything queued now (at least one job, at most [`MAX_BATCH`]), or `None` once the queue is closed.
fn gather<T>(incoming: &mpsc::Receiver<T>, len: impl Fn(&T) -> usize) -> Option<Vec<T>> {
    let first = incoming.recv().ok()?;
    let mut n = len(&first);
    let mut batch = vec![first];
    while n < MAX_BATCH {
        match incoming.try_recv() {
            Ok(more) => {
                n += len(&more);
                batch.push(more);
            }
            Err(_) => break,
        }
    }
    Some(batch)
}

fn vault_stage(
    state: &Weak<AppState>,
    incoming: &mpsc::Receiver<Job>,
    stored: &mpsc::Sender<Vec<Job>>,
) {
    while let Some(batch) = gather(incoming, |_| 1) {
        let Some(strong) = state.upgrade() else {
            return fail_all(batch, ApiError::unavailable);
        };
        let (ok, refused) = put_batch(&strong, batch);
        drop(strong);
        for (job, error) in refused {
            let _ = job.reply.send(Err(error));
        }
        if !ok.is_empty()
            && let Err(mpsc::SendError(jobs)) = stored.send(ok)
        {
            // The log stage is gone: these certificates are stored but cannot be logged.
            fail_all(jobs, ApiError::unavailable);
        }
    }
}

/// Stores a batch with one commit. If the batch is refused (one bad certificate refuses all), each is put on
/// its own so only the refused ones fail; a storage failure fails them all.
fn put_batch(state: &AppState, batch: Vec<Job>) -> (Vec<Job>, Vec<(Job, ApiError)>) {
    let envelopes: Vec<Vec<(&str, &[u8])>> = batch
        .iter()
        .map(|job| {
            job.checked
                .envelopes
                .iter()
                .map(|(party, envelope)| (party.as_str(), envelope.as_slice()))
                .collect()
        })
        .collect();
    let certs: Vec<NewCertificate<'_>> = batch
        .iter()
        .zip(&envelopes)
        .map(|(job, envelopes)| NewCertificate {
            cert_id: job.checked.cert_id,
            ciphertext: &job.checked.ciphertext,
            envelopes,
        })
        .collect();
    let outcome = state.vault.put_certificates(&certs);
    let single: Vec<Result<(), StoreError>> = match outcome {
        Ok(()) => return (batch, Vec::new()),
        Err(e) if !is_refusal(&e) || batch.len() == 1 => {
            let error = super::handlers::vault_error(e);
            return (
                Vec::new(),
                batch.into_iter().map(|job| (job, error.clone())).collect(),
            );
        }
        Err(_) => certs
            .iter()
            .map(|c| {
                state
                    .vault
                    .put_certificate(c.cert_id, c.ciphertext, c.envelopes)
            })
            .collect(),
    };
    let mut ok = Vec::new();
    let mut refused = Vec::new();
    for (job, result) in batch.into_iter().zip(single) {
        match result {
            Ok(()) => ok.push(job),
            Err(e) => refused.push((job, super::handlers::vault_error(e))),
        }
    }
    (ok, refused)
}

/// A refusal changes nothing and concerns one certificate; anything else leaves the store's state unknown.
fn is_refusal(error: &StoreError) -> bool {
    matches!(
        error,
        StoreError::AlreadyExists(_)
            | StoreError::NotFound(_)
            | StoreError::Purged(_)
            | StoreError::InvalidParty
            | StoreError::DuplicateRecipient(_)
            | StoreError::DuplicateInBatch(_)
            | StoreError::TooLarge
    )
}

fn log_stage(state: &Weak<AppState>, incoming: &mpsc::Receiver<Vec<Job>>) {
    while let Some(batches) = gather(incoming, Vec::len) {
        let batch: Vec<Job> = batches.into_iter().flatten().collect();
        let Some(strong) = state.upgrade() else {
            return fail_all(batch, ApiError::unavailable);
        };
        let entries = batch.iter().map(|job| job.encoded.clone()).collect();
        let answers = match strong.log.append_batch(entries) {
            Ok(indices) => {
                let entries: Vec<&SignedEntry> =
                    batch.iter().map(|job| &job.checked.entry).collect();
                // Durable either way; a registry that cannot take them in yet (entries of other frontends
                // before them could not be read) makes the answer an error, as a failed append would.
                let applied = strong.apply_own(indices.start, &entries);
                let n = u64::try_from(batch.len()).unwrap_or(u64::MAX);
                strong.metrics.registrations.fetch_add(n, Ordering::Relaxed);
                indices
                    .map(|index| applied.clone().map(|()| index))
                    .collect()
            }
            Err(e) => {
                tracing::error!(error = %e, "log append failed");
                // Not logged, so not registered: take the bodies back out (the ids stay burnt).
                for job in &batch {
                    let _ = strong.vault.purge(job.checked.cert_id);
                }
                vec![Err(ApiError::unavailable()); batch.len()]
            }
        };
        drop(strong);
        for (job, answer) in batch.into_iter().zip(answers) {
            let _ = job.reply.send(answer);
        }
    }
}

fn fail_all(jobs: Vec<Job>, error: fn() -> ApiError) {
    for job in jobs {
        let _ = job.reply.send(Err(error()));
    }
}

#[cfg(test)]
mod tests;
