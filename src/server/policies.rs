//! The built-in default policy set, written into the data directory on first start so that operators edit
//! files, not the binary.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use ledger::durable;

const DEFAULTS: [(&str, &str); 4] = [
    (
        "tradeledger.cedarschema",
        include_str!("../../policies/tradeledger.cedarschema"),
    ),
    (
        "invariants.cedar",
        include_str!("../../policies/invariants.cedar"),
    ),
    (
        "permissions.cedar",
        include_str!("../../policies/permissions.cedar"),
    ),
    ("README.md", include_str!("../../policies/README.md")),
];

/// The policy directory to load: `chosen` if given, else `DATA/policies`, filled with the built-in set when
/// it does not exist yet.
///
/// The set is written into a temporary directory beside it (each file fsynced, then the directory) and renamed
/// into place, then DATA fsynced: after a crash at any moment `DATA/policies` is either absent (and written
/// again at the next start) or complete. A cut soon after the first start once left the schema empty.
pub(crate) fn policy_dir(data: &Path, chosen: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = chosen {
        return Ok(dir.to_owned());
    }
    let dir = data.join("policies");
    if !dir.exists() {
        write_defaults(data, &dir).with_context(|| format!("writing {}", dir.display()))?;
    }
    Ok(dir)
}

fn write_defaults(data: &Path, dir: &Path) -> std::io::Result<()> {
    // Created 0700; a leftover from a crash is ignored (its name starts with a dot).
    let staging = tempfile::Builder::new()
        .prefix(".policies-")
        .permissions(std::fs::Permissions::from_mode(durable::DIR_MODE))
        .tempdir_in(data)?;
    for (name, text) in DEFAULTS {
        durable::write_atomic(&staging.path().join(name), text.as_bytes())?;
    }
    std::fs::rename(staging.path(), dir)?;
    // Renamed away: nothing left for the guard to delete.
    let _ = staging.keep();
    durable::sync_dir(data)
}
