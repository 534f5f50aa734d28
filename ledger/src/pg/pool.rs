//! Connections to PostgreSQL: the connection settings (URL plus the standard `PG*` environment variables), a
//! pool of blocking clients shared by the log's and the vault's stores, and errors mapped to
//! [`Error::Database`] without the row contents PostgreSQL may quote.

use std::time::Duration;

use postgres::{Client, Config, NoTls};
use r2d2::{CustomizeConnection, PooledConnection};
use r2d2_postgres::PostgresConnectionManager;

use crate::Error;

/// A pooled, blocking connection (a [`postgres::Client`] through `Deref`).
pub type PgConnection = PooledConnection<PostgresConnectionManager<NoTls>>;

/// How long a caller waits for a free connection, and a new connection for the server, before failing.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a transaction may sit idle between two statements before the server ends it
/// (`idle_in_transaction_session_timeout`), on every connection of a [`PgPool::connect`] pool.
///
/// The stores' transactions send their statements back to back (what they compute between them is done in
/// memory), and several hold rows that other frontends wait for: the log's coordination row, the registry's
/// watermark, a certificate id being inserted. A frontend paused in the middle of one (SIGSTOP, a frozen VM, a
/// connection left half-open) would otherwise hold up every other frontend until it resumes, however long;
/// with the limit, they wait this long at most, and the paused transaction fails when it resumes.
pub const STALL_LIMIT: Duration = Duration::from_secs(5);

/// A pool of connections to one PostgreSQL database. Cheap to clone; every clone shares the pool.
#[derive(Clone)]
pub struct PgPool {
    pool: r2d2::Pool<PostgresConnectionManager<NoTls>>,
}

impl std::fmt::Debug for PgPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the settings: they may hold a password.
        f.debug_struct("PgPool")
            .field("max_size", &self.pool.max_size())
            .finish_non_exhaustive()
    }
}

impl PgPool {
    /// Connects to the database named by `url` (a `postgresql://` URL or `key=value` settings), taking
    /// what it leaves out from `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE` and `PGAPPNAME`
    /// (as libpq does, except that `PGPORT` applies only to hosts from `PGHOST`: a host in the URL
    /// comes with its port, 5432 unless it names one),
    /// with at most `max_connections` connections. Fails if the server cannot be reached or runs with
    /// `fsync` off (commits would not be durable).
    ///
    /// Every connection runs with `synchronous_commit = on`: a `COMMIT` returns only once its WAL record
    /// is flushed to the server's disk; and with [`STALL_LIMIT`] on idle transactions.
    pub fn connect(url: &str, max_connections: u32) -> Result<PgPool, Error> {
        PgPool::connect_with(url, max_connections, Some(STALL_LIMIT))
    }

    /// [`PgPool::connect`] for transactions held open on purpose while their caller works (an advisory lock
    /// held across a decision): without [`STALL_LIMIT`], since ending such a transaction would end the
    /// exclusion while its holder still acts on it.
    pub fn connect_without_stall_limit(url: &str, max_connections: u32) -> Result<PgPool, Error> {
        PgPool::connect_with(url, max_connections, None)
    }

    fn connect_with(
        url: &str,
        max_connections: u32,
        stall_limit: Option<Duration>,
    ) -> Result<PgPool, Error> {
        let config = config_from(url, |name| std::env::var(name).ok())?;
        // One connection first, outside the pool: an unreachable server or a refused login fails at once,
        // with its cause (the pool would retry for the whole timeout and keep only a summary).
        let mut first = config.connect(NoTls).map_err(db_error)?;
        let fsync: String = first
            .query_one("SHOW fsync", &[])
            .and_then(|row| row.try_get(0))
            .map_err(db_error)?;
        if fsync != "on" {
            return Err(Error::Database(
                "the PostgreSQL server runs with fsync off: its commits are not durable".into(),
            ));
        }
        drop(first);
        let manager = PostgresConnectionManager::new(config, NoTls);
        let pool = r2d2::Pool::builder()
            .max_size(max_connections.max(1))
            .min_idle(Some(1))
            .connection_timeout(CONNECT_TIMEOUT)
            .connection_customizer(Box::new(Session { stall_limit }))
            .build(manager)
            .map_err(pool_error)?;
        Ok(PgPool { pool })
    }

    /// A connection from the pool; waits for one to be free for at most 10 seconds.
    pub fn get(&self) -> Result<PgConnection, Error> {
        self.pool.get().map_err(pool_error)
    }
}

/// Sets every new connection's session to wait for the WAL flush at commit, whatever the server default, and
/// to end a transaction idle for `stall_limit` (0: never, whatever the server default).
#[derive(Debug)]
struct Session {
    stall_limit: Option<Duration>,
}

impl CustomizeConnection<Client, postgres::Error> for Session {
    fn on_acquire(&self, client: &mut Client) -> Result<(), postgres::Error> {
        let limit_ms = self.stall_limit.map_or(0, |limit| limit.as_millis());
        client.batch_execute(&format!(
            "SET synchronous_commit TO on; SET idle_in_transaction_session_timeout = {limit_ms}"
        ))
    }
}

/// The connection settings: `url`, completed from the `PG*` variables `env` returns, as libpq would.
pub(crate) fn config_from(
    url: &str,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Config, Error> {
    // The parser's message may quote the string, and the string may hold a password: say only what it is.
    let mut config: Config = url.parse().map_err(|_| {
        Error::Database(
            "the PostgreSQL URL is malformed (not shown: it may hold a password)".into(),
        )
    })?;
    if config.get_hosts().is_empty() {
        let host = env("PGHOST").ok_or_else(|| {
            Error::Database("no PostgreSQL host: give one in the URL or in PGHOST".into())
        })?;
        for host in host.split(',') {
            if host.starts_with('/') {
                config.host_path(host);
            } else {
                config.host(host);
            }
        }
    }
    if config.get_ports().is_empty()
        && let Some(port) = env("PGPORT")
    {
        let port = port
            .parse()
            .map_err(|_| Error::Database("PGPORT is not a port number".into()))?;
        config.port(port);
    }
    if config.get_user().is_none() {
        let user = env("PGUSER").ok_or_else(|| {
            Error::Database("no PostgreSQL user: give one in the URL or in PGUSER".into())
        })?;
        config.user(&user);
    }
    if config.get_password().is_none()
        && let Some(password) = env("PGPASSWORD")
    {
        config.password(password);
    }
    if config.get_dbname().is_none()
        && let Some(dbname) = env("PGDATABASE")
    {
        config.dbname(&dbname);
    }
    if config.get_application_name().is_none() {
        let name = env("PGAPPNAME").unwrap_or_else(|| "tradeledger".to_owned());
        config.application_name(&name);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    Ok(config)
}

/// A PostgreSQL error as a store error. A server error keeps only its message and SQLSTATE: its DETAIL
/// can quote the row that failed, and rows hold ciphertexts and envelopes.
pub fn db_error(error: postgres::Error) -> Error {
    if let Some(db) = error.as_db_error() {
        return Error::Database(format!("{} (SQLSTATE {})", db.message(), db.code().code()));
    }
    if error.is_closed() {
        return Error::Database("the connection to PostgreSQL was closed".into());
    }
    // The client's message names the step ("error connecting to server"); its sources say why.
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    Error::Database(text)
}

fn pool_error(error: r2d2::Error) -> Error {
    Error::Database(format!("no PostgreSQL connection: {error}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn the_url_wins_and_pg_variables_fill_the_rest() {
        let vars = [
            ("PGHOST", "/run/pg"),
            ("PGPORT", "5433"),
            ("PGUSER", "envuser"),
            ("PGPASSWORD", "envsecret"),
            ("PGDATABASE", "envdb"),
        ];
        let config = config_from("postgresql://urluser@db.internal/ledger", env(&vars)).unwrap();
        assert_eq!(config.get_user(), Some("urluser"));
        assert_eq!(config.get_dbname(), Some("ledger"));
        // A host in the URL brings its port (5432 unless given); PGPORT goes with PGHOST.
        assert_eq!(config.get_ports(), [5432]);
        assert_eq!(config.get_password(), Some(&b"envsecret"[..]));
        assert!(
            matches!(config.get_hosts(), [postgres::config::Host::Tcp(h)] if h == "db.internal")
        );

        let config = config_from("postgresql://", env(&vars)).unwrap();
        assert!(
            matches!(config.get_hosts(), [postgres::config::Host::Unix(p)] if p.as_os_str() == "/run/pg")
        );
        assert_eq!(config.get_ports(), [5433]);
        assert_eq!(config.get_user(), Some("envuser"));
        assert_eq!(config.get_dbname(), Some("envdb"));
    }

    #[test]
    fn errors_never_echo_the_url() {
        let err = config_from("postgresql://u:hunter2@[bad", env(&[])).unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let err = config_from("postgresql://u:hunter2@", env(&[])).unwrap_err();
        assert!(err.to_string().contains("PGHOST"), "{err}");
        let err = config_from("postgresql://h", env(&[])).unwrap_err();
        assert!(err.to_string().contains("PGUSER"), "{err}");
    }
}
