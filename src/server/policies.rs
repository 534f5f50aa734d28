//! The built-in default policy set, written into the data directory on first start so that operators edit
//! files, not the binary.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

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
pub(crate) fn policy_dir(data: &Path, chosen: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(dir) = chosen {
        return Ok(dir.to_owned());
    }
    let dir = data.join("policies");
    if !dir.exists() {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        for (name, text) in DEFAULTS {
            std::fs::write(dir.join(name), text)
                .with_context(|| format!("writing {}", dir.join(name).display()))?;
        }
    }
    Ok(dir)
}
