//! The client's configuration: the log verifier key pinned on first contact.
//!
//! It lives in `$TRADELEDGER_HOME/config.json`, or `~/.config/tradeledger/config.json` without that variable.
//! The pinning rule (docs/cli.md): the first command that verifies the log must be given the log key with
//! `--log-key` (or `TRADELEDGER_LOG_KEY`); the client pins it. Later commands without the flag use the pin; a
//! flag that names a different key than the pin is refused, because a changed log key is exactly what an
//! attacker who swapped the server would present. The client never takes the log key from the server.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};

/// The persisted client configuration.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClientConfig {
    /// The pinned log verifier key (C2SP vkey text), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_key: Option<String>,
}

/// The configuration directory: `$TRADELEDGER_HOME`, else `$HOME/.config/tradeledger`.
pub fn config_dir() -> anyhow::Result<PathBuf> {
    if let Some(home) = std::env::var_os("TRADELEDGER_HOME").filter(|h| !h.is_empty()) {
        return Ok(PathBuf::from(home));
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty()).context(
        "neither TRADELEDGER_HOME nor HOME is set; cannot find the client configuration",
    )?;
    Ok(PathBuf::from(home).join(".config").join("tradeledger"))
}

impl ClientConfig {
    /// Reads the configuration in `dir`; a missing file is an empty configuration.
    pub fn load(dir: &Path) -> anyhow::Result<ClientConfig> {
        let path = dir.join("config.json");
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a valid client configuration", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ClientConfig::default()),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }

    /// Writes the configuration to `dir` (created 0700) atomically and durably, mode 0600.
    pub fn save(&self, dir: &Path) -> anyhow::Result<()> {
        crate::client::private_dir(dir)?;
        let path = dir.join("config.json");
        let text = serde_json::to_string_pretty(self)? + "\n";
        ledger::durable::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    }
}

/// Decides which log key to trust, applying the pinning rule of this module.
///
/// `given` is the `--log-key` value (flag or environment), either the vkey text itself or a path to a file
/// holding it. Pins `given` when nothing is pinned yet.
pub fn resolve_log_key(given: Option<&str>, dir: &Path) -> anyhow::Result<String> {
    let mut config = ClientConfig::load(dir)?;
    let given = given.map(read_vkey_arg).transpose()?;
    match (given, config.log_key.clone()) {
        (Some(given), Some(pinned)) if given != pinned => bail!(
            "the log key given differs from the one pinned in {}; if the log key really changed, \
             remove the pin from that file",
            dir.join("config.json").display()
        ),
        (Some(given), Some(_)) => Ok(given),
        (Some(given), None) => {
            config.log_key = Some(given.clone());
            config.save(dir)?;
            Ok(given)
        }
        (None, Some(pinned)) => Ok(pinned),
        (None, None) => bail!(
            "no log key: pass --log-key VKEY (or set TRADELEDGER_LOG_KEY) on first contact; \
             get it from the operator out of band (the server writes it to DATA/log.vkey)"
        ),
    }
}

/// A `--log-key` argument is either a file containing the vkey or the vkey text itself (`name+hex+base64`).
pub fn read_vkey_arg(arg: &str) -> anyhow::Result<String> {
    let arg = arg.trim();
    if Path::new(arg).is_file() {
        let text = std::fs::read_to_string(arg)
            .with_context(|| format!("reading the log key file {arg}"))?;
        return Ok(text.trim().to_owned());
    }
    if arg.splitn(3, '+').count() == 3 {
        return Ok(arg.to_owned());
    }
    bail!("--log-key is neither a vkey (NAME+HEXID+BASE64) nor a readable file")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const KEY_A: &str = "example.com/log+12345678+AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    const KEY_B: &str = "example.com/log+87654321+AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEB";

    #[test]
    fn first_contact_needs_a_key_then_pins_it() {
        let dir = tempfile::tempdir().unwrap();
        assert!(resolve_log_key(None, dir.path()).is_err());
        assert_eq!(resolve_log_key(Some(KEY_A), dir.path()).unwrap(), KEY_A);
        assert_eq!(resolve_log_key(None, dir.path()).unwrap(), KEY_A);
        assert_eq!(resolve_log_key(Some(KEY_A), dir.path()).unwrap(), KEY_A);
        let err = resolve_log_key(Some(KEY_B), dir.path()).unwrap_err();
        assert!(err.to_string().contains("differs"), "{err}");
    }

    #[test]
    fn a_key_file_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("log.vkey");
        std::fs::write(&file, format!("{KEY_A}\n")).unwrap();
        assert_eq!(read_vkey_arg(file.to_str().unwrap()).unwrap(), KEY_A);
    }
}
