//! Group commit: the one thread that orders appends, writes and syncs them once per group, signs the
//! checkpoint and acknowledges; and the thread that persists checkpoints behind it.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Condvar, Mutex, mpsc};
use std::time::Duration;

use super::frontier::{Frontier, FrontierSource};
use super::{Shared, Snapshot, signing};
use crate::Error;
use crate::merkle::{Hash, tree_root};
use crate::note::NoteSigner;
use crate::store::{Batch, Tail};
use crate::tiles::level_count;

/// Stop gathering more requests into one group once it holds this many entries.
const MAX_GROUP: usize = 1 << 16;
/// Write the stored checkpoint at most this often: it costs three device flushes, and recovery re-derives
/// whatever it does not cover from the durable journal.
const PERSIST_INTERVAL: Duration = Duration::from_millis(500);

/// Entries waiting to be appended, and where to send their first index. A request without entries asks for
/// a refresh: take in what other writers committed, and answer with the new size.
pub(crate) struct Request {
    pub(crate) entries: Vec<(Vec<u8>, Hash)>,
    pub(crate) reply: mpsc::SyncSender<Result<u64, Error>>,
}

/// The sequencer's working state: the tree as of the last durable commit.
pub(crate) struct Sequencer {
    size: u64,
    edge: Vec<Vec<Hash>>,
    /// The perfect subtrees of `edge`'s partial tiles, so a commit hashes only what it adds.
    frontier: Frontier,
    signer: NoteSigner,
    origin: String,
}

/// A tree this sequencer has built but not yet signed and published.
struct Grown {
    size: u64,
    edge: Vec<Vec<Hash>>,
    frontier: Frontier,
}

impl Sequencer {
    pub(crate) fn new(snapshot: &Snapshot, signer: NoteSigner, origin: &str) -> Self {
        Sequencer {
            size: snapshot.size,
            edge: snapshot.edge.clone(),
            frontier: Frontier::of_edge(&snapshot.edge),
            signer,
            origin: origin.to_string(),
        }
    }

    /// Serve requests until every sender is gone or storage fails.
    pub(crate) fn run(mut self, shared: &Shared, incoming: &mpsc::Receiver<Request>) {
        while let Ok(first) = incoming.recv() {
            let mut group = vec![first];
            let mut n = group[0].entries.len();
            while n < MAX_GROUP {
                match incoming.try_recv() {
                    Ok(req) => {
                        n += req.entries.len();
                        group.push(req);
                    }
                    Err(_) => break,
                }
            }
            let result = if n == 0 {
                self.refresh(shared).map(|size| vec![size; group.len()])
            } else {
                self.commit(shared, &mut group)
            };
            match result {
                Ok(answers) => {
                    for (req, answer) in group.iter().zip(answers) {
                        let _ = req.reply.send(Ok(answer));
                    }
                }
                Err(err) => {
                    // Nothing in this group was acknowledged and no checkpoint covers it. A store that rolls
                    // a failed commit back is as it was, and the next commit re-reads the committed size
                    // (which also settles a COMMIT whose answer was lost); otherwise the store's state is
                    // unknown after a failed write or sync, so stop until the log is reopened and recovers.
                    let fatal = !shared.store.rolls_back_failed_commits()
                        || matches!(err, Error::Corrupted(_));
                    if fatal {
                        shared.failed.store(true, Ordering::Release);
                    }
                    for req in group {
                        let _ = req.reply.send(Err(duplicate(&err)));
                    }
                    if fatal {
                        return;
                    }
                }
            }
        }
    }

    /// Take in what other writers committed; returns the new size.
    fn refresh(&mut self, shared: &Shared) -> Result<u64, Error> {
        let tail = shared.store.tail(self.size)?;
        if tail.size == self.size {
            return Ok(self.size);
        }
        let grown = self.fold(&tail)?;
        self.publish(shared, grown)
    }

    /// The tree grown by the entries other writers committed (`tail`), without writing anything: their tile
    /// hashes are already stored.
    fn fold(&self, tail: &Tail) -> Result<Grown, Error> {
        let n = u64::try_from(tail.leaves.len()).unwrap_or(u64::MAX);
        if self.size.checked_add(n) != Some(tail.size) {
            return Err(Error::Corrupted(format!(
                "the store reports size {} but {n} new entries after {}",
                tail.size, self.size
            )));
        }
        let mut grown = Grown {
            size: tail.size,
            edge: self.edge.clone(),
            frontier: self.frontier.clone(),
        };
        let mut stored_already = BTreeMap::new();
        for leaf in &tail.leaves {
            push_hash(
                &mut grown.edge,
                &mut grown.frontier,
                &mut stored_already,
                0,
                *leaf,
            );
        }
        Ok(grown)
    }

    /// Commit the group after whatever other writers committed; returns each request's first index (a
    /// refresh request gets the new size).
    fn commit(&mut self, shared: &Shared, group: &mut [Request]) -> Result<Vec<u64>, Error> {
        let mut built: Option<(Grown, Vec<u64>)> = None;
        shared.store.commit(self.size, &mut |tail| {
            let mut grown = self.fold(&tail)?;
            let old = grown.size;
            let mut tiles: BTreeMap<u8, Vec<Hash>> = BTreeMap::new();
            let mut entries = Vec::new();
            let mut firsts = Vec::with_capacity(group.len());
            let mut refreshes = Vec::new();
            for (i, req) in group.iter_mut().enumerate() {
                if req.entries.is_empty() {
                    refreshes.push(i);
                }
                firsts.push(old + u64::try_from(entries.len()).unwrap_or(u64::MAX));
                for (bytes, leaf) in req.entries.drain(..) {
                    push_hash(&mut grown.edge, &mut grown.frontier, &mut tiles, 0, leaf);
                    entries.push((bytes, leaf));
                }
            }
            grown.size = old + u64::try_from(entries.len()).unwrap_or(u64::MAX);
            // A refresh request in the group is answered with the size after the commit.
            for i in refreshes {
                if let Some(first) = firsts.get_mut(i) {
                    *first = grown.size;
                }
            }
            let tiles = tiles
                .into_iter()
                .map(|(level, hashes)| (level, level_count(old, level), hashes))
                .collect();
            built = Some((grown, firsts));
            Ok(Batch {
                first: old,
                entries,
                tiles,
            })
        })?;
        // Durable now: only from here on may a checkpoint cover these entries.
        let (grown, firsts) =
            built.ok_or_else(|| Error::Corrupted("the store committed no batch".into()))?;
        self.publish(shared, grown)?;
        Ok(firsts)
    }

    /// Sign a checkpoint over the committed tree `grown`, hand it to the persister and publish it.
    fn publish(&mut self, shared: &Shared, grown: Grown) -> Result<u64, Error> {
        let nodes = FrontierSource {
            size: grown.size,
            edge: &grown.edge,
            frontier: &grown.frontier,
        };
        let root = tree_root(grown.size, &nodes)?;
        let checkpoint = signing::sign(&self.signer, &self.origin, grown.size, &root)?;
        shared.persister.offer(grown.size, checkpoint.clone());
        self.edge.clone_from(&grown.edge);
        self.frontier = grown.frontier;
        self.size = grown.size;
        shared.publish(Snapshot {
            size: grown.size,
            edge: grown.edge,
            root,
            checkpoint,
        });
        Ok(self.size)
    }
}

/// Add hash `h` to tile level `level`; a tile that fills up passes its root (which the frontier has just
/// computed) to the level above.
fn push_hash(
    edge: &mut Vec<Vec<Hash>>,
    frontier: &mut Frontier,
    tiles: &mut BTreeMap<u8, Vec<Hash>>,
    level: u8,
    h: Hash,
) {
    let slot = usize::from(level);
    if edge.len() <= slot {
        edge.resize_with(slot + 1, Vec::new);
    }
    edge[slot].push(h);
    if let Some(root) = frontier.push(level, h) {
        edge[slot].clear();
        tiles.entry(level + 1).or_default().push(root);
        push_hash(edge, frontier, tiles, level + 1, root);
    }
}

/// The same failure for every waiter in the group (errors are not `Clone`).
fn duplicate(err: &Error) -> Error {
    match err {
        Error::Io { op, source } => Error::Io {
            op,
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        Error::Corrupted(what) => Error::Corrupted(what.clone()),
        Error::Database(what) => Error::Database(what.clone()),
        Error::CheckpointConflict(size) => Error::CheckpointConflict(*size),
        _ => Error::LogFailed,
    }
}

/// The latest checkpoint waiting to be stored, handed from the sequencer to the persister thread.
#[derive(Default)]
pub(crate) struct Persister {
    state: Mutex<PersistState>,
    wake: Condvar,
}

#[derive(Default)]
struct PersistState {
    pending: Option<(u64, Vec<u8>)>,
    stop: bool,
}

impl Persister {
    fn lock(&self) -> std::sync::MutexGuard<'_, PersistState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn offer(&self, size: u64, note: Vec<u8>) {
        self.lock().pending = Some((size, note));
        self.wake.notify_one();
    }

    pub(crate) fn stop(&self) {
        self.lock().stop = true;
        self.wake.notify_one();
    }
}

/// Store the latest checkpoint at most every [`PERSIST_INTERVAL`], and once more when stopped.
pub(crate) fn persist_loop(shared: &Shared) {
    let p = &shared.persister;
    loop {
        let mut state = p.lock();
        while state.pending.is_none() && !state.stop {
            state = p.wake.wait(state).unwrap_or_else(|e| e.into_inner());
        }
        let (job, stop) = (state.pending.take(), state.stop);
        drop(state);
        if let Some((size, note)) = job
            && let Err(err) = shared.store.write_checkpoint(size, &note)
        {
            // A store that rolls failures back is unchanged: offer the checkpoint again next round (unless a
            // newer one arrived). A conflicting checkpoint of the same size is a fork: stop.
            let retry = shared.store.rolls_back_failed_commits()
                && !matches!(err, Error::CheckpointConflict(_) | Error::Corrupted(_));
            if !retry {
                shared.failed.store(true, Ordering::Release);
                return;
            }
            let mut state = p.lock();
            if state.pending.is_none() && !state.stop {
                state.pending = Some((size, note));
            }
        }
        if stop {
            return;
        }
        let state = p.lock();
        let _ = p
            .wake
            .wait_timeout_while(state, PERSIST_INTERVAL, |s| !s.stop);
    }
}
