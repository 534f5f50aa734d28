//! The vault's ciphertexts in the bucket: [`S3Blobs`] is the [`vault::BlobStore`] that `serve --postgres
//! --bucket` gives `PgVaultStore`, with the blobs under the bucket's private prefix (`private/PREFIX/NAME`,
//! [`BucketLocation::private`]), written once with `If-None-Match: *` and never cached.
//!
//! The vault is synchronous and is called on blocking threads; the S3 client is async. Each call runs as a
//! task on the service's runtime and the blocking caller waits for its answer on a channel, which works from
//! any thread (`Handle::block_on` would panic on a runtime thread).

use std::future::Future;
use std::sync::Arc;

use tokio::runtime::Handle;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use vault::{BlobStore, StoreError};

use super::{BucketError, BucketLocation, Put, S3};

/// How many PUTs of one group run at once: enough to hide the bucket's latency, few enough not to open a
/// connection per registration of a large group.
const PARALLEL_PUTS: usize = 16;
/// A ciphertext is nobody's to cache: not a CDN's, not a proxy's.
const NO_STORE: &str = "private, no-store";

/// The vault's blobs under the bucket's private prefix.
pub struct S3Blobs {
    s3: Arc<S3>,
    runtime: Handle,
    parallel_puts: usize,
}

impl S3Blobs {
    /// Blobs under `location`'s private prefix (refused if the public prefix leaves no private place),
    /// their requests run on `runtime`.
    pub fn new(location: &BucketLocation, runtime: Handle) -> Result<S3Blobs, BucketError> {
        let s3 = S3::new(&location.private()?)?;
        Ok(S3Blobs {
            s3: Arc::new(s3),
            runtime,
            parallel_puts: PARALLEL_PUTS,
        })
    }

    /// At most `n` (at least 1) PUTs of one group in flight instead of [`PARALLEL_PUTS`] (measurements).
    pub fn with_parallel_puts(mut self, n: usize) -> S3Blobs {
        self.parallel_puts = n.max(1);
        self
    }

    /// The full key of blob `name` (tests look for it in the bucket).
    pub fn key(&self, name: &str) -> String {
        self.s3.key(name)
    }

    /// Runs `work` on the runtime and waits for it from this (blocking) thread.
    fn run<T: Send + 'static>(
        &self,
        work: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let _ = answer.send(work.await);
        });
        answered.recv().unwrap_or_else(|_| {
            Err(StoreError::Objects(
                "the bucket client stopped (the service is shutting down)".into(),
            ))
        })
    }
}

/// A bucket error as the vault reports it: the operation, the object and the status, no credential.
fn objects(error: BucketError) -> StoreError {
    match error {
        BucketError::TooLarge { .. } => {
            StoreError::Corrupt("the ciphertext blob is longer than recorded")
        }
        other => StoreError::Objects(other.to_string()),
    }
}

impl BlobStore for S3Blobs {
    /// Every PUT of the group at once (at most [`PARALLEL_PUTS`] in flight), all awaited, even after a
    /// failure: the caller deletes the blobs of a failed group and must not race a PUT still under way.
    fn put_new(&self, blobs: &[(&str, &[u8])]) -> Result<(), StoreError> {
        let owned: Vec<(String, Vec<u8>)> = blobs
            .iter()
            .map(|(name, bytes)| ((*name).to_owned(), bytes.to_vec()))
            .collect();
        let (s3, parallel) = (Arc::clone(&self.s3), self.parallel_puts);
        self.run(async move {
            let slots = Arc::new(Semaphore::new(parallel));
            let mut puts = JoinSet::new();
            for (name, bytes) in owned {
                let (s3, slots) = (Arc::clone(&s3), Arc::clone(&slots));
                puts.spawn(async move {
                    let _slot = slots.acquire_owned().await;
                    match s3.put_new(&name, bytes, NO_STORE).await {
                        Ok(Put::Written) => Ok(()),
                        Ok(Put::PreconditionFailed) => Err(StoreError::Objects(format!(
                            "PUT {}: an object of that name exists; not overwritten",
                            s3.key(&name)
                        ))),
                        Err(e) => Err(objects(e)),
                    }
                });
            }
            let mut outcome = Ok(());
            while let Some(done) = puts.join_next().await {
                let result = done.unwrap_or_else(|e| {
                    Err(StoreError::Objects(format!("a PUT task failed: {e}")))
                });
                if outcome.is_ok() {
                    outcome = result;
                }
            }
            outcome
        })
    }

    fn get(&self, name: &str, max_len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        let (s3, name) = (Arc::clone(&self.s3), name.to_owned());
        self.run(async move {
            let object = s3.get_limited(&name, max_len).await.map_err(objects)?;
            Ok(object.map(|o| o.bytes))
        })
    }

    fn delete(&self, name: &str) -> Result<(), StoreError> {
        let (s3, name) = (Arc::clone(&self.s3), name.to_owned());
        self.run(async move { s3.delete(&name).await.map_err(objects) })
    }
}
