//! The log's Ed25519 key: generated at first start into `DATA/log.key` (C2SP signer-key text, mode 0600), its
//! verifier key written to `DATA/log.vkey` on every start.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::Path;

use anyhow::Context as _;
use ledger::{NoteSigner, NoteVerifier};

/// The log's signing key and its public verifier key.
pub struct LogKey {
    signer: NoteSigner,
    vkey: String,
}

impl LogKey {
    /// Loads `DATA/log.key`, or creates it, and (re)writes `DATA/log.vkey`.
    pub fn load_or_create(data: &Path, origin: &str) -> anyhow::Result<LogKey> {
        let key_path = data.join("log.key");
        let signer = if key_path.exists() {
            let mode = std::fs::metadata(&key_path)?.permissions().mode();
            anyhow::ensure!(
                mode & 0o077 == 0,
                "{} is readable by others (mode {:o}); chmod 600 it",
                key_path.display(),
                mode & 0o777
            );
            let text = std::fs::read_to_string(&key_path)
                .with_context(|| format!("reading {}", key_path.display()))?;
            let signer = NoteSigner::from_skey(text.trim_end())
                .with_context(|| format!("{} is not a signer key", key_path.display()))?;
            anyhow::ensure!(
                signer.name() == origin,
                "{} signs for origin {:?}, not {origin:?}",
                key_path.display(),
                signer.name()
            );
            signer
        } else {
            let signer = NoteSigner::generate(origin).context("generating the log key")?;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&key_path)
                .with_context(|| format!("creating {}", key_path.display()))?;
            file.write_all(signer.to_skey().as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::File::open(data)?.sync_all()?;
            signer
        };
        let vkey = signer.verifier().to_vkey();
        std::fs::write(data.join("log.vkey"), format!("{vkey}\n"))
            .with_context(|| format!("writing {}", data.join("log.vkey").display()))?;
        Ok(LogKey { signer, vkey })
    }

    /// The signer of checkpoints.
    pub fn note_signer(&self) -> NoteSigner {
        self.signer.clone()
    }

    /// The Ed25519 key that signs the log's own entries.
    pub fn signing_key(&self) -> &ed25519_dalek::SigningKey {
        self.signer.signing_key()
    }

    /// The verifier key text (C2SP vkey).
    pub fn vkey(&self) -> &str {
        &self.vkey
    }

    /// The verifier of checkpoints.
    pub fn verifier(&self) -> NoteVerifier {
        self.signer.verifier()
    }
}
