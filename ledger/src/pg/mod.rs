//! PostgreSQL plumbing shared by every component that keeps state there (the log, the vault, the server's
//! replay nonces): one pool of blocking connections and versioned schema migrations per track.

mod migrate;
mod pool;

pub use migrate::{Migration, migrate};
pub use pool::{PgConnection, PgPool, STALL_LIMIT, db_error};
