//! `serve`: runs the service in the foreground until ctrl-c; `repair`.

use anyhow::Context as _;
use vault::PartyPublic;

use super::{Global, RepairArgs, ServeArgs, output};
use crate::server::{self, ServeConfig};

pub(super) async fn serve(_g: &Global, args: ServeArgs) -> anyhow::Result<()> {
    let operator = PartyPublic::load(&args.operator)
        .with_context(|| format!("reading the operator identity {}", args.operator.display()))?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    let addr = listener.local_addr()?;
    let mut config = ServeConfig::new(args.data, operator);
    config.postgres = args.postgres.map(server::PostgresUrl::new);
    config.postgres_connections = args.postgres_connections;
    config.bucket = args
        .bucket
        .as_deref()
        .map(crate::bucket::BucketLocation::from_env)
        .transpose()?
        .map(std::sync::Arc::new);
    config.published_checkpoint = args.published_checkpoint;
    config.log_key = args.log_key_file;
    config.adopt_policies = args.adopt_policies;
    config.lock_wait = std::time::Duration::from_millis(args.lock_wait_ms);
    config.policies = args.policies;
    config.origin = args.origin;
    config.max_body_bytes = args.max_body_bytes;
    config.retention = std::time::Duration::from_secs(
        args.retention
            .checked_mul(86_400)
            .context("--retention is too many days")?,
    );
    config.witness_policy = args.witness_policy;
    config.cosign_interval = std::time::Duration::from_millis(args.cosign_interval_ms);
    config.max_replay_entries = args.max_replay_entries;
    config.net = server::NetLimits {
        max_connections: args.max_connections,
        header_timeout: std::time::Duration::from_millis(args.header_timeout_ms),
        idle_timeout: std::time::Duration::from_millis(args.idle_timeout_ms),
        body_timeout: std::time::Duration::from_millis(args.body_timeout_ms),
        shutdown_timeout: std::time::Duration::from_secs(args.shutdown_timeout_secs),
        body_budget_bytes: args.body_budget_bytes,
        max_head_bytes: args.max_header_bytes,
        max_uri_bytes: args.max_uri_bytes,
        ..server::NetLimits::default()
    };
    let (ready, is_ready) = tokio::sync::oneshot::channel();
    let server = tokio::spawn(server::serve_with_ready(
        listener,
        config,
        shutdown_signal(),
        ready,
    ));
    if is_ready.await.is_ok() {
        // The service must not stop over its stdout (a closed pipe is dropped quietly, a full disk is only
        // worth a warning): the address is also in the log line.
        if let Err(e) = output::line(format_args!("listening on http://{addr}")) {
            tracing::warn!("cannot print the listening address: {e:#}");
        }
    }
    server.await.context("the server task panicked")?
}

/// `repair --data DIR`: rebuilds the log's derived files from its journal and reports what it did.
pub(super) async fn repair(g: &Global, args: RepairArgs) -> anyhow::Result<()> {
    let data = args.data.clone();
    let report = tokio::task::spawn_blocking(move || server::repair(&data))
        .await
        .context("the repair task panicked")??;
    let list = |names: &[String]| {
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    };
    g.print(
        &serde_json::to_value(&report)?,
        &format!(
            "journal: {} entries intact; signed checkpoint at size {} matches the rebuilt tree\n\
             rebuilt: {}\nalready right: {}\n\
             checked: every entry and tile hash of the log (size {}); the vault opened",
            report.entries,
            report.checkpoint_size,
            list(&report.rebuilt),
            list(&report.unchanged),
            report.log_size
        ),
    )
}

/// Completes on ctrl-c or SIGTERM.
pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {}
        () = term => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}
