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
use crate::store::Batch;
use crate::tiles::level_count;

/// Stop gathering more requests into one group once it holds this many entries.
const MAX_GROUP: usize = 1 << 16;
/// Write the stored checkpoint at most this often: it costs three device flushes, and recovery re-derives
/// whatever it does not cover from the durable journal.
const PERSIST_INTERVAL: Duration = Duration::from_millis(500);

/// Entries waiting to be appended, and where to send their first index.
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
            if let Err(err) = self.commit(shared, &mut group) {
                // Nothing in this group was acknowledged and no checkpoint covers it; the store's state is
                // unknown after a failed write or sync, so stop until the log is reopened and recovers.
                shared.failed.store(true, Ordering::Release);
                for req in group {
                    let _ = req.reply.send(Err(duplicate(&err)));
                }
                return;
            }
        }
    }

    fn commit(&mut self, shared: &Shared, group: &mut [Request]) -> Result<(), Error> {
        let old = self.size;
        let mut edge = self.edge.clone();
        let mut frontier = self.frontier.clone();
        let mut tiles: BTreeMap<u8, Vec<Hash>> = BTreeMap::new();
        let mut entries = Vec::new();
        let mut firsts = Vec::with_capacity(group.len());
        for req in group.iter_mut() {
            firsts.push(old + u64::try_from(entries.len()).unwrap_or(u64::MAX));
            for (bytes, leaf) in req.entries.drain(..) {
                push_hash(&mut edge, &mut frontier, &mut tiles, 0, leaf);
                entries.push((bytes, leaf));
            }
        }
        let size = old + u64::try_from(entries.len()).unwrap_or(u64::MAX);
        let tiles = tiles
            .into_iter()
            .map(|(level, hashes)| (level, level_count(old, level), hashes))
            .collect();
        let batch = Batch {
            first: old,
            entries,
            tiles,
        };
        shared.store.append(&batch)?;
        shared.store.sync()?;
        // Durable now: only from here on may a checkpoint cover these entries.
        let mut snapshot = Snapshot {
            size,
            edge,
            root: Hash::default(),
            checkpoint: Vec::new(),
        };
        let nodes = FrontierSource {
            size,
            edge: &snapshot.edge,
            frontier: &frontier,
        };
        snapshot.root = tree_root(size, &nodes)?;
        snapshot.checkpoint = signing::sign(&self.signer, &self.origin, size, &snapshot.root)?;
        shared.persister.offer(size, snapshot.checkpoint.clone());
        self.edge = snapshot.edge.clone();
        self.frontier = frontier;
        self.size = size;
        shared.publish(snapshot);
        for (req, first) in group.iter().zip(firsts) {
            let _ = req.reply.send(Ok(first));
        }
        Ok(())
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
            && shared.store.write_checkpoint(size, &note).is_err()
        {
            shared.failed.store(true, Ordering::Release);
            return;
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
