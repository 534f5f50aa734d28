//! The embedded store: ciphertexts (with their initial envelopes) in append-only segment files,
//! index and envelopes in sled, every commit made durable with a real `fdatasync`.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::MutexGuard;

use ledger::CertId;

use super::group::{Committer, State, Taken};
use super::index::{self, Entry, Location, Place};
use super::segments::{MAX_SEGMENT_LEN, Read, SegmentFiles};
use super::{
    NewCertificate, StoreError, StoredId, VaultStore, record, recovery, validate_batch,
    validate_envelope, validate_party,
};

/// The embedded [`VaultStore`]: one data directory holding `index/` (sled: index entries,
/// envelopes, purge intents, checkpoint) and `segments/` (ciphertext records).
///
/// A put appends a checksummed record (ciphertext and initial envelopes) to the active segment;
/// its commit `fdatasync`s the segment and then applies the index entries to sled, so an index
/// entry never reaches the disk before its record. The segment is the log: the index is synced
/// (sled flush plus an `fdatasync` of sled's log file, since sled 0.34 stops at `sync_file_range`)
/// by grants, revocations, purges and every 64 MiB of records, and on open the records after the
/// last such checkpoint are replayed into the index. Purge first makes a purge intent durable,
/// then shreds the record in place and drops the index entry and envelopes; an intent found on
/// open is finished before the store is used.
pub struct FsVaultStore {
    db: sled::Db,
    db_log: File,
    segments: SegmentFiles,
    committer: Committer,
    inline: bool,
    /// Tests: make the next segment sync fail, as a dying disk would.
    #[cfg(test)]
    fail_next_sync: std::sync::atomic::AtomicBool,
}

impl FsVaultStore {
    /// Opens (or creates) the store in `dir`, recovering from a crash if there was one.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_layout(dir, false)
    }

    /// The measured alternative, kept only for the benchmark: ciphertexts inline in sled, every
    /// commit syncing sled. Its purge drops the index entry, but sled's log keeps the old bytes
    /// until sled reuses that space, so it is not crypto-shredding. Do not store certificates in it.
    #[doc(hidden)]
    pub fn open_inline_baseline(dir: &Path) -> Result<Self, StoreError> {
        Self::open_layout(dir, true)
    }

    fn open_layout(dir: &Path, inline: bool) -> Result<Self, StoreError> {
        for private in [dir, &dir.join("index")] {
            if ledger::durable::create_private_dir(private)?.is_some() {
                ledger::durable::make_private(private)?;
            }
        }
        let index_dir = dir.join("index");
        let db = open_index(&index_dir)?;
        settle_index_files(&index_dir)?;
        let db_log = OpenOptions::new()
            .read(true)
            .write(true)
            .open(index_dir.join("db"))?;
        let segments = SegmentFiles::open(&dir.join("segments"))?;
        let (writes, active, len) = recovery::replay(&db, &segments)?;
        writes.write_to(&db, Some((active, len)))?;
        db.flush()?;
        db_log.sync_data()?;
        for created in [&index_dir, &dir.join("segments"), dir] {
            File::open(created)?.sync_all()?;
        }
        let store = Self {
            db,
            db_log,
            segments,
            committer: Committer::new(active, len),
            inline,
            #[cfg(test)]
            fail_next_sync: std::sync::atomic::AtomicBool::new(false),
        };
        for intent in store.db.scan_prefix(index::intent_prefix()).keys() {
            store.finish_purge(index::cert_of_intent(&intent?)?)?;
        }
        Ok(store)
    }

    /// Bytes the data directory takes (sled's estimate plus the segment files).
    pub fn size_on_disk(&self) -> Result<u64, StoreError> {
        Ok(self
            .db
            .size_on_disk()?
            .saturating_add(self.segments.total_len()?))
    }

    /// Releases the lock and waits until `ticket` is durable (see [`Committer::wait_durable`]).
    fn wait_durable(&self, state: MutexGuard<'_, State>, ticket: u64) -> Result<(), StoreError> {
        self.committer
            .wait_durable(state, ticket, |t| self.sync_segments(t), |t| self.apply(t))
    }

    /// Commit phase one: the records (and new segment files) become durable.
    fn sync_segments(&self, taken: &Taken) -> Result<(), StoreError> {
        #[cfg(test)]
        if self
            .fail_next_sync
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            return Err(StoreError::Io(std::io::Error::other(
                "injected sync failure",
            )));
        }
        for id in &taken.dirty_segments {
            self.segments.get(*id)?.sync_data()?;
        }
        if taken.dir_dirty {
            self.segments.sync_dir()?;
        }
        Ok(())
    }

    /// Commit phase two: the index changes are written, and synced with a checkpoint if asked.
    fn apply(&self, taken: Taken) -> Result<(), StoreError> {
        let checkpoint = taken.index_sync.then_some(taken.end);
        if self.inline {
            taken.writes.write_atomically_to(&self.db, checkpoint)?;
        } else {
            taken.writes.write_to(&self.db, checkpoint)?;
        }
        if taken.index_sync {
            self.db.flush()?;
            self.db_log.sync_data()?;
        }
        Ok(())
    }

    fn entry(&self, cert_id: CertId) -> Result<Option<Entry>, StoreError> {
        self.db
            .get(index::index_key(cert_id))?
            .map(|v| Entry::decode(&v))
            .transpose()
    }

    /// Where a certificate's ciphertext is, read from its entry without decoding the envelopes.
    fn place(&self, cert_id: CertId) -> Result<Option<Place>, StoreError> {
        self.db
            .get(index::index_key(cert_id))?
            .map(|v| index::decode_place(&v).map(|(place, _)| place))
            .transpose()
    }

    /// The entry of a certificate that mutations may change: live, not purged.
    fn live_entry(&self, cert_id: CertId) -> Result<Entry, StoreError> {
        match self.entry(cert_id)? {
            None => Err(StoreError::NotFound(cert_id)),
            Some(Entry {
                place: Place::Purged,
                ..
            }) => Err(StoreError::Purged(cert_id)),
            Some(live) => Ok(live),
        }
    }

    /// Queues a changed entry of a locked certificate and waits until it is durable.
    fn commit_entry(
        &self,
        mut state: MutexGuard<'_, State>,
        cert_id: CertId,
        entry: &Entry,
    ) -> Result<(), StoreError> {
        state
            .next
            .writes
            .insert(&index::index_key(cert_id), entry.encode()?);
        self.commit_synced(state, cert_id)
    }

    /// Queues an index sync for the changes queued for a locked certificate and waits until it is durable.
    fn commit_synced(
        &self,
        mut state: MutexGuard<'_, State>,
        cert_id: CertId,
    ) -> Result<(), StoreError> {
        state.next.index_sync = true;
        let ticket = state.enqueue([cert_id]);
        self.wait_durable(state, ticket)
    }

    /// Appends the certificates' records to the active segment and returns their places.
    fn append(
        &self,
        state: &mut State,
        certs: &[NewCertificate<'_>],
    ) -> Result<Vec<Location>, StoreError> {
        // Sized up front: a batch of a few hundred 9 KB records grown by doubling cost a noticeable share
        // of the commit thread's time in reallocation and copying.
        let mut buf = Vec::with_capacity(
            certs
                .iter()
                .map(|c| record::encoded_len(c.ciphertext.len(), c.envelopes))
                .sum(),
        );
        let mut places = Vec::with_capacity(certs.len());
        for cert in certs {
            let offset = u64::try_from(buf.len()).map_err(|_| StoreError::TooLarge)?;
            let len = record::encode(cert.cert_id.0, cert.ciphertext, cert.envelopes, &mut buf)?;
            places.push(Location {
                segment: 0,
                offset,
                len,
            });
        }
        let total = u64::try_from(buf.len()).map_err(|_| StoreError::TooLarge)?;
        if state.active_len > 0 && state.active_len.saturating_add(total) > MAX_SEGMENT_LEN {
            // Sealing the full segment durably here keeps every torn record in the last segment.
            self.segments.get(state.active_segment)?.sync_data()?;
            let next = state
                .active_segment
                .checked_add(1)
                .ok_or(StoreError::TooLarge)?;
            self.segments.create(next)?;
            state.active_segment = next;
            state.active_len = 0;
            state.next.dir_dirty = true;
        }
        // A failed write leaves active_len as it was, so its partial bytes are overwritten later.
        self.segments
            .get(state.active_segment)?
            .write_all_at(&buf, state.active_len)?;
        for place in &mut places {
            place.segment = state.active_segment;
            place.offset = place.offset.saturating_add(state.active_len);
        }
        state.active_len = state.active_len.saturating_add(total);
        state.since_checkpoint = state.since_checkpoint.saturating_add(total);
        state.next.dirty_segments.insert(state.active_segment);
        Ok(places)
    }

    /// Second half of a purge, once its intent is durable: shred, then drop entry and envelopes.
    /// The tombstone is written before the intent is dropped: sled keeps a prefix of its writes, so
    /// a crash cannot leave the intent gone and the envelopes still there (see `writes`).
    fn finish_purge(&self, cert_id: CertId) -> Result<(), StoreError> {
        let mut state = self.committer.lock_certs(&[cert_id])?;
        let place = self.place(cert_id)?;
        if let Some(Place::Segment(loc)) = place {
            self.segments.shred(loc)?;
            state.next.dirty_segments.insert(loc.segment);
        }
        let tombstone = Entry {
            place: Place::Purged,
            envelopes: Default::default(),
        };
        let writes = &mut state.next.writes;
        writes.insert(&index::index_key(cert_id), tombstone.encode()?);
        if place == Some(Place::Inline) {
            writes.remove(&index::inline_body_key(cert_id));
        }
        writes.remove(&index::intent_key(cert_id));
        self.commit_synced(state, cert_id)
    }
}

#[cfg(test)]
mod tests;

/// Opens the sled index. sled's background flusher only calls sync_file_range; durability comes
/// from our commits. A store dropped a moment ago may still hold sled's file lock while sled's
/// own threads wind down (sled blocks on the lock in its own tests for this reason), so a lock
/// conflict is retried for a few seconds before it is reported.
fn open_index(index_dir: &Path) -> Result<sled::Db, StoreError> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match sled::Config::new()
            .path(index_dir)
            .flush_every_ms(None)
            .open()
        {
            Err(sled::Error::Io(e))
                if e.to_string().contains("could not acquire lock")
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return Ok(other?),
        }
    }
}

/// Makes the files sled wrote on opening durable and private. sled 0.34 writes its `conf` without an fsync
/// (a power cut soon after the first start left it empty, and sled warned) and renames its snapshots without
/// syncing the directory; and it creates files with the process umask. They sit in `index/`, created 0700
/// before sled ran, so no other user could reach them meanwhile; here each is taken to 0600 (directories
/// 0700) and fsynced, then the directories.
fn settle_index_files(index_dir: &Path) -> Result<(), StoreError> {
    let mut dirs = vec![index_dir.to_owned()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            ledger::durable::make_private(&path)?;
            if path.is_dir() {
                dirs.push(path);
            } else {
                File::open(&path)?.sync_all()?;
            }
        }
        ledger::durable::sync_dir(&dir)?;
    }
    Ok(())
}

impl Drop for FsVaultStore {
    /// A clean close checkpoints, so the next open replays nothing. Best effort: a failure here
    /// only means a longer replay.
    fn drop(&mut self) {
        let Ok(state) = self.committer.lock_certs(&[]) else {
            return;
        };
        let end = index::encode_checkpoint(state.active_segment, state.active_len);
        drop(state);
        let _ = self.db.insert(index::checkpoint_key(), &end);
        let _ = self.db.flush();
        let _ = self.db_log.sync_data();
    }
}

impl VaultStore for FsVaultStore {
    fn put_certificates(&self, certs: &[NewCertificate<'_>]) -> Result<(), StoreError> {
        validate_batch(certs)?;
        let ids: Vec<CertId> = certs.iter().map(|c| c.cert_id).collect();
        let mut state = self.committer.lock_certs(&ids)?;
        for id in &ids {
            match self.place(*id)? {
                None => {}
                Some(Place::Purged) => return Err(StoreError::Purged(*id)),
                Some(_) => return Err(StoreError::AlreadyExists(*id)),
            }
        }
        let places: Vec<Place> = if self.inline {
            state.next.index_sync = true;
            for cert in certs {
                state
                    .next
                    .writes
                    .insert(&index::inline_body_key(cert.cert_id), cert.ciphertext);
            }
            vec![Place::Inline; certs.len()]
        } else {
            self.append(&mut state, certs)?
                .into_iter()
                .map(Place::Segment)
                .collect()
        };
        for (cert, place) in certs.iter().zip(places) {
            let entry = index::encode_new(place, cert.envelopes)?;
            state
                .next
                .writes
                .insert(&index::index_key(cert.cert_id), entry);
        }
        let ticket = state.enqueue(ids);
        self.wait_durable(state, ticket)
    }

    fn add_envelope(
        &self,
        cert_id: CertId,
        party: &str,
        envelope: &[u8],
    ) -> Result<(), StoreError> {
        validate_envelope(party, envelope)?;
        let state = self.committer.lock_certs(&[cert_id])?;
        let mut entry = self.live_entry(cert_id)?;
        if entry
            .envelopes
            .insert(party.to_owned(), envelope.to_vec())
            .is_some()
        {
            return Err(StoreError::DuplicateRecipient(cert_id));
        }
        self.commit_entry(state, cert_id, &entry)
    }

    fn remove_envelope(&self, cert_id: CertId, party: &str) -> Result<bool, StoreError> {
        validate_party(party)?;
        let state = self.committer.lock_certs(&[cert_id])?;
        let mut entry = self.live_entry(cert_id)?;
        if entry.envelopes.remove(party).is_none() {
            return Ok(false);
        }
        self.commit_entry(state, cert_id, &entry)?;
        Ok(true)
    }

    fn purge(&self, cert_id: CertId) -> Result<(), StoreError> {
        let mut state = self.committer.lock_certs(&[cert_id])?;
        self.live_entry(cert_id)?;
        // The intent is durable before any byte is shredded, so a crash in between is finished on open.
        state.next.writes.insert(&index::intent_key(cert_id), &[]);
        self.commit_synced(state, cert_id)?;
        self.finish_purge(cert_id)
    }

    fn get_ciphertext(&self, cert_id: CertId) -> Result<Option<Vec<u8>>, StoreError> {
        let loc = match self.place(cert_id)? {
            None | Some(Place::Purged) => return Ok(None),
            Some(Place::Inline) => {
                return Ok(self
                    .db
                    .get(index::inline_body_key(cert_id))?
                    .map(|v| v.to_vec()));
            }
            Some(Place::Segment(loc)) => loc,
        };
        match self.segments.read(loc, cert_id.0) {
            Ok(Read::Live(contents)) => Ok(Some(contents.body)),
            Ok(Read::Shredded) => Ok(None),
            // A purge may be shredding this very record: that is absence, not corruption.
            Err(StoreError::Corrupt(what)) => {
                let purging = self.db.contains_key(index::intent_key(cert_id))?
                    || self.place(cert_id)? != Some(Place::Segment(loc));
                if purging {
                    Ok(None)
                } else {
                    Err(StoreError::Corrupt(what))
                }
            }
            Err(e) => Err(e),
        }
    }

    fn get_envelope(&self, cert_id: CertId, party: &str) -> Result<Option<Vec<u8>>, StoreError> {
        validate_party(party)?;
        Ok(self
            .entry(cert_id)?
            .and_then(|mut e| e.envelopes.remove(party)))
    }

    fn list_recipients(&self, cert_id: CertId) -> Result<Vec<String>, StoreError> {
        Ok(self
            .entry(cert_id)?
            .map(|e| e.envelopes.into_keys().collect())
            .unwrap_or_default())
    }

    fn list_ids(&self, after: Option<CertId>, limit: usize) -> Result<Vec<StoredId>, StoreError> {
        // Index keys are `i | cert id`, so sled's byte order is the ids' order.
        let start = match after {
            Some(id) => std::ops::Bound::Excluded(index::index_key(id).to_vec()),
            None => std::ops::Bound::Included(index::index_key(CertId([0; 16])).to_vec()),
        };
        let end = std::ops::Bound::Excluded(index::index_key_end().to_vec());
        let mut ids = Vec::new();
        for item in self.db.range::<Vec<u8>, _>((start, end)).take(limit) {
            let (key, value) = item?;
            let cert_id = index::cert_of_index_key(&key)?;
            let purged = Entry::decode(&value)?.place == Place::Purged;
            ids.push(StoredId { cert_id, purged });
        }
        Ok(ids)
    }
}
