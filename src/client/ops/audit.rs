//! `audit`: the whole log, checked with nothing but the log key.
//!
//! Fetches the checkpoint, every entry bundle and hash tile of every level (C2SP tlog-tiles, partial tiles
//! included), recomputes the tree and checks its root, checks every served tile against the recomputed tree,
//! decodes every entry and verifies its signature against the keys enrolled at that point of the log, and
//! checks consistency with the state of the previous run (the old root recomputed here, plus the server's
//! consistency proof where the source serves one; see [`super::continuity`]). The log is read through a
//! [`TileSource`]: a tradeledger server, or a static tlog-tiles prefix such as the bucket's (`audit --tiles`).

use std::collections::{BTreeMap, HashMap};
use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::Context as _;
use ed25519_dalek::VerifyingKey;
use ledger::{Hash, MemoryTree, NodeSource as _, leaf_hash};
use serde::{Deserialize, Serialize};
use vault::{CertId, PartyId, PartyPublic, Role};

use super::continuity::{Continuity, check_previous};
use crate::client::TileSource;
use crate::client::entries::{self, SignedEntry};
use crate::client::logview::{parse_log_key, verify_checkpoint_under};
use crate::tilepath::TileRef;

/// Entries per tile (C2SP tlog-tiles).
const TILE_WIDTH: u64 = 256;

/// What an audit remembers between runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditState {
    /// The tree size audited.
    pub size: u64,
    /// Its root hash, hex.
    pub root: String,
}

impl AuditState {
    /// Reads a state file; `None` if it does not exist yet.
    pub fn load(path: &Path) -> anyhow::Result<Option<AuditState>> {
        match std::fs::read(path) {
            Ok(bytes) => {
                Ok(Some(serde_json::from_slice(&bytes).with_context(|| {
                    format!("{} is malformed", path.display())
                })?))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes a state file atomically and durably (mode 0600).
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        ledger::durable::write_atomic(path, &serde_json::to_vec_pretty(self)?)
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// One problem found, at an entry index where it applies.
#[derive(Debug, Clone, Serialize)]
pub struct Problem {
    /// The entry index, if the problem is about one entry.
    pub index: Option<u64>,
    /// What is wrong.
    pub message: String,
}

/// A release recorded by an access receipt on the log (a receipt of kind 0x09 records several, each listed
/// here with the receipt's index).
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    /// The receipt's index.
    pub index: u64,
    /// The certificate released.
    pub cert_id: String,
    /// The grant commitment under which it was released, hex.
    pub grant: String,
    /// When, as the entry records it.
    pub time: u64,
}

/// The audit's findings.
#[derive(Debug, Clone, Serialize)]
pub struct AuditReport {
    /// The audited tree size.
    pub size: u64,
    /// Its root hash, hex.
    pub root: String,
    /// Entries by kind.
    pub kinds: BTreeMap<String, u64>,
    /// Enrolled parties and their roles, as of the checkpoint.
    pub parties: BTreeMap<String, String>,
    /// Access receipts.
    pub receipts: Vec<Receipt>,
    /// The size the previous run had audited, if any.
    pub previous_size: Option<u64>,
    /// How the log relates to the previous run's state; `None` without one.
    pub continuity: Option<Continuity>,
    /// Everything found wrong; empty means the log passed.
    pub problems: Vec<Problem>,
}

/// The keys known at a point of the log while replaying it.
struct Replay {
    log_key: VerifyingKey,
    operator: Option<PartyPublic>,
    parties: HashMap<PartyId, PartyPublic>,
    registrants: HashMap<CertId, PartyId>,
    /// Signing keys rotated away from, per party: never valid again.
    retired: HashMap<PartyId, Vec<[u8; 32]>>,
}

impl Replay {
    fn check(&mut self, index: u64, signed: &SignedEntry) -> Result<(), String> {
        let entry = signed.entry();
        let signer = entries::signer(signed).ok_or("the signer's id is not a valid party id")?;
        if index == 0 {
            let party = entries::enrolled_party(entry)
                .filter(|p| p.role == Role::Operator && signer.as_str() == crate::api::LOG_PARTY)
                .ok_or("entry 0 is not the operator's enrollment")?;
            signed
                .verify(&self.log_key)
                .map_err(|_| "entry 0 is not signed by the log key")?;
            self.parties.insert(party.id.clone(), party.clone());
            self.operator = Some(party);
            return Ok(());
        }
        if entries::is_access_receipt(entry) {
            signed
                .verify(&self.log_key)
                .map_err(|_| "access receipt not signed by the log key")?;
            // A group's receipt (kind 0x09) vouches for each release it lists: each must be of a registered
            // certificate.
            for (cert_id, _, _) in entries::releases(entry) {
                if !self.registrants.contains_key(&cert_id) {
                    return Err(format!(
                        "access receipt for unregistered certificate {cert_id}"
                    ));
                }
            }
            return Ok(());
        }
        if signer.as_str() == crate::api::LOG_PARTY {
            // The retention sweep's purges are the log's own entries.
            let cert_id = entries::cert_of(entry)
                .filter(|_| entries::kind(entry) == "purge")
                .ok_or("only access receipts and retention purges are signed by the log")?;
            signed
                .verify(&self.log_key)
                .map_err(|_| "retention purge not signed by the log key")?;
            if !self.registrants.contains_key(&cert_id) {
                return Err(format!("purge of unregistered certificate {cert_id}"));
            }
            return Ok(());
        }
        let key = self
            .parties
            .get(&signer)
            .ok_or_else(|| format!("signed by {signer}, who is not enrolled at this point"))?;
        signed
            .verify(&key.signing_key)
            .map_err(|_| format!("signature by {signer} does not verify"))?;
        if let Some(party) = entries::enrolled_party(entry) {
            if Some(&signer) != self.operator.as_ref().map(|o| &o.id) {
                return Err("enrollment not signed by the operator".into());
            }
            if self.parties.contains_key(&party.id) {
                // Only a rotation changes an enrolled party's keys; the first enrollment's stay in force here.
                return Err(format!(
                    "second enrollment of {} without a rotation: the log gives it two identities",
                    party.id
                ));
            }
            self.parties.insert(party.id.clone(), party);
            return Ok(());
        }
        if let Some((party, replaces)) = entries::rotated_party(entry) {
            return self.rotation(&signer, signed, party, replaces);
        }
        let cert_id = entries::cert_of(entry).ok_or("entry of unknown kind")?;
        if let Some(facts) = entries::registration_facts(entry) {
            if facts.registrant != signer {
                return Err(format!(
                    "registration of {cert_id} names {} but is signed by {signer}",
                    facts.registrant
                ));
            }
            if self.registrants.insert(cert_id, signer).is_some() {
                return Err(format!("certificate {cert_id} registered twice"));
            }
            return Ok(());
        }
        match self.registrants.get(&cert_id) {
            Some(registrant) if *registrant == signer => Ok(()),
            Some(_) => Err(format!(
                "{} on {cert_id} not signed by its registrant",
                entries::kind(entry)
            )),
            None => Err(format!(
                "{} on unregistered certificate {cert_id}",
                entries::kind(entry)
            )),
        }
    }
}

impl Replay {
    /// A rotation: signed by the operator (checked by the caller against the signer's key), of an enrolled
    /// party keeping its role, replacing its current key with that key's consent, to a key never used before.
    fn rotation(
        &mut self,
        signer: &PartyId,
        signed: &SignedEntry,
        party: PartyPublic,
        replaces: [u8; 32],
    ) -> Result<(), String> {
        if Some(signer) != self.operator.as_ref().map(|o| &o.id) {
            return Err("rotation not signed by the operator".into());
        }
        let current = self
            .parties
            .get(&party.id)
            .ok_or_else(|| format!("rotation of {}, who is not enrolled", party.id))?;
        if current.role != party.role || current.role == Role::Operator {
            return Err(format!(
                "rotation of {} changes its role or rotates the operator",
                party.id
            ));
        }
        if current.signing_key.to_bytes() != replaces {
            return Err(format!(
                "rotation of {} replaces a key it does not hold",
                party.id
            ));
        }
        signed
            .entry()
            .verify_rotation_consent()
            .map_err(|_| format!("rotation of {} lacks its consent", party.id))?;
        let retired = self.retired.entry(party.id.clone()).or_default();
        if party.signing_key.to_bytes() == replaces
            || retired.contains(&party.signing_key.to_bytes())
        {
            return Err(format!("rotation of {} back to a retired key", party.id));
        }
        retired.push(replaces);
        self.parties.insert(party.id.clone(), party);
        Ok(())
    }
}

/// Checks every tile of level 1 and up (tlog-tiles: level L holds the roots of subtrees of 256^L leaves)
/// against the tree recomputed from the entries; returns what differs, naming each tile.
pub(super) async fn check_upper_tiles(
    source: &impl TileSource,
    tree: &MemoryTree,
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    for level in 1u8..=7 {
        let height = 8 * level;
        let count = tree.size().checked_shr(u32::from(height)).unwrap_or(0);
        if count == 0 {
            break;
        }
        for index in 0..count.div_ceil(TILE_WIDTH) {
            let width = (count - index * TILE_WIDTH).min(TILE_WIDTH);
            let tile = TileRef {
                level: Some(level),
                index,
                partial: (width < TILE_WIDTH)
                    .then(|| u8::try_from(width).ok())
                    .flatten(),
            };
            let served = fetch(source, tile).await?;
            let expected: Vec<u8> = (index * TILE_WIDTH..index * TILE_WIDTH + width)
                .map(|node| tree.node(height, node))
                .collect::<Result<Vec<Hash>, _>>()?
                .concat();
            if served != expected {
                problems.push(format!(
                    "tile {} differs from the tree recomputed from the entries",
                    tile.path()
                ));
            }
        }
    }
    Ok(problems)
}

/// Splits an entry bundle (big-endian uint16 length-prefixed entries) into its entries.
fn split_bundle(mut bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_first_chunk::<2>()?;
        let len = usize::from(u16::from_be_bytes(*len));
        let (entry, rest) = rest.split_at_checked(len)?;
        out.push(entry.to_vec());
        bytes = rest;
    }
    Some(out)
}

/// Fetches a tile, naming it and the source if that fails.
async fn fetch(source: &impl TileSource, tile: TileRef) -> anyhow::Result<Vec<u8>> {
    source
        .tile(tile)
        .await
        .with_context(|| format!("fetching {} from {}", tile.path(), source.base()))
}

/// Audits the log `source` serves against the log key; `previous` is the state of the last run.
pub async fn audit(
    source: &impl TileSource,
    log_key: &str,
    previous: Option<&AuditState>,
) -> anyhow::Result<AuditReport> {
    let (verifier, raw_log_key) = parse_log_key(log_key)?;
    let note = source
        .checkpoint()
        .await
        .with_context(|| format!("fetching the checkpoint from {}", source.base()))?;
    let checkpoint = verify_checkpoint_under(&note, &verifier, source.policy())?;
    let size = checkpoint.size;
    let mut problems = Vec::new();
    let mut problem =
        |index: Option<u64>, message: String| problems.push(Problem { index, message });

    let progress = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(size).with_message("auditing")
    } else {
        indicatif::ProgressBar::hidden()
    };
    let mut tree = MemoryTree::new();
    let mut replay = Replay {
        log_key: raw_log_key,
        operator: None,
        parties: HashMap::new(),
        registrants: HashMap::new(),
        retired: HashMap::new(),
    };
    let mut kinds: BTreeMap<String, u64> = BTreeMap::new();
    let mut receipts = Vec::new();
    for tile in 0..size.div_ceil(TILE_WIDTH) {
        let width = (size - tile * TILE_WIDTH).min(TILE_WIDTH);
        let partial = (width < TILE_WIDTH)
            .then(|| u8::try_from(width).ok())
            .flatten();
        let bundle_ref = TileRef {
            level: None,
            index: tile,
            partial,
        };
        let tile_ref = TileRef {
            level: Some(0),
            index: tile,
            partial,
        };
        let bundle = fetch(source, bundle_ref).await?;
        let hashes = fetch(source, tile_ref).await?;
        let Some(bundle) = split_bundle(&bundle).filter(|b| b.len() as u64 == width) else {
            problem(
                Some(tile * TILE_WIDTH),
                format!(
                    "entry bundle {tile} ({}) is malformed or has the wrong width",
                    bundle_ref.path()
                ),
            );
            anyhow::bail!(
                "cannot audit past a malformed entry bundle ({} problem(s))",
                problems.len()
            );
        };
        let leaves: Vec<Hash> = bundle.iter().map(|e| leaf_hash(e)).collect();
        if hashes != leaves.concat() {
            problem(
                Some(tile * TILE_WIDTH),
                format!(
                    "level-0 tile {tile} ({}) differs from the entries' leaf hashes",
                    tile_ref.path()
                ),
            );
        }
        for (offset, (bytes, leaf)) in bundle.iter().zip(&leaves).enumerate() {
            let index = tile * TILE_WIDTH + offset as u64;
            tree.push(*leaf);
            match SignedEntry::decode(bytes) {
                Err(e) => problem(Some(index), format!("undecodable entry: {e}")),
                Ok(signed) => {
                    *kinds
                        .entry(entries::kind(signed.entry()).to_owned())
                        .or_default() += 1;
                    if let Err(message) = replay.check(index, &signed) {
                        problem(Some(index), message);
                    }
                    for (cert_id, grant, time) in entries::releases(signed.entry()) {
                        receipts.push(Receipt {
                            index,
                            cert_id: cert_id.to_string(),
                            grant: hex::encode(grant),
                            time,
                        });
                    }
                }
            }
            progress.inc(1);
        }
    }
    progress.finish_and_clear();
    for message in check_upper_tiles(source, &tree).await? {
        problem(None, message);
    }
    if tree.root() != checkpoint.root {
        problem(
            None,
            "the recomputed tree root differs from the checkpoint's".into(),
        );
    }
    let continuity = match previous {
        Some(previous) => Some(
            check_previous(
                source,
                previous,
                &tree,
                &checkpoint.root,
                size,
                &mut problem,
            )
            .await,
        ),
        None => None,
    };
    let parties = replay
        .parties
        .values()
        .map(|p| (p.id.to_string(), p.role.to_string()))
        .collect();
    Ok(AuditReport {
        size,
        root: hex::encode(checkpoint.root),
        kinds,
        parties,
        receipts,
        previous_size: previous.map(|p| p.size),
        continuity,
        problems,
    })
}

#[cfg(test)]
mod tests;
