//! The service's shared state: the log, the vault, the registry derived from the log, policies and counters.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context as _;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ledger::{Entry, PartyId, Role, SignedEntry};

use super::ServeConfig;
use super::cpu::CpuPool;
use super::datadir::DataDirLock;
use super::error::ApiError;
use super::logkey::LogKey;
use super::metrics::Metrics;
use super::registrar::Registrar;
use super::registry::{Registry, RegistryError};
use crate::authz::Authorizer;
use crate::httpsig::{ReplayConfig, ReplayGuard};

/// The party id under which the log itself signs the entries it makes (the operator's enrollment, access
/// receipts). No party can be enrolled under it.
pub(super) const LOG_PARTY: &str = "log";

/// Everything a request handler needs.
pub struct AppState {
    /// How the service was started.
    pub config: ServeConfig,
    /// The append-only log.
    pub log: ledger::Log,
    /// The keyless store of ciphertexts and envelopes: in `DATA/vault`, or in PostgreSQL.
    pub vault: super::VaultBackend,
    /// Parties and certificates, derived from the log (in `DATA/registry`, or in PostgreSQL).
    pub registry: Registry,
    /// The Cedar policies.
    pub authz: Authorizer,
    /// Nonces of recently seen signed requests.
    pub replay: ReplayGuard,
    /// Counters and histograms.
    pub metrics: Metrics,
    /// The log's key: signs checkpoints and the log's own entries.
    pub log_key: LogKey,
    /// The checkpoint published at `/checkpoint` (cosigned, with witnesses) and waiting for it.
    pub checkpoints: super::publish::Checkpoints,
    /// The pipeline that stores and logs registrations in batches.
    pub(super) registrar: Registrar,
    /// Threads for the CPU-heavy checks of registrations.
    pub(super) cpu: CpuPool,
    /// Access receipts of concurrent opens, grouped into one signed entry.
    pub(super) releases: super::releases::Releases,
    /// Per-certificate and registry critical sections for decisions that read state.
    pub(super) locks: super::locks::Locks,
    /// How the registry keeps up with entries other frontends append.
    pub(super) follow: super::follow::Follow,
    /// This process's ownership of the data directory; declared last, so released after the stores close.
    _lock: DataDirLock,
}

impl AppState {
    /// Opens (or creates) the stores in the data directory and catches the registry up with the log.
    pub fn open(config: ServeConfig) -> anyhow::Result<AppState> {
        // Before anything else is read or written: a second instance must change nothing.
        let lock = DataDirLock::acquire(&config.data)?;
        // Taken now, waited for once the stores are open: the opening overlaps the wait.
        let replay_floor = next_whole_second();
        let log_key =
            LogKey::load_or_create(&config.data, config.log_key.as_deref(), &config.origin)?;
        let policies = super::policies::policy_dir(&config.data, config.policies.as_deref())?;
        let authz = Authorizer::load(&policies)
            .with_context(|| format!("loading policies from {}", policies.display()))?;
        tracing::info!(dir = %policies.display(), "policies loaded");
        let stores = super::stores::open(&config, &log_key, &policies)?;
        let log = stores.log;
        // The watermark and the parties; the catch-up from there is `bootstrap`'s.
        let in_log = |index: u64, bytes: &[u8]| {
            // Another frontend may have applied entries this log has not taken in yet.
            if index >= log.size() && config.postgres.is_some() {
                log.refresh()
                    .map_err(|e| RegistryError::Unavailable(e.to_string()))?;
            }
            if index >= log.size() {
                return Err(RegistryError::Damaged(ahead_of_log(
                    index.saturating_add(1),
                    log.size(),
                )));
            }
            let logged = log
                .entry(index)
                .map_err(|e| RegistryError::Damaged(e.to_string()))?;
            Ok(logged == bytes)
        };
        let registry = Registry::open(stores.registry, in_log).context("opening the registry")?;
        if let Some(path) = &config.published_checkpoint {
            let verifier = log_key.note_signer().verifier();
            super::published::check_file(&log, path, &verifier, &config.origin)?;
        }
        let checkpoints = super::publish::Checkpoints::new(&config, log_key.vkey(), log.size())?;
        let (vault, shared_nonces, locks) = (stores.vault, stores.nonces, stores.locks);
        let replay = ReplayGuard::new(ReplayConfig {
            max_skew_secs: config.max_skew.as_secs(),
            max_entries_total: config.max_replay_entries,
            ..ReplayConfig::default()
        });
        let state = AppState {
            config,
            log,
            vault,
            registry,
            authz,
            replay,
            metrics: Metrics::default(),
            log_key,
            checkpoints,
            registrar: Registrar::default(),
            cpu: CpuPool::default(),
            releases: Default::default(),
            locks,
            follow: super::follow::Follow::default(),
            _lock: lock,
        };
        state.bootstrap()?;
        // The guard's memory of nonces dies with the process: refusing whatever was signed before this start
        // keeps a request accepted by the previous run from being accepted again after a restart; the journal
        // remembers the few dated after it.
        wait_for_second(replay_floor);
        let replay = state.replay.refuse_created_before(replay_floor);
        // The shared store holds every accepted nonce durably, the journal only the ones dated ahead of the clock.
        let replay = match shared_nonces {
            Some(store) => replay.with_shared_store(Box::new(store)),
            None => {
                let skew = state.config.max_skew.as_secs();
                super::replay_journal::attach(&state.config.data, replay, skew)?
            }
        };
        let parties = state.registry.party_count();
        replay.set_party_count(parties);
        Ok(AppState { replay, ..state })
    }

    /// On first start, enrolls the operator as the log's first entry (signed by the log key); on every start,
    /// applies the entries after the registry's watermark and checks the operator is the one the log was
    /// started with.
    fn bootstrap(&self) -> anyhow::Result<()> {
        // With other frontends on the log, the first one to get here enrolls the operator; the others find it.
        let enrolling = self
            .locks
            .parties()
            .map_err(|e| anyhow::anyhow!("taking the enrollment lock: {}", e.message))?;
        let size = self
            .refreshed_size()
            .map_err(|e| anyhow::anyhow!("reading the log's size: {}", e.message))?;
        if size == 0 {
            let operator = &self.config.operator;
            anyhow::ensure!(
                operator.role == Role::Operator,
                "the operator's key file must have the role operator"
            );
            let enrollment = Entry::Enrollment {
                party: operator.id.clone(),
                role: Role::Operator,
                signing_key: operator.signing_key.to_bytes(),
                encryption_key: operator.encryption_key.to_bytes(),
                replaces: None,
                time_ms: now_ms(),
            };
            let log_party = PartyId::new(LOG_PARTY).context("the log's party id")?;
            let signed = SignedEntry::sign(enrollment, log_party, self.log_key.signing_key())
                .context("signing the operator's enrollment")?;
            self.log
                .append(signed.encode())
                .context("enrolling the operator")?;
        }
        drop(enrolling);
        let size = self.log.size();
        let applied = self.registry.applied();
        anyhow::ensure!(applied <= size, ahead_of_log(applied, size));
        // Only the entries after the watermark: the registry's store kept the rest.
        self.apply_range(size, 0, &[]).map_err(|e| {
            anyhow::anyhow!("applying log entries {applied}..{size}: {}", e.message)
        })?;
        // Once, so that a power cut soon after the start does not take the catch-up (or the store) with it.
        self.registry
            .flush()
            .context("writing out the registry after its catch-up")?;
        tracing::info!(from = applied, to = size, "registry caught up with the log");
        let operator = self
            .registry
            .party(&self.config.operator.id)
            .context("the log has no enrollment for the configured operator")?;
        anyhow::ensure!(
            operator.role == Role::Operator
                && operator.signing_key == self.config.operator.signing_key,
            "the configured operator key differs from the operator enrolled in this log"
        );
        Ok(())
    }

    /// Appends an entry durably and applies it to the registry. Blocking: call from the blocking pool.
    pub fn append(&self, entry: &SignedEntry) -> Result<u64, ApiError> {
        let queued = self.enqueue(entry)?;
        self.applied(queued, entry)
    }

    /// Queues an entry on the log without waiting (see `ledger::Log::enqueue` for the order it keeps);
    /// [`AppState::applied`] finishes the append.
    pub(super) fn enqueue(&self, entry: &SignedEntry) -> Result<ledger::Appending, ApiError> {
        self.log.enqueue(vec![entry.encode()]).map_err(log_failed)
    }

    /// Waits for a queued entry to be durable, applies it to the registry and returns its index. Blocking.
    pub(super) fn applied(
        &self,
        queued: ledger::Appending,
        entry: &SignedEntry,
    ) -> Result<u64, ApiError> {
        let index = queued.wait().map_err(log_failed)?.start;
        self.apply_own(index, &[entry])?;
        Ok(index)
    }

    /// Appends entries as consecutive indexes in one durable batch (all or none) and applies them to the
    /// registry; returns the first index. Blocking: call from the blocking pool.
    pub fn append_all(&self, entries: &[SignedEntry]) -> Result<u64, ApiError> {
        let range = self
            .log
            .append_batch(entries.iter().map(SignedEntry::encode).collect())
            .map_err(|e| {
                tracing::error!(error = %e, "log append failed");
                ApiError::unavailable()
            })?;
        self.apply_own(range.start, &entries.iter().collect::<Vec<_>>())?;
        Ok(range.start)
    }

    /// Flushes and closes the stores at shutdown.
    pub fn close(self) -> anyhow::Result<()> {
        // Derived state: a failure costs a longer catch-up at the next start, not the shutdown.
        if let Err(e) = self.registry.flush() {
            tracing::warn!(error = %e, "writing out the registry failed");
        }
        drop(self.registry);
        drop(self.vault);
        self.log.close().context("closing the log")?;
        Ok(())
    }
}

/// Why a registry ahead of its log is refused, and what to do.
fn ahead_of_log(applied: u64, size: u64) -> String {
    format!(
        "the registry has applied {applied} log entries but the log holds {size}: it was derived from another \
         log, or the log was restored from an older backup; remove the registry (DATA/registry, or the \
         registry tables with --postgres) and it is rebuilt from the log"
    )
}

fn log_failed(error: ledger::Error) -> ApiError {
    tracing::error!(error = %error, "log append failed");
    ApiError::unavailable()
}

/// The replay guard's floor: the first whole Unix second after now. Taken once this process holds the data
/// directory, when the run before it has stopped, it is later than the `created` of every request that run
/// accepted with a date not ahead of its clock; "now, rounded down" would not be, since `created` has a
/// granularity of one second. (A request dated ahead of the clock, within the allowed skew, may be after the
/// floor: `replay_journal` keeps those.)
fn next_whole_second() -> u64 {
    unix_time().as_secs().saturating_add(1)
}

/// Sleeps until the Unix second `second` has begun, so that a request a client signs right after the start is
/// not refused by the floor. A start whose stores took a second or more to open does not wait at all.
fn wait_for_second(second: u64) {
    let begins = std::time::Duration::from_secs(second);
    std::thread::sleep(begins.saturating_sub(unix_time()));
}

fn unix_time() -> std::time::Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
}

/// Milliseconds since the Unix epoch.
pub(super) fn now_ms() -> u64 {
    u64::try_from(unix_time().as_millis()).unwrap_or(u64::MAX)
}

/// Counts every answer by status class and logs one structured line per request (never a body).
pub(super) async fn count_and_trace(
    State(state): State<Arc<AppState>>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.count_status(status);
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    tracing::info!(%method, %path, status, micros, "request");
    response
}
