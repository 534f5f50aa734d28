//! Where `audit` reads the log from: a tradeledger server, or any static copy in C2SP tlog-tiles layout (the
//! bucket's public prefix, a mirror, a CDN), which serves `checkpoint` and `tile/...` and no proofs.

use std::future::Future;

use super::{Client, ClientError};
use crate::tilepath::TileRef;

/// A read-only source of a log's checkpoint and tiles.
pub trait TileSource {
    /// The latest checkpoint note, unverified.
    fn checkpoint(&self) -> impl Future<Output = Result<Vec<u8>, ClientError>> + Send;
    /// A tile or entry bundle, unverified.
    fn tile(&self, tile: TileRef) -> impl Future<Output = Result<Vec<u8>, ClientError>> + Send;
    /// A consistency proof between two tree sizes, or `None` if the source serves no proofs.
    fn consistency(
        &self,
        old: u64,
        new: u64,
    ) -> impl Future<Output = Option<Result<Vec<Vec<u8>>, ClientError>>> + Send;
    /// The witness policy checkpoints must meet, if any.
    fn policy(&self) -> Option<&ledger::Policy>;
    /// Where the log is read from, for messages.
    fn base(&self) -> &str;
}

impl TileSource for Client {
    async fn checkpoint(&self) -> Result<Vec<u8>, ClientError> {
        self.get_checkpoint().await
    }

    async fn tile(&self, tile: TileRef) -> Result<Vec<u8>, ClientError> {
        self.get_tile(tile).await
    }

    async fn consistency(&self, old: u64, new: u64) -> Option<Result<Vec<Vec<u8>>, ClientError>> {
        Some(self.get_consistency(old, new).await)
    }

    fn policy(&self) -> Option<&ledger::Policy> {
        Client::policy(self)
    }

    fn base(&self) -> &str {
        Client::base(self)
    }
}

/// A static tlog-tiles prefix read over plain HTTP: `URL/checkpoint`, `URL/tile/<L>/<N>[.p/<W>]`,
/// `URL/tile/entries/<N>[.p/<W>]`, with the same answer-size cap and timeouts as [`Client`].
#[derive(Debug)]
pub struct StaticTiles(Client);

impl StaticTiles {
    /// A source reading the prefix at `url` (`http://` or `https://`).
    pub fn new(url: &str) -> Result<StaticTiles, ClientError> {
        Ok(StaticTiles(Client::new(url)?))
    }

    /// The same source, whose checkpoints must also meet `policy`.
    pub fn with_policy(self, policy: ledger::Policy) -> StaticTiles {
        StaticTiles(self.0.with_policy(policy))
    }
}

impl TileSource for StaticTiles {
    async fn checkpoint(&self) -> Result<Vec<u8>, ClientError> {
        self.0.get_checkpoint().await
    }

    async fn tile(&self, tile: TileRef) -> Result<Vec<u8>, ClientError> {
        self.0.get_tile(tile).await
    }

    async fn consistency(&self, _old: u64, _new: u64) -> Option<Result<Vec<Vec<u8>>, ClientError>> {
        None
    }

    fn policy(&self) -> Option<&ledger::Policy> {
        self.0.policy()
    }

    fn base(&self) -> &str {
        self.0.base()
    }
}
