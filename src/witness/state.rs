//! The witness's decision (C2SP tlog-witness "add-checkpoint"): parse a request, verify it against the latest
//! checkpoint cosigned for that log, then cosign and persist it atomically under the log's lock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ledger::{
    Checkpoint, Cosignature, CosignatureSigner, CosignatureVerifier, Hash, NoteSignature,
    NoteVerifier, empty_root, open_note, unix_now, verify_consistency,
};

use super::store::{WitnessStore, origin_hash};

/// tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
const MAX_PROOF_LINES: usize = 63;

/// Why the witness refused a submission; each maps to the status code tlog-witness prescribes.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// 400: the request is malformed, or its old size exceeds the checkpoint size.
    BadRequest(String),
    /// 404: the checkpoint's origin is not a log this witness is configured for.
    UnknownLog,
    /// 403: no valid signature by a trusted key for the origin, or a trusted key's signature fails.
    Forbidden(String),
    /// 409: the old size is not the size of the latest checkpoint cosigned for this log, which is given.
    Conflict(u64),
    /// 422: the consistency proof (or the empty-tree root, or the same-size root) does not check out.
    Unprocessable(&'static str),
    /// 500: the new state could not be persisted, so nothing was cosigned.
    Internal,
}

/// The latest checkpoint cosigned for one log.
struct Latest {
    size: u64,
    root: Hash,
    /// Checkpoint text, the log's verified signatures and this witness's cosignature.
    note: String,
}

/// One configured log: its keys (several during a key rotation) and its state, locked for check-and-update.
struct LogState {
    origin: String,
    verifiers: Vec<NoteVerifier>,
    latest: Mutex<Option<Latest>>,
}

/// A witness: its cosigning key, the logs it follows and where it persists their state. Shared by all requests.
pub struct Witness {
    signer: CosignatureSigner,
    /// By origin.
    logs: HashMap<String, LogState>,
    /// Origin hash (hex SHA-256) to origin, for the monitoring endpoint.
    by_hash: HashMap<String, String>,
    store: Arc<dyn WitnessStore>,
}

/// A parsed add-checkpoint body.
struct AddRequest<'a> {
    old_size: u64,
    proof: Vec<Hash>,
    note: &'a [u8],
}

fn bad(reason: &str) -> Refusal {
    Refusal::BadRequest(reason.to_owned())
}

/// Splits off one newline-terminated line.
fn next_line(body: &[u8]) -> Result<(&[u8], &[u8]), Refusal> {
    let mut parts = body.splitn(2, |b| *b == b'\n');
    match (parts.next(), parts.next()) {
        (Some(line), Some(rest)) => Ok((line, rest)),
        _ => Err(bad("line does not end in a newline")),
    }
}

/// `old <size>`, then at most 63 base64 hashes, a blank line and the checkpoint (tlog-witness "add-checkpoint").
fn parse_request(body: &[u8]) -> Result<AddRequest<'_>, Refusal> {
    let (line, mut rest) = next_line(body)?;
    let digits = line
        .strip_prefix(b"old ")
        .ok_or_else(|| bad("first line is not `old <size>`"))?;
    let valid = !digits.is_empty()
        && digits.iter().all(u8::is_ascii_digit)
        && (digits.len() == 1 || digits.first() != Some(&b'0'));
    let old_size = std::str::from_utf8(digits)
        .ok()
        .filter(|_| valid)
        .and_then(|d| d.parse().ok())
        .ok_or_else(|| bad("old size is not a decimal without leading zeros"))?;
    let mut proof = Vec::new();
    loop {
        let (line, after) = next_line(rest)?;
        rest = after;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(bad("more than 63 consistency proof lines"));
        }
        let hash = BASE64
            .decode(line)
            .ok()
            .and_then(|h| Hash::try_from(h).ok())
            .ok_or_else(|| bad("consistency proof line is not a base64 hash"))?;
        proof.push(hash);
    }
    Ok(AddRequest {
        old_size,
        proof,
        note: rest,
    })
}

/// A note signature line as it appeared in the submitted note.
fn signature_line(sig: &NoteSignature) -> String {
    let mut raw = sig.key_id.to_be_bytes().to_vec();
    raw.extend_from_slice(&sig.signature);
    format!("\u{2014} {} {}\n", sig.name, BASE64.encode(raw))
}

impl Witness {
    /// A witness cosigning with `signer` for the logs of `log_keys` (grouped by key name, which is the origin),
    /// resuming from the state in `store`. Fails if stored state does not verify: starting from zero instead
    /// would let a log roll the witness back.
    pub fn open(
        signer: CosignatureSigner,
        log_keys: Vec<NoteVerifier>,
        store: Arc<dyn WitnessStore>,
    ) -> anyhow::Result<Self> {
        let mut logs: HashMap<String, LogState> = HashMap::new();
        for key in log_keys {
            let origin = key.name().to_owned();
            logs.entry(origin.clone())
                .or_insert_with(|| LogState {
                    origin,
                    verifiers: Vec::new(),
                    latest: Mutex::new(None),
                })
                .verifiers
                .push(key);
        }
        let own = signer.verifier();
        for log in logs.values_mut() {
            let Some(note) = store
                .load(&log.origin)
                .with_context(|| format!("reading the state of log {:?}", log.origin))?
            else {
                continue;
            };
            let latest = Self::check_stored(log, &own, note)
                .with_context(|| format!("stored state of log {:?} does not verify", log.origin))?;
            log.latest = Mutex::new(Some(latest));
        }
        let by_hash = logs.keys().map(|o| (origin_hash(o), o.clone())).collect();
        Ok(Self {
            signer,
            logs,
            by_hash,
            store,
        })
    }

    /// A stored note must carry the log's signature and our own cosignature over the same checkpoint.
    fn check_stored(
        log: &LogState,
        own: &CosignatureVerifier,
        note: String,
    ) -> anyhow::Result<Latest> {
        let opened = open_note(note.as_bytes(), &log.verifiers)?;
        let checkpoint = Checkpoint::parse(&opened.text)?;
        if checkpoint.origin != log.origin {
            bail!("stored checkpoint is for origin {:?}", checkpoint.origin);
        }
        let ours = opened
            .unknown
            .iter()
            .find(|s| own.matches(&s.name, s.key_id))
            .context("stored checkpoint lacks this witness's cosignature")?;
        own.verify(
            &opened.text,
            &Cosignature::from_parts(&ours.name, ours.key_id, &ours.signature)?,
        )?;
        Ok(Latest {
            size: checkpoint.size,
            root: checkpoint.root_hash,
            note,
        })
    }

    /// This witness's public cosignature key.
    pub fn verifier(&self) -> CosignatureVerifier {
        self.signer.verifier()
    }

    /// The latest cosigned checkpoint note of the log whose origin hashes to `hash` (lowercase hex SHA-256).
    pub fn latest_by_origin_hash(&self, hash: &str) -> Option<String> {
        let log = self.logs.get(self.by_hash.get(hash)?)?;
        let latest = log.latest.lock().ok()?;
        latest.as_ref().map(|l| l.note.clone())
    }

    /// The size of the latest checkpoint cosigned for `origin` (0 if none, `None` if the log is unknown).
    pub fn latest_size(&self, origin: &str) -> Option<u64> {
        let latest = self.logs.get(origin)?.latest.lock().ok()?;
        Some(latest.as_ref().map_or(0, |l| l.size))
    }

    /// Handles an add-checkpoint body; on success returns the cosignature line(s). Blocks on disk: call it off
    /// the async workers. The check against the stored size and the update happen under the log's lock, so of
    /// concurrent submissions from the same old size at most one is cosigned.
    pub fn add_checkpoint(&self, body: &[u8]) -> Result<String, Refusal> {
        let req = parse_request(body)?;
        let origin = req
            .note
            .split(|b| *b == b'\n')
            .next()
            .and_then(|o| std::str::from_utf8(o).ok())
            .ok_or_else(|| bad("checkpoint origin is not UTF-8"))?;
        let log = self.logs.get(origin).ok_or(Refusal::UnknownLog)?;
        let opened = open_note(req.note, &log.verifiers).map_err(|e| match e {
            ledger::Error::NoKnownSignature | ledger::Error::BadNoteSignature(_) => {
                Refusal::Forbidden(e.to_string())
            }
            other => Refusal::BadRequest(other.to_string()),
        })?;
        let checkpoint =
            Checkpoint::parse(&opened.text).map_err(|e| Refusal::BadRequest(e.to_string()))?;
        if req.old_size > checkpoint.size {
            return Err(bad("old size exceeds the checkpoint size"));
        }

        let mut latest = log.latest.lock().map_err(|_| Refusal::Internal)?;
        let (size, root) = latest
            .as_ref()
            .map_or((0, empty_root()), |l| (l.size, l.root));
        if req.old_size != size {
            return Err(Refusal::Conflict(size));
        }
        if checkpoint.size == 0 && checkpoint.root_hash != empty_root() {
            return Err(Refusal::Unprocessable("empty tree with a non-empty root"));
        }
        if req.old_size == 0 {
            if !req.proof.is_empty() {
                return Err(Refusal::Unprocessable(
                    "consistency proof from size 0 must be empty",
                ));
            }
        } else if req.old_size == checkpoint.size && checkpoint.root_hash != root {
            return Err(Refusal::Unprocessable("same size, different root"));
        } else {
            verify_consistency(
                req.old_size,
                checkpoint.size,
                &req.proof,
                &root,
                &checkpoint.root_hash,
            )
            .map_err(|_| Refusal::Unprocessable("consistency proof does not verify"))?;
        }

        let cosig = self
            .signer
            .cosign(&opened.text, unix_now())
            .map_err(|_| Refusal::Internal)?
            .to_line();
        let mut note = format!("{}\n", opened.text);
        for sig in &opened.verified {
            note.push_str(&signature_line(sig));
        }
        note.push_str(&cosig);
        // Persist before answering: a cosignature must never outlive a crash that forgets it.
        if let Err(e) = self.store.save(&log.origin, &note) {
            tracing::error!(origin = %log.origin, error = %e, "persisting witness state failed");
            return Err(Refusal::Internal);
        }
        *latest = Some(Latest {
            size: checkpoint.size,
            root: checkpoint.root_hash,
            note,
        });
        Ok(cosig)
    }
}

#[cfg(test)]
mod tests;
