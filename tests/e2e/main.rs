//! End-to-end tests: a real server on 127.0.0.1 over a temporary store, driven through the client library
//! and through the `tradeledger` binary as a user types it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_docs,
    unreachable_pub
)]

mod accepted;
mod backup;
mod bench_frontends;
mod browser;
mod browser_credentials;
mod bucket;
mod bucket_publisher;
mod cli;
mod credentials;
mod credentials_in;
mod documents;
mod durability;
mod framing;
mod frontends;
mod frontends_failures;
mod hostile;
mod lengths;
mod migrate;
mod moto;
mod netbounds;
mod one_signature;
#[path = "../../vault/tests/support/pg_cluster.rs"]
mod pg_cluster;
mod pipes;
mod postgres;
mod proxy;
mod publishing_lease;
mod races;
mod rawhttp;
mod refusals;
mod registry;
mod replay;
mod restore;
mod schemathesis;
mod secrets;
mod shutdown;
mod spawned;
mod story;
mod support;
mod vault_bucket;
mod verdicts;
