//! The log's Ed25519 key: generated at first start into `DATA/log.key` (C2SP signer-key text, mode 0600), or
//! read from `serve --log-key-file FILE` (every frontend of one database signs with the same key); its
//! verifier key written to `DATA/log.vkey` on every start.
//!
//! The same key signs checkpoints (as a signed note) and the log's own entries (the operator's enrollment,
//! access receipts). The two messages cannot be confused: an entry signature covers
//! `tradeledger/entry/v1\n` followed by binary, a note signature covers a checkpoint's text, which begins with
//! the origin line.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use ledger::{NoteSigner, durable};

/// The log's signing key and its public verifier key.
pub struct LogKey {
    origin: String,
    key: SigningKey,
    vkey: String,
}

impl LogKey {
    /// Loads `chosen` if given, else `DATA/log.key` (created if absent), and (re)writes `DATA/log.vkey`.
    pub fn load_or_create(
        data: &Path,
        chosen: Option<&Path>,
        origin: &str,
    ) -> anyhow::Result<LogKey> {
        let key_path = chosen.map_or_else(|| data.join("log.key"), Path::to_owned);
        let signer = if chosen.is_some() || key_path.exists() {
            let signer = load_signer_from(&key_path)?;
            anyhow::ensure!(
                signer.name() == origin,
                "{} signs for origin {:?}, not {origin:?}: pass --origin {:?}",
                key_path.display(),
                signer.name(),
                signer.name()
            );
            signer
        } else {
            let signer = NoteSigner::generate(origin)
                .map_err(|e| anyhow::anyhow!("bad origin {origin:?}: {e}"))?;
            let text = zeroize::Zeroizing::new(format!("{}\n", signer.to_signer_key().as_str()));
            durable::write_new(&key_path, text.as_bytes())
                .with_context(|| format!("creating {}", key_path.display()))?;
            signer
        };
        let vkey = signer.verifier().to_vkey();
        let vkey_path = data.join("log.vkey");
        // Rewritten on every start; a reader (or a cut) sees the old or the new text, never a torn one.
        durable::write_atomic(&vkey_path, format!("{vkey}\n").as_bytes())
            .with_context(|| format!("writing {}", vkey_path.display()))?;
        let key = signer.signing_key().clone();
        Ok(LogKey {
            origin: origin.to_owned(),
            key,
            vkey,
        })
    }

    /// A signer of checkpoints with this key.
    pub fn note_signer(&self) -> NoteSigner {
        NoteSigner::from_key(&self.origin, self.key.clone())
            .expect("the origin was accepted when the key was loaded")
    }

    /// The Ed25519 key that signs the log's own entries.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// The verifier key text (C2SP vkey).
    pub fn vkey(&self) -> &str {
        &self.vkey
    }
}

/// Reads the existing `DATA/log.key` (its name is the log's origin); refuses one readable by others.
pub(crate) fn load_signer(data: &Path) -> anyhow::Result<NoteSigner> {
    load_signer_from(&data.join("log.key"))
}

/// Reads a log key file; refuses one readable by others.
fn load_signer_from(key_path: &Path) -> anyhow::Result<NoteSigner> {
    let mode = std::fs::metadata(key_path)
        .with_context(|| format!("reading {}", key_path.display()))?
        .permissions()
        .mode();
    anyhow::ensure!(
        mode & 0o077 == 0,
        "{} is readable by others (mode {:o}); chmod 600 it",
        key_path.display(),
        mode & 0o777
    );
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(key_path)
            .with_context(|| format!("reading {}", key_path.display()))?,
    );
    NoteSigner::from_signer_key(text.trim_end())
        .map_err(|_| anyhow::anyhow!("{} is not a signer key", key_path.display()))
}
