//! Mirrors the log into the bucket's public prefix in C2SP tlog-tiles layout, safely from any number of
//! frontends at once.
//!
//! The rules (as transparency-dev/tessera's storage/aws applies them):
//! - tiles and entry bundles are write-once (`If-None-Match: *`, `Cache-Control` immutable); when one exists
//!   already it is read back and accepted only if byte-identical, else publishing stops ([`BucketError::Conflict`]);
//! - every object a checkpoint needs is uploaded before that checkpoint;
//! - the checkpoint (`no-cache`) only moves forward: it is replaced with `If-Match` on the ETag read, only by a
//!   larger checkpoint of the same history (the bucket's root must be this log's root at the bucket's size),
//!   re-read and retried when another writer got there first;
//! - with frontends sharing the log, the caller's fence (its publishing lease, `src/server/pg_lease.rs`) is
//!   checked right before each checkpoint write; the conditional write stays the last guard for a writer paused
//!   between the two.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::BucketError;
use super::layout::tiles_between;
use super::s3::{Put, S3};
use crate::tilepath::TileRef;

/// Tiles and full bundles never change (tlog-tiles); partial ones neither, under their own `.p/W` names.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// The checkpoint moves: caches must revalidate.
pub const NO_CACHE: &str = "no-cache";
const CHECKPOINT: &str = "checkpoint";
/// How many times a checkpoint write lost a race before this round gives up (the next round retries).
const CHECKPOINT_ATTEMPTS: usize = 8;

/// The bucket's checkpoint as read: its size and root, and the ETag to replace it under.
struct BucketCheckpoint {
    size: u64,
    etag: Option<String>,
}

/// Where the publisher reads the log: a [`ledger::Log`] itself, or the service state that owns one.
pub trait LogReader: Send + Sync + 'static {
    /// The log.
    fn log(&self) -> &ledger::Log;
}

impl LogReader for ledger::Log {
    fn log(&self) -> &ledger::Log {
        self
    }
}

/// Publishes one log to one bucket prefix.
pub struct Publisher {
    s3: S3,
    log: Arc<dyn LogReader>,
    /// PUT requests sent (what publishing costs the bucket).
    puts: AtomicU64,
}

impl Publisher {
    /// A publisher of `log` through `s3`.
    pub fn new(s3: S3, log: Arc<dyn LogReader>) -> Publisher {
        Publisher {
            s3,
            log,
            puts: AtomicU64::new(0),
        }
    }

    /// How many PUT requests this publisher has sent.
    pub fn puts(&self) -> u64 {
        self.puts.load(Ordering::Relaxed)
    }

    /// The S3 client (tests create the bucket through it).
    pub fn s3(&self) -> &S3 {
        &self.s3
    }

    /// Publishes the checkpoint `note` of `size` entries (a checkpoint of this log, possibly cosigned) and
    /// every tile and bundle it needs; returns the size the bucket's checkpoint has afterwards (larger than
    /// `size` if another frontend published further).
    pub async fn publish(&self, size: u64, note: &[u8]) -> Result<u64, BucketError> {
        self.publish_fenced(size, note, &|| true).await
    }

    /// [`Publisher::publish`], writing the checkpoint only while `may_write()` says so (asked right before each
    /// checkpoint write); when it refuses, the round ends with the size the bucket's checkpoint had.
    pub async fn publish_fenced(
        &self,
        size: u64,
        note: &[u8],
        may_write: &(dyn Fn() -> bool + Sync),
    ) -> Result<u64, BucketError> {
        let mut current = self.read_checkpoint().await?;
        let from = current.as_ref().map_or(0, |c| c.size);
        if from >= size {
            return Ok(from);
        }
        for tile in tiles_between(from, size) {
            self.put_tile(tile).await?;
        }
        for _ in 0..CHECKPOINT_ATTEMPTS {
            if !may_write() {
                return Ok(current.map_or(0, |c| c.size));
            }
            let written = match &current {
                None => {
                    self.puts.fetch_add(1, Ordering::Relaxed);
                    self.s3.put_new(CHECKPOINT, note.to_vec(), NO_CACHE).await?
                }
                Some(BucketCheckpoint { size: ahead, .. }) if *ahead >= size => return Ok(*ahead),
                Some(BucketCheckpoint { etag: None, .. }) => {
                    return Err(BucketError::Config(
                        "the bucket sent no ETag for the checkpoint, so it cannot be replaced safely".into(),
                    ));
                }
                Some(BucketCheckpoint {
                    etag: Some(etag), ..
                }) => {
                    self.puts.fetch_add(1, Ordering::Relaxed);
                    self.s3
                        .put_replacing(CHECKPOINT, note.to_vec(), NO_CACHE, etag)
                        .await?
                }
            };
            if written == Put::Written {
                return Ok(size);
            }
            // Another writer moved it first: read what it wrote, check it, and go again.
            current = self.read_checkpoint().await?;
        }
        let now = self.read_checkpoint().await?.map_or(0, |c| c.size);
        Ok(now)
    }

    /// The bucket's checkpoint, checked to belong to this log's history where this log is long enough to say.
    async fn read_checkpoint(&self) -> Result<Option<BucketCheckpoint>, BucketError> {
        let Some(object) = self.s3.get(CHECKPOINT).await? else {
            return Ok(None);
        };
        let checkpoint = std::str::from_utf8(&object.bytes)
            .ok()
            .and_then(|text| text.split_once("\n\n"))
            .and_then(|(body, _)| ledger::Checkpoint::parse(&format!("{body}\n")).ok())
            .ok_or_else(|| BucketError::ForeignCheckpoint("is not a checkpoint".into()))?;
        let reader = self.log.clone();
        let size = checkpoint.size;
        // A bucket ahead of this frontend's log is another frontend's work (checked by whoever reads it).
        let ours = tokio::task::spawn_blocking(move || {
            let log = reader.log();
            (size <= log.size()).then(|| log.root(size)).transpose()
        })
        .await
        .map_err(|e| BucketError::Log(e.to_string()))?
        .map_err(|e| BucketError::Log(e.to_string()))?;
        if ours.is_some_and(|root| root != checkpoint.root_hash) {
            return Err(BucketError::ForeignCheckpoint(format!(
                "at size {size} has another root than this log's"
            )));
        }
        Ok(Some(BucketCheckpoint {
            size,
            etag: object.etag,
        }))
    }

    /// Uploads one tile or bundle write-once; an existing object must hold exactly the same bytes.
    async fn put_tile(&self, tile: TileRef) -> Result<(), BucketError> {
        let reader = self.log.clone();
        let bytes = tokio::task::spawn_blocking(move || match tile.level {
            Some(level) => reader.log().read_tile(level, tile.index, tile.partial),
            None => reader.log().read_entry_bundle(tile.index, tile.partial),
        })
        .await
        .map_err(|e| BucketError::Log(e.to_string()))?
        .map_err(|e| BucketError::Log(e.to_string()))?;
        let name = tile.path();
        self.puts.fetch_add(1, Ordering::Relaxed);
        if self.s3.put_new(&name, bytes.clone(), IMMUTABLE).await? == Put::Written {
            return Ok(());
        }
        match self.s3.get(&name).await? {
            Some(existing) if existing.bytes == bytes => Ok(()),
            Some(_) => Err(BucketError::Conflict {
                object: self.s3.key(&name),
            }),
            // Refused as existing, then gone: nothing to compare yet; the next round writes it again.
            None => Err(BucketError::Status {
                op: "GET",
                object: self.s3.key(&name),
                status: 404,
            }),
        }
    }
}
