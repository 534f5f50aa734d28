//! A C2SP tlog-witness server (`tradeledger witness`), and the client a log uses to collect cosignatures.
//!
//! The witness cosigns a log's checkpoint only if it is consistent with the latest checkpoint it cosigned for
//! that log, so a log cannot show two parties two different histories and get a witness quorum for both.

use std::fs;
use std::future::Future;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use ledger::{CosignatureSigner, CosignatureVerifier, NoteVerifier, durable};
use tokio::net::TcpListener;

mod client;
mod http;
mod state;
mod store;

pub use client::{ConsistencySource, WitnessClient, WitnessError, cosign_checkpoint};
pub use http::TLOG_SIZE_CONTENT_TYPE;
pub use state::{Refusal, Witness};
pub use store::{FsWitnessStore, MemoryWitnessStore, WitnessStore, origin_hash};

/// Everything a witness server needs: its key, the logs it follows, and where it keeps their state.
pub struct WitnessConfig {
    /// The witness's cosigning key.
    pub signer: CosignatureSigner,
    /// Verifier keys of the logs it witnesses; each key's name is the log's origin.
    pub logs: Vec<NoteVerifier>,
    /// Durable state: the latest cosigned checkpoint per log.
    pub store: Arc<dyn WitnessStore>,
    /// If set, the witness's vkey is written there at start (e.g. `DIR/witness.vkey`).
    pub vkey_out: Option<PathBuf>,
}

impl WitnessConfig {
    /// The configuration of `tradeledger witness --data DIR --key FILE --log VKEY...`: state under
    /// `DIR/checkpoints/`, the witness vkey written to `DIR/witness.vkey`.
    pub fn open(data_dir: &Path, key_file: &Path, log_vkeys: &[String]) -> anyhow::Result<Self> {
        let signer = load_key(key_file)?;
        if log_vkeys.is_empty() {
            bail!("a witness needs at least one --log VKEY");
        }
        let logs = log_vkeys
            .iter()
            .map(|v| {
                NoteVerifier::from_vkey(v.trim()).with_context(|| format!("bad log vkey {v:?}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let store = FsWitnessStore::open(&data_dir.join("checkpoints"))
            .with_context(|| format!("opening witness state in {}", data_dir.display()))?;
        Ok(Self {
            signer,
            logs,
            store: Arc::new(store),
            vkey_out: Some(data_dir.join("witness.vkey")),
        })
    }
}

/// Generates a witness key named `name` (e.g. `witness.example/w1`): writes the secret signer key to `out_path`
/// (mode 0600, never overwriting) and the public vkey to `out_path` + `.vkey`. Returns the verifier.
pub fn keygen(name: &str, out_path: &Path) -> anyhow::Result<CosignatureVerifier> {
    let signer = CosignatureSigner::generate(name)?;
    let text = zeroize::Zeroizing::new(format!("{}\n", signer.to_signer_key().as_str()));
    durable::write_new(out_path, text.as_bytes())
        .with_context(|| format!("creating {}", out_path.display()))?;
    let verifier = signer.verifier();
    let mut vkey_path = out_path.as_os_str().to_owned();
    vkey_path.push(".vkey");
    // The vkey is public: it goes into policies and to the logs it witnesses.
    durable::write_atomic_public(
        Path::new(&vkey_path),
        format!("{}\n", verifier.to_vkey()).as_bytes(),
        0o644,
    )
    .with_context(|| format!("writing {}", Path::new(&vkey_path).display()))?;
    Ok(verifier)
}

/// Loads a witness signer key file written by [`keygen`]; refuses files readable by group or others.
pub fn load_key(path: &Path) -> anyhow::Result<CosignatureSigner> {
    let meta = fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        bail!(
            "witness key {} is readable by others; chmod 600 it",
            path.display()
        );
    }
    let text = zeroize::Zeroizing::new(
        fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    // The error names the problem, never the key text.
    CosignatureSigner::from_signer_key(text.trim())
        .with_context(|| format!("{} is not a witness signer key", path.display()))
}

/// Runs a witness on `listener` until `shutdown` resolves, then finishes in-flight requests and returns.
/// State is persisted before each cosignature is returned, so there is nothing left to flush.
pub async fn serve_witness(
    listener: TcpListener,
    config: WitnessConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let (ready, _) = tokio::sync::oneshot::channel();
    serve_witness_with_ready(listener, config, shutdown, ready).await
}

/// [`serve_witness`], telling `ready` once the stored state has been verified and connections are accepted.
pub async fn serve_witness_with_ready(
    listener: TcpListener,
    config: WitnessConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: tokio::sync::oneshot::Sender<()>,
) -> anyhow::Result<()> {
    let WitnessConfig {
        signer,
        logs,
        store,
        vkey_out,
    } = config;
    let witness = tokio::task::spawn_blocking(move || Witness::open(signer, logs, store))
        .await
        .context("opening the witness")??;
    if let Some(path) = vkey_out {
        durable::write_atomic(
            &path,
            format!("{}\n", witness.verifier().to_vkey()).as_bytes(),
        )
        .with_context(|| format!("writing {}", path.display()))?;
    }
    tracing::info!(witness = %witness.verifier().to_vkey(), addr = ?listener.local_addr().ok(), "witness serving");
    let _ = ready.send(());
    axum::serve(listener, http::router(Arc::new(witness)))
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving the witness")
}
