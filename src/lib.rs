//! tradeledger: the service and the command line that wire the ledger and the vault together.
//!
//! The library target exists so that end-to-end tests drive the same client code as the CLI.

pub mod api;
pub mod authz;
pub mod bucket;
pub mod cert;
pub mod cli;
pub mod client;
pub mod config;
pub mod credential;
#[doc(hidden)]
pub mod fuzz;
pub mod httpsig;
pub mod jose;
pub mod server;
pub mod tilepath;
pub mod witness;
