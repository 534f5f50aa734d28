//! Where [`PgVaultStore`](super::PgVaultStore) can keep certificate ciphertexts outside the database: an
//! object store of write-once blobs ([`BlobStore`]), e.g. a private prefix of an S3-compatible bucket, and an
//! in-memory one with fault injection for tests ([`MemoryBlobStore`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::StoreError;

/// A store of opaque write-once blobs under names the vault chooses (32 lowercase hex digits, random).
///
/// # Contract
///
/// - **Durable when a call returns `Ok`**: `put_new` returns only once every blob it was given is stored
///   (for S3, once every PUT answered 2xx), `delete` once the blob is gone.
/// - **Never overwrites**: `put_new` refuses a name that exists (for S3, `If-None-Match: *`); it is not atomic
///   across its blobs: on an error some may be stored, and the caller cleans them up.
/// - **Errors** are [`StoreError::Objects`], naming the operation and the blob, never its bytes or a
///   credential. A missing blob is `Ok(None)` for `get` and `Ok(())` for `delete`.
/// - **Concurrency**: every method takes `&self` and blocks; implementations are `Send + Sync`.
pub trait BlobStore: Send + Sync {
    /// Stores each `(name, bytes)` as a new blob, several at once where the store allows.
    fn put_new(&self, blobs: &[(&str, &[u8])]) -> Result<(), StoreError>;

    /// The blob's bytes, or `None` if there is none. A blob longer than `max_len` is
    /// [`StoreError::Corrupt`], not read whole.
    fn get(&self, name: &str, max_len: usize) -> Result<Option<Vec<u8>>, StoreError>;

    /// Deletes the blob; a blob that is already gone is fine.
    fn delete(&self, name: &str) -> Result<(), StoreError>;
}

/// A [`BlobStore`] in memory, for tests: faults can be injected and blobs inspected or changed directly.
#[derive(Default)]
pub struct MemoryBlobStore {
    blobs: Mutex<BTreeMap<String, Vec<u8>>>,
    /// The number of `put_new` blobs still allowed to succeed before every later one fails (`usize::MAX`:
    /// no fault).
    puts_left: AtomicUsize,
    fail_deletes: AtomicBool,
    down: AtomicBool,
}

impl MemoryBlobStore {
    /// An empty store with no fault.
    pub fn new() -> MemoryBlobStore {
        MemoryBlobStore {
            puts_left: AtomicUsize::new(usize::MAX),
            ..MemoryBlobStore::default()
        }
    }

    /// Lets `n` more blobs be stored, then fails every later put (as a bucket going down mid-group).
    pub fn fail_puts_after(&self, n: usize) {
        self.puts_left.store(n, Ordering::SeqCst);
    }

    /// Makes every delete fail (or succeed again).
    pub fn fail_deletes(&self, fail: bool) {
        self.fail_deletes.store(fail, Ordering::SeqCst);
    }

    /// Makes every call fail, as an unreachable bucket (or answer again).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
        if !down {
            self.puts_left.store(usize::MAX, Ordering::SeqCst);
        }
    }

    /// The names of the stored blobs, in order.
    pub fn names(&self) -> Vec<String> {
        self.lock().keys().cloned().collect()
    }

    /// Every stored blob.
    pub fn contents(&self) -> Vec<Vec<u8>> {
        self.lock().values().cloned().collect()
    }

    /// Replaces a blob's bytes behind the vault's back (tests of tampering); `None` removes it.
    pub fn tamper(&self, name: &str, bytes: Option<Vec<u8>>) {
        let mut blobs = self.lock();
        match bytes {
            Some(bytes) => blobs.insert(name.to_owned(), bytes),
            None => blobs.remove(name),
        };
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // Every mutation is one map operation: a panic elsewhere cannot leave it half done.
        self.blobs.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check_up(&self, op: &str, name: &str) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Objects(format!("{op} {name}: injected outage")));
        }
        Ok(())
    }
}

impl BlobStore for MemoryBlobStore {
    fn put_new(&self, blobs: &[(&str, &[u8])]) -> Result<(), StoreError> {
        for (name, bytes) in blobs {
            self.check_up("PUT", name)?;
            let allowed = self
                .puts_left
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                    (left > 0).then(|| left.saturating_sub(usize::from(left != usize::MAX)))
                });
            if allowed.is_err() {
                return Err(StoreError::Objects(format!("PUT {name}: injected failure")));
            }
            let mut stored = self.lock();
            if stored.contains_key(*name) {
                return Err(StoreError::Objects(format!("PUT {name}: already exists")));
            }
            stored.insert((*name).to_owned(), bytes.to_vec());
        }
        Ok(())
    }

    fn get(&self, name: &str, max_len: usize) -> Result<Option<Vec<u8>>, StoreError> {
        self.check_up("GET", name)?;
        match self.lock().get(name) {
            Some(bytes) if bytes.len() > max_len => Err(StoreError::Corrupt(
                "the ciphertext blob is longer than recorded",
            )),
            found => Ok(found.cloned()),
        }
    }

    fn delete(&self, name: &str) -> Result<(), StoreError> {
        self.check_up("DELETE", name)?;
        if self.fail_deletes.load(Ordering::SeqCst) {
            return Err(StoreError::Objects(format!(
                "DELETE {name}: injected failure"
            )));
        }
        self.lock().remove(name);
        Ok(())
    }
}
