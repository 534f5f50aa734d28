//! The retention sweep: certificates registered longer ago than the retention period are purged by the
//! service itself, each purge logged as a Purge entry signed by the log key (signer `log`).
//!
//! The sweep runs in the background every `ServeConfig::sweep_every`; each round works on the blocking pool.
//! Each round also deletes the bucket blobs of registrations that never committed (vault/src/store/pg/blobs.rs).
//! It is idempotent: a vault purge whose log append failed is found again next round (the registry still says
//! "not purged") and finished then.

use std::sync::Arc;

use ledger::{Entry, PartyId, SignedEntry};
use vault::{StoreError, VaultStore as _};

use super::state::{AppState, LOG_PARTY, now_ms};

/// Most certificates one round purges: the next round takes the rest, and a round's list stays bounded
/// whatever the number of certificates.
const SWEEP_BATCH: usize = 10_000;

/// Purges the oldest certificates past retention, at most [`SWEEP_BATCH`]; returns how many were purged.
pub(super) fn sweep(state: &AppState) -> usize {
    let retention_ms = u64::try_from(state.config.retention.as_millis()).unwrap_or(u64::MAX);
    let cutoff = now_ms().saturating_sub(retention_ms);
    let expired = match state.registry.expired(cutoff, SWEEP_BATCH) {
        Ok(expired) => expired,
        Err(e) => {
            tracing::error!(error = %e, "listing certificates past retention failed");
            return 0;
        }
    };
    let mut purged = 0;
    for cert_id in expired {
        match purge_one(state, cert_id) {
            Ok(()) => purged += 1,
            Err(e) => tracing::error!(cert = %cert_id, error = %e, "retention purge failed"),
        }
    }
    if purged > 0 {
        tracing::info!(purged, "retention sweep purged certificates");
    }
    match state.vault.sweep_orphan_blobs(state.config.orphan_grace) {
        Ok(0) => {}
        Ok(swept) => tracing::info!(
            swept,
            "deleted bucket blobs of registrations that never committed"
        ),
        Err(e) => {
            tracing::warn!(error = %e, "sweeping orphan bucket blobs failed; retried next round")
        }
    }
    purged
}

fn purge_one(state: &AppState, cert_id: ledger::CertId) -> anyhow::Result<()> {
    // Not in the middle of a grant, revocation or release of the same certificate.
    let _deciding = state
        .decide_on(&cert_id)
        .map_err(|e| anyhow::anyhow!("taking the certificate's lock: {}", e.message))?;
    // Another frontend's sweep may have purged it since this one listed it.
    let purged = state
        .registry
        .certificate(&cert_id)?
        .is_none_or(|c| c.purged);
    if purged {
        return Ok(());
    }
    match state.vault.purge(cert_id) {
        // Purged already: a previous round (or the registrant) shredded it but its entry is not on the log.
        Ok(()) | Err(StoreError::Purged(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let entry = SignedEntry::sign(
        Entry::Purge {
            cert_id,
            time_ms: now_ms(),
        },
        PartyId::new(LOG_PARTY)?,
        state.log_key.signing_key(),
    )?;
    state
        .append(&entry)
        .map_err(|e| anyhow::anyhow!("appending the purge entry: {}", e.message))?;
    Ok(())
}

/// Runs [`sweep`] now and then every `sweep_every`, until `stop` fires. A round in progress is finished
/// first, so when this returns no clone of the state is left behind (shutdown unwraps it).
pub(super) async fn run(state: Arc<AppState>, mut stop: tokio::sync::oneshot::Receiver<()>) {
    let mut tick = tokio::time::interval(state.config.sweep_every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = &mut stop => return,
            _ = tick.tick() => {}
        }
        let round = state.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || sweep(&round)).await {
            tracing::error!(error = %e, "retention sweep task failed");
        }
    }
}
