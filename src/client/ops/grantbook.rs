//! The registrant's local record of which grant commitment belongs to which reader.
//!
//! A revocation must name the revoked reader's grant commitment, and the grant salt behind it travels only in
//! that reader's envelope. So the registrant keeps `party -> grant commitment` for each certificate in
//! `$TRADELEDGER_HOME/grants/<cert_id>.json`. It holds nothing secret (the commitments are on the log); it is
//! private only in that it links readers to commitments.
//!
//! Beside it, `<cert_id>.history.json` maps every grant commitment ever recorded to its party (never pruned),
//! so the access trail can still name a reader after a revocation or a re-wrap removed its grant.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use vault::{CertId, PartyId};

fn path(home: &Path, cert_id: &CertId) -> PathBuf {
    home.join("grants").join(format!("{cert_id}.json"))
}

fn history_path(home: &Path, cert_id: &CertId) -> PathBuf {
    home.join("grants").join(format!("{cert_id}.history.json"))
}

fn read_map(path: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is malformed", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_map(path: &Path, map: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let dir = path.parent().context("grant record path has no parent")?;
    crate::client::private_dir(dir)?;
    ledger::durable::write_atomic(path, &serde_json::to_vec_pretty(map)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// Every grant commitment (hex) ever recorded for a certificate, with its party.
pub(crate) fn history(home: &Path, cert_id: &CertId) -> anyhow::Result<BTreeMap<String, String>> {
    let mut history = read_map(&history_path(home, cert_id))?;
    // Records written before the history existed still name their current grants.
    for (party, grant) in load(home, cert_id)? {
        history.entry(grant).or_insert(party);
    }
    Ok(history)
}

/// The certificates that have a grant record here.
pub(crate) fn certificates(home: &Path) -> anyhow::Result<Vec<CertId>> {
    let dir = home.join("grants");
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", dir.display())),
    };
    let mut certs = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        if let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json"))
            && let Ok(cert_id) = id.parse()
        {
            certs.push(cert_id);
        }
    }
    certs.sort();
    Ok(certs)
}

/// Reads the record of a certificate (empty if none).
pub(crate) fn load(home: &Path, cert_id: &CertId) -> anyhow::Result<BTreeMap<String, String>> {
    read_map(&path(home, cert_id))
}

/// Records grant commitments for a certificate.
pub(crate) fn record(
    home: &Path,
    cert_id: &CertId,
    grants: &[(PartyId, ledger::Hash)],
) -> anyhow::Result<()> {
    let mut history = history(home, cert_id)?;
    let mut book = load(home, cert_id)?;
    for (party, grant) in grants {
        book.insert(party.to_string(), hex::encode(grant));
        history.insert(hex::encode(grant), party.to_string());
    }
    // The history first: a crash in between leaves a commitment named, never a current grant unnamed.
    write_map(&history_path(home, cert_id), &history)?;
    write_map(&path(home, cert_id), &book)
}

/// Puts back what the record said for `party` before a grant the server refused (`None`: nothing). The
/// history keeps the refused commitment: it names a party, which is harmless for a commitment never logged.
pub(crate) fn restore(
    home: &Path,
    cert_id: &CertId,
    party: &PartyId,
    previous: Option<String>,
) -> anyhow::Result<()> {
    let mut book = load(home, cert_id)?;
    match previous {
        Some(grant) => book.insert(party.to_string(), grant),
        None => book.remove(party.as_str()),
    };
    write_map(&path(home, cert_id), &book)
}

/// The grant commitment recorded for `party`.
pub(crate) fn lookup(
    home: &Path,
    cert_id: &CertId,
    party: &PartyId,
) -> anyhow::Result<ledger::Hash> {
    let book = load(home, cert_id)?;
    let hex_grant = book.get(party.as_str()).with_context(|| {
        format!(
            "no grant to {party} recorded for {cert_id} in {}",
            path(home, cert_id).display()
        )
    })?;
    let mut grant = [0u8; 32];
    hex::decode_to_slice(hex_grant, &mut grant).context("malformed grant record")?;
    Ok(grant)
}
