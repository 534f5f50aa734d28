//! The registrant's local record of which grant commitment belongs to which reader.
//!
//! A revocation must name the revoked reader's grant commitment, and the grant salt behind it travels only in
//! that reader's envelope. So the registrant keeps `party -> grant commitment` for each certificate in
//! `$TRADELEDGER_HOME/grants/<cert_id>.json`. It holds nothing secret (the commitments are on the log); it is
//! private only in that it links readers to commitments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use vault::{CertId, PartyId};

fn path(home: &Path, cert_id: &CertId) -> PathBuf {
    home.join("grants").join(format!("{cert_id}.json"))
}

/// Reads the record of a certificate (empty if none).
pub(crate) fn load(home: &Path, cert_id: &CertId) -> anyhow::Result<BTreeMap<String, String>> {
    let path = path(home, cert_id);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is malformed", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Records grant commitments for a certificate.
pub(crate) fn record(
    home: &Path,
    cert_id: &CertId,
    grants: &[(PartyId, ledger::Hash)],
) -> anyhow::Result<()> {
    let mut book = load(home, cert_id)?;
    for (party, grant) in grants {
        book.insert(party.to_string(), hex::encode(grant));
    }
    save(home, cert_id, &book)
}

/// Puts back what the record said for `party` before a grant the server refused (`None`: nothing).
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
    save(home, cert_id, &book)
}

fn save(home: &Path, cert_id: &CertId, book: &BTreeMap<String, String>) -> anyhow::Result<()> {
    let path = path(home, cert_id);
    let dir = path.parent().context("grant record path has no parent")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(book)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))
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
