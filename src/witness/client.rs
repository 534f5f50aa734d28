//! The log's side of C2SP tlog-witness: submit a new checkpoint with a consistency proof to each witness and
//! collect the cosignatures, recovering from 409 answers with the size the witness reports.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ledger::{Checkpoint, Cosignature, CosignatureVerifier, Hash, MemoryTree, Policy};

use super::http::TLOG_SIZE_CONTENT_TYPE;

/// Supplies consistency proofs between tree sizes of the log being witnessed (the log itself, or a test tree).
pub trait ConsistencySource: Send + Sync {
    /// RFC 6962 consistency proof from `old` to `new` leaves (`0 < old <= new`).
    fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ledger::Error>;
}

impl ConsistencySource for MemoryTree {
    fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, ledger::Error> {
        MemoryTree::consistency_proof(self, old, new)
    }
}

/// Why a witness did not cosign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WitnessError {
    /// 409: the witness's latest cosigned size differs from the old size sent.
    #[error("witness is at tree size {0}")]
    Conflict(u64),
    /// Any other non-200 answer (400 malformed, 403 signature, 404 unknown log, 422 proof, 500...).
    #[error("witness answered {status}: {message}")]
    Rejected {
        /// The HTTP status code.
        status: u16,
        /// The first line of the answer body.
        message: String,
    },
    /// The answer held no valid cosignature by the expected witness key.
    #[error("witness returned no valid cosignature: {0}")]
    BadCosignature(String),
    /// The witness could not be reached, or the checkpoint or a proof could not be prepared.
    #[error("witness unreachable or request failed: {0}")]
    Transport(String),
}

/// A witness as seen by a log: its submission prefix, its cosignature key, and the tree size it last cosigned
/// (as far as this client knows; 0 at first, corrected by 409 answers).
#[derive(Clone)]
pub struct WitnessClient {
    http: reqwest::Client,
    url: String,
    verifier: CosignatureVerifier,
    known_size: Arc<AtomicU64>,
}

/// Splits a signed note into its text (with the final newline) and its signature block.
fn note_text(note: &str) -> Result<&str, WitnessError> {
    let at = note
        .rfind("\n\n")
        .ok_or_else(|| WitnessError::Transport("checkpoint is not a signed note".into()))?;
    Ok(note.split_at(at + 1).0)
}

impl WitnessClient {
    /// A client for the witness at `submission_prefix` (e.g. `http://127.0.0.1:7001`; `/add-checkpoint` is
    /// appended) whose cosignatures verify under `verifier`.
    pub fn new(
        http: reqwest::Client,
        submission_prefix: &str,
        verifier: CosignatureVerifier,
    ) -> Self {
        Self {
            http,
            url: format!("{}/add-checkpoint", submission_prefix.trim_end_matches('/')),
            verifier,
            known_size: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Clients for every witness of `policy` that has a URL.
    pub fn from_policy(http: &reqwest::Client, policy: &Policy) -> Vec<Self> {
        policy
            .witnesses()
            .iter()
            .filter_map(|w| {
                Some(Self::new(
                    http.clone(),
                    w.url.as_deref()?,
                    w.verifier.clone(),
                ))
            })
            .collect()
    }

    /// The witness's key name.
    pub fn name(&self) -> &str {
        self.verifier.name()
    }

    /// The tree size this client believes the witness last cosigned.
    pub fn known_size(&self) -> u64 {
        self.known_size.load(Ordering::SeqCst)
    }

    /// One `add-checkpoint` request. Returns the witness's cosignature, verified over the checkpoint text.
    pub async fn add_checkpoint(
        &self,
        old_size: u64,
        proof: &[Hash],
        note: &str,
    ) -> Result<Cosignature, WitnessError> {
        let text = note_text(note)?;
        let mut body = format!("old {old_size}\n");
        for h in proof {
            body.push_str(&BASE64.encode(h));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(note);
        let resp = self
            .http
            .post(&self.url)
            .body(body)
            .send()
            .await
            .map_err(|e| WitnessError::Transport(e.to_string()))?;
        let status = resp.status();
        let is_size = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(TLOG_SIZE_CONTENT_TYPE.as_bytes()));
        let answer = resp
            .text()
            .await
            .map_err(|e| WitnessError::Transport(e.to_string()))?;
        if status == reqwest::StatusCode::CONFLICT && is_size {
            let size = answer
                .trim_end_matches('\n')
                .parse()
                .map_err(|_| WitnessError::Transport("409 without a valid size".into()))?;
            self.known_size.store(size, Ordering::SeqCst);
            return Err(WitnessError::Conflict(size));
        }
        if !status.is_success() {
            return Err(WitnessError::Rejected {
                status: status.as_u16(),
                message: answer
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(200)
                    .collect(),
            });
        }
        // Unknown keys' lines are ignored (tlog-witness: the client MUST ignore cosignatures from unknown keys).
        let mut last_error = String::from("no line by the expected key");
        for line in answer.lines() {
            match Cosignature::parse_line(line) {
                Ok(c) if self.verifier.matches(&c.name, c.key_id) => {
                    match self.verifier.verify(text, &c) {
                        Ok(()) => return Ok(c),
                        Err(e) => last_error = e.to_string(),
                    }
                }
                Ok(_) => {}
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(WitnessError::BadCosignature(last_error))
    }

    /// Submits `note` (a checkpoint signed by the log) from the size this client believes the witness is at,
    /// with a proof from `proofs`; after a 409 it retries once from the size the witness reported.
    pub async fn submit(
        &self,
        note: &str,
        proofs: &dyn ConsistencySource,
    ) -> Result<Cosignature, WitnessError> {
        let checkpoint = Checkpoint::parse(note_text(note)?)
            .map_err(|e| WitnessError::Transport(e.to_string()))?;
        let mut retried = false;
        loop {
            let old = self.known_size().min(checkpoint.size);
            let proof = if old == 0 || old == checkpoint.size {
                Vec::new()
            } else {
                proofs
                    .consistency_proof(old, checkpoint.size)
                    .map_err(|e| WitnessError::Transport(e.to_string()))?
            };
            match self.add_checkpoint(old, &proof, note).await {
                Ok(c) => {
                    self.known_size.store(checkpoint.size, Ordering::SeqCst);
                    return Ok(c);
                }
                Err(WitnessError::Conflict(size)) if !retried && size <= checkpoint.size => {
                    retried = true;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Submits `note` to every witness concurrently. Returns the note with each obtained cosignature appended, and
/// each witness's outcome (same order as `witnesses`). Whether enough witnesses cosigned is the policy's call:
/// check the returned note with [`Policy::verify_checkpoint`] before publishing it.
pub async fn cosign_checkpoint(
    witnesses: &[WitnessClient],
    note: &str,
    proofs: Arc<dyn ConsistencySource>,
) -> (String, Vec<Result<Cosignature, WitnessError>>) {
    let mut tasks = tokio::task::JoinSet::new();
    for (i, w) in witnesses.iter().enumerate() {
        let (w, note, proofs) = (w.clone(), note.to_owned(), proofs.clone());
        tasks.spawn(async move { (i, w.submit(&note, proofs.as_ref()).await) });
    }
    let mut outcomes: Vec<Result<Cosignature, WitnessError>> = witnesses
        .iter()
        .map(|_| Err(WitnessError::Transport("task did not finish".into())))
        .collect();
    while let Some(joined) = tasks.join_next().await {
        if let Ok((i, outcome)) = joined
            && let Some(slot) = outcomes.get_mut(i)
        {
            *slot = outcome;
        }
    }
    let mut cosigned = note.to_owned();
    for c in outcomes.iter().flatten() {
        cosigned.push_str(&c.to_line());
    }
    (cosigned, outcomes)
}
