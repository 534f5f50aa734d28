//! Verification before trust: a checkpoint signed by the pinned log key, entries included under it, and
//! party keys taken only from enrollment entries signed by the operator, whose own enrollment is entry 0,
//! signed by the log key.
//!
//! The pure checks ([`verify_checkpoint`], [`verify_included`], [`operator_of`], [`party_of`]) need no
//! server, so the offline `verify` uses them on a bundle; [`LogView`] applies them to a live server.

use base64::Engine as _;
use ed25519_dalek::VerifyingKey;
use ledger::{NoteVerifier, leaf_hash, open_checkpoint, verify_inclusion};
use vault::{PartyId, PartyPublic};

use super::Client;
use super::entries::{self, SignedEntry};

/// Why something the server (or a bundle) presented is not trusted.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The log key (vkey) itself is malformed.
    #[error("invalid log key: {0}")]
    LogKey(String),
    /// The checkpoint is malformed or not signed by the pinned log key.
    #[error("checkpoint not trusted: {0}")]
    Checkpoint(String),
    /// An entry is not in the tree of the verified checkpoint.
    #[error("entry {index} is not included in the checkpoint of size {size}")]
    NotIncluded {
        /// The entry's index.
        index: u64,
        /// The checkpoint's tree size.
        size: u64,
    },
    /// An entry's bytes do not decode.
    #[error("entry {index} is malformed: {reason}")]
    Malformed {
        /// The entry's index.
        index: u64,
        /// What was wrong.
        reason: String,
    },
    /// An entry is not of the kind the context requires, or names another party or certificate.
    #[error("entry {index} is not {expected}")]
    Unexpected {
        /// The entry's index.
        index: u64,
        /// What it should have been.
        expected: String,
    },
    /// An entry's signature does not verify with the key of its claimed signer.
    #[error("entry {index}: signature by {signer} does not verify")]
    BadSignature {
        /// The entry's index.
        index: u64,
        /// The claimed signer.
        signer: String,
    },
}

/// An entry proven to be in the log: its index, exact bytes, decoded form and inclusion proof.
#[derive(Debug, Clone)]
pub struct VerifiedEntry {
    /// Index in the log.
    pub index: u64,
    /// The encoded bytes, exactly as hashed into the tree.
    pub bytes: Vec<u8>,
    /// The decoded entry.
    pub(crate) signed: SignedEntry,
    /// Its inclusion proof in the tree of the checkpoint it was verified under.
    pub proof: Vec<Vec<u8>>,
}

/// A checkpoint that verified, with the note it came from.
#[derive(Debug, Clone)]
pub struct TrustedCheckpoint {
    /// The signed note bytes, as served.
    pub note: Vec<u8>,
    /// Tree size.
    pub size: u64,
    /// Root hash.
    pub root: ledger::Hash,
    /// Origin line.
    pub origin: String,
}

/// Parses the log key and returns the note verifier and the raw Ed25519 key (which also signs entry 0 and
/// access receipts). The raw key is read from the vkey's third field (C2SP signed-note: type 0x01 || key) and
/// must rebuild exactly the same vkey.
pub(crate) fn parse_log_key(vkey: &str) -> Result<(NoteVerifier, VerifyingKey), VerifyError> {
    let vkey = vkey.trim();
    let verifier = NoteVerifier::from_vkey(vkey).map_err(|e| VerifyError::LogKey(e.to_string()))?;
    let raw = vkey
        .splitn(3, '+')
        .nth(2)
        .and_then(|b64| base64::engine::general_purpose::STANDARD.decode(b64).ok())
        .ok_or_else(|| VerifyError::LogKey("key is not base64".into()))?;
    let key = match raw.split_first() {
        Some((0x01, key)) => <[u8; 32]>::try_from(key)
            .ok()
            .and_then(|k| VerifyingKey::from_bytes(&k).ok()),
        _ => None,
    }
    .ok_or_else(|| VerifyError::LogKey("not an Ed25519 vkey".into()))?;
    let rebuilt = NoteVerifier::ed25519(verifier.name(), key)
        .map_err(|e| VerifyError::LogKey(e.to_string()))?;
    if rebuilt.to_vkey() != verifier.to_vkey() {
        return Err(VerifyError::LogKey("key id does not match the key".into()));
    }
    Ok((verifier, key))
}

/// Opens a checkpoint note with the log key (C2SP signed-note) and parses it (C2SP tlog-checkpoint). The
/// origin must be the log key's name, as C2SP tlog-checkpoint recommends.
pub(crate) fn verify_checkpoint(
    note: &[u8],
    verifier: &NoteVerifier,
) -> Result<TrustedCheckpoint, VerifyError> {
    let checkpoint = open_checkpoint(note, verifier.name(), verifier)
        .map_err(|e| VerifyError::Checkpoint(e.to_string()))?;
    Ok(TrustedCheckpoint {
        note: note.to_vec(),
        size: checkpoint.size,
        root: checkpoint.root_hash,
        origin: checkpoint.origin,
    })
}

/// [`verify_checkpoint`], and with a witness policy also the policy's verdict (C2SP tlog-policy: the log's
/// signature and a quorum of witness cosignatures).
pub(crate) fn verify_checkpoint_under(
    note: &[u8],
    verifier: &NoteVerifier,
    policy: Option<&ledger::Policy>,
) -> Result<TrustedCheckpoint, VerifyError> {
    let trusted = verify_checkpoint(note, verifier)?;
    if let Some(policy) = policy {
        policy
            .verify_checkpoint(note)
            .map_err(|e| VerifyError::Checkpoint(format!("witness policy: {e}")))?;
    }
    Ok(trusted)
}

/// Checks that `bytes` is entry `index` under `checkpoint` (RFC 9162 §2.1.3.2) and decodes it.
pub(crate) fn verify_included(
    index: u64,
    bytes: Vec<u8>,
    proof: Vec<Vec<u8>>,
    checkpoint: &TrustedCheckpoint,
) -> Result<VerifiedEntry, VerifyError> {
    verify_inclusion(
        &leaf_hash(&bytes),
        index,
        checkpoint.size,
        &proof,
        &checkpoint.root,
    )
    .map_err(|_| VerifyError::NotIncluded {
        index,
        size: checkpoint.size,
    })?;
    let signed = SignedEntry::decode(&bytes).map_err(|e| VerifyError::Malformed {
        index,
        reason: e.to_string(),
    })?;
    Ok(VerifiedEntry {
        index,
        bytes,
        signed,
        proof,
    })
}

/// The operator, from entry 0: an enrollment signed by the log key.
pub(crate) fn operator_of(
    entry0: &VerifiedEntry,
    log_key: &VerifyingKey,
) -> Result<PartyPublic, VerifyError> {
    let unexpected = || VerifyError::Unexpected {
        index: entry0.index,
        expected: "the operator's enrollment".into(),
    };
    if entry0.index != 0 {
        return Err(unexpected());
    }
    let party = entries::enrolled_party(entry0.signed.entry()).ok_or_else(unexpected)?;
    if party.role != vault::Role::Operator
        || entry0.signed.signer().as_str() != crate::api::LOG_PARTY
    {
        return Err(unexpected());
    }
    entry0
        .signed
        .verify(log_key)
        .map_err(|_| VerifyError::BadSignature {
            index: 0,
            signer: "the log key".into(),
        })?;
    Ok(party)
}

/// The party enrolled by `entry`, which must be signed by `operator` and be an enrollment, or a rotation
/// whose consent verifies with the key it replaces. (Whether that key was the party's key before is checked
/// along the chain by [`LogView::party_chain`] and by `audit`.)
pub(crate) fn party_of(
    entry: &VerifiedEntry,
    operator: &PartyPublic,
) -> Result<PartyPublic, VerifyError> {
    let party = match entries::enrolled_party(entry.signed.entry()) {
        Some(party) => party,
        None => {
            let (party, _) = entries::rotated_party(entry.signed.entry()).ok_or_else(|| {
                VerifyError::Unexpected {
                    index: entry.index,
                    expected: "an enrollment".into(),
                }
            })?;
            entry
                .signed
                .entry()
                .verify_rotation_consent()
                .map_err(|_| VerifyError::BadSignature {
                    index: entry.index,
                    signer: format!("{} (rotation consent)", party.id),
                })?;
            party
        }
    };
    if entries::signer(&entry.signed).as_ref() != Some(&operator.id) {
        return Err(VerifyError::Unexpected {
            index: entry.index,
            expected: "signed by the operator".into(),
        });
    }
    entry
        .signed
        .verify(&operator.signing_key)
        .map_err(|_| VerifyError::BadSignature {
            index: entry.index,
            signer: operator.id.to_string(),
        })?;
    Ok(party)
}

/// Checks that `next` (already accepted by [`party_of`]) continues `previous`: same party and role, and it
/// replaces exactly the previous signing key.
fn continues(
    next: &PartyPublic,
    entry: &VerifiedEntry,
    previous: &PartyPublic,
) -> Result<(), VerifyError> {
    let replaces = entries::rotated_party(entry.signed.entry()).map(|(_, replaces)| replaces);
    if next.id != previous.id
        || next.role != previous.role
        || replaces != Some(previous.signing_key.to_bytes())
    {
        return Err(VerifyError::Unexpected {
            index: entry.index,
            expected: format!("a rotation of {}'s previous key", previous.id),
        });
    }
    Ok(())
}

/// The log as one verified checkpoint shows it, read through a [`Client`].
#[derive(Debug)]
pub struct LogView<'a> {
    client: &'a Client,
    log_key: VerifyingKey,
    checkpoint: TrustedCheckpoint,
}

impl<'a> LogView<'a> {
    /// Fetches the latest checkpoint and verifies it with the log key (vkey text), and with the client's
    /// witness policy if it has one.
    pub async fn fetch(client: &'a Client, vkey: &str) -> anyhow::Result<LogView<'a>> {
        Self::fetch_covering(client, vkey, 0).await
    }

    /// [`LogView::fetch`], asking the server to wait until its published checkpoint covers `min_size` entries
    /// (the returned view may still be smaller if the wait ran out).
    pub async fn fetch_covering(
        client: &'a Client,
        vkey: &str,
        min_size: u64,
    ) -> anyhow::Result<LogView<'a>> {
        let (verifier, log_key) = parse_log_key(vkey)?;
        let note = if min_size == 0 {
            client.get_checkpoint().await?
        } else {
            client.get_checkpoint_covering(min_size).await?
        };
        let checkpoint = verify_checkpoint_under(&note, &verifier, client.policy())?;
        Ok(LogView {
            client,
            log_key,
            checkpoint,
        })
    }

    /// The verified checkpoint.
    pub fn checkpoint(&self) -> &TrustedCheckpoint {
        &self.checkpoint
    }

    /// The log's Ed25519 key.
    pub(crate) fn log_key(&self) -> &VerifyingKey {
        &self.log_key
    }

    /// Fetches entry `index` and its inclusion proof, and verifies it under the checkpoint.
    pub async fn entry(&self, index: u64) -> anyhow::Result<VerifiedEntry> {
        if index >= self.checkpoint.size {
            return Err(VerifyError::NotIncluded {
                index,
                size: self.checkpoint.size,
            }
            .into());
        }
        let bytes = self.client.get_entry(index).await?;
        let proof = self
            .client
            .get_inclusion(index, self.checkpoint.size)
            .await?;
        Ok(verify_included(index, bytes, proof, &self.checkpoint)?)
    }

    /// The operator's verified enrollment (entry 0) and identity.
    pub async fn operator(&self) -> anyhow::Result<(VerifiedEntry, PartyPublic)> {
        let entry0 = self.entry(0).await?;
        let operator = operator_of(&entry0, &self.log_key)?;
        Ok((entry0, operator))
    }

    /// A party's verified current enrollment and identity: the entry the server names, proven in the log and
    /// signed by the operator, enrolling exactly `id`; after key rotations, the whole chain from the first
    /// enrollment is checked.
    pub async fn party(&self, id: &PartyId) -> anyhow::Result<(VerifiedEntry, PartyPublic)> {
        let mut chain = self.party_chain(id).await?;
        chain
            .pop()
            .ok_or_else(|| anyhow::anyhow!("no enrollment of {id}"))
    }

    /// The party's keys as they were when entry `at` was appended: the latest link of its chain before `at`
    /// (an entry signed by a party is checked against the key it had then, not its current one).
    pub async fn party_at(
        &self,
        id: &PartyId,
        at: u64,
    ) -> anyhow::Result<(VerifiedEntry, PartyPublic)> {
        self.party_chain(id)
            .await?
            .into_iter()
            .rev()
            .find(|(entry, _)| entry.index < at)
            .ok_or_else(|| {
                VerifyError::Unexpected {
                    index: at,
                    expected: format!("an entry made after {id} was enrolled"),
                }
                .into()
            })
    }

    /// A party's enrollment followed by each of its key rotations, every link verified under the checkpoint:
    /// the first an enrollment of `id` by the operator, each next a rotation by the operator with the party's
    /// consent, replacing the key before it.
    pub async fn party_chain(
        &self,
        id: &PartyId,
    ) -> anyhow::Result<Vec<(VerifiedEntry, PartyPublic)>> {
        let (entry0, operator) = self.operator().await?;
        if *id == operator.id {
            return Ok(vec![(entry0, operator)]);
        }
        let record = self.client.get_party(id).await?;
        if record.previous.windows(2).any(|w| w[0] >= w[1])
            || record
                .previous
                .last()
                .is_some_and(|&last| last >= record.index)
        {
            anyhow::bail!("the server's enrollment chain for {id} is out of order");
        }
        if !record.conflicting.is_empty() {
            return Err(self.conflict(id, &operator, &record).await);
        }
        let mut chain: Vec<(VerifiedEntry, PartyPublic)> =
            Vec::with_capacity(record.previous.len() + 1);
        for &index in &record.previous {
            let entry = self.entry(index).await?;
            let party = self.link(&entry, &operator, chain.last())?;
            chain.push((entry, party));
        }
        let proof = self
            .client
            .get_inclusion(record.index, self.checkpoint.size)
            .await?;
        let entry = verify_included(record.index, record.entry.0, proof, &self.checkpoint)?;
        let party = self.link(&entry, &operator, chain.last())?;
        chain.push((entry, party));
        if chain.iter().any(|(_, p)| p.id != *id) {
            return Err(VerifyError::Unexpected {
                index: record.index,
                expected: format!("the enrollment of {id}"),
            }
            .into());
        }
        Ok(chain)
    }

    /// Why a party the server lists with conflicting enrollments is refused: each listed entry is checked to be
    /// a first enrollment of `id` by the operator, proven in the log (a server that lists anything else is not
    /// believed either). Which of two enrollments without a rotation between them is the party's is not
    /// something the log can say, so neither is used.
    async fn conflict(
        &self,
        id: &PartyId,
        operator: &PartyPublic,
        record: &crate::api::PartyRecord,
    ) -> anyhow::Error {
        for &index in &record.conflicting {
            let checked = match self.entry(index).await {
                Ok(entry) => party_of(&entry, operator).map_err(anyhow::Error::from).and_then(
                    |party| match entries::enrolled_party(entry.signed.entry()) {
                        Some(_) if party.id == *id => Ok(()),
                        _ => Err(anyhow::anyhow!(
                            "the server lists entry {index} as an enrollment of {id}, and it is not"
                        )),
                    },
                ),
                Err(e) => Err(e),
            };
            if let Err(e) = checked {
                return e.context(format!("checking the conflicting enrollments of {id}"));
            }
        }
        let mut indexes = vec![record.index];
        indexes.extend(&record.conflicting);
        let indexes: Vec<String> = indexes.iter().map(u64::to_string).collect();
        anyhow::anyhow!(
            "{id} is enrolled more than once without a rotation (log entries {}); refusing its keys",
            indexes.join(", ")
        )
    }

    /// One link of a party's chain: the first must be a first enrollment, later ones rotations of the one
    /// before.
    fn link(
        &self,
        entry: &VerifiedEntry,
        operator: &PartyPublic,
        before: Option<&(VerifiedEntry, PartyPublic)>,
    ) -> Result<PartyPublic, VerifyError> {
        let party = party_of(entry, operator)?;
        match before {
            None if entries::enrolled_party(entry.signed.entry()).is_none() => {
                Err(VerifyError::Unexpected {
                    index: entry.index,
                    expected: "a first enrollment".into(),
                })
            }
            None => Ok(party),
            Some((_, previous)) => continues(&party, entry, previous).map(|()| party),
        }
    }
}
