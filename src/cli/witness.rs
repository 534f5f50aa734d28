//! `witness` (a C2SP tlog-witness server in the foreground) and `witness-keygen`.

use anyhow::Context as _;
use serde_json::json;

use super::{Global, WitnessArgs, WitnessKeygenArgs, output};
use crate::witness::{self, WitnessConfig};

/// Runs a witness until ctrl-c or SIGTERM; prints `listening on http://ADDR` once it accepts connections.
pub(super) async fn witness(g: &Global, args: WitnessArgs) -> anyhow::Result<()> {
    let key = g
        .key
        .as_ref()
        .context("no witness key: pass --key FILE (made by `tradeledger witness-keygen`)")?;
    let logs = args
        .logs
        .iter()
        .map(|l| crate::config::read_vkey_arg(l).with_context(|| format!("--log {l}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    if ledger::durable::create_private_dir(&args.data)
        .with_context(|| format!("creating {}", args.data.display()))?
        .is_some()
    {
        ledger::durable::make_private(&args.data)
            .with_context(|| format!("tightening {}", args.data.display()))?;
    }
    let config = WitnessConfig::open(&args.data, key, &logs)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let (ready, is_ready) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(witness::serve_witness_with_ready(
        listener,
        config,
        super::serve::shutdown_signal(),
        ready,
    ));
    // Only once the stored state verified: a witness whose state is damaged must not look healthy.
    if is_ready.await.is_ok() {
        // The service must not stop over its stdout (a closed pipe is dropped quietly, a full disk is only
        // worth a warning): the address is also in the log line.
        if let Err(e) = output::line(format_args!("listening on http://{addr}")) {
            tracing::warn!("cannot print the listening address: {e:#}");
        }
    }
    server.await.context("the witness task panicked")?
}

/// Writes a fresh witness key (0600, never overwritten) and its vkey beside it.
pub(super) fn keygen(g: &Global, args: WitnessKeygenArgs) -> anyhow::Result<()> {
    let verifier = witness::keygen(&args.name, &args.out)?;
    let mut vkey_path = args.out.as_os_str().to_owned();
    vkey_path.push(".vkey");
    let vkey_path = std::path::PathBuf::from(vkey_path);
    g.print(
        &json!({"name": args.name, "vkey": verifier.to_vkey(), "key": args.out, "public": vkey_path}),
        &format!(
            "wrote {} (secret, mode 0600) and {}\npolicy line: witness {} {} http://HOST:PORT",
            args.out.display(),
            vkey_path.display(),
            args.name,
            verifier.to_vkey()
        ),
    )?;
    Ok(())
}
