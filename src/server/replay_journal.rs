//! `DATA/replay/future-nonces`: the nonces of accepted requests that were dated ahead of the server clock, kept
//! durably so that no signed request is accepted twice, restarts and crashes included.
//!
//! At every start the replay guard refuses whatever was created before that start (a floor, see
//! `AppState::open`), so a request accepted by an earlier run can only be accepted again if its `created` is
//! after the restart, which means it was dated ahead of the clock when it was accepted. Those, and only those,
//! are written here (one line each, `fdatasync`ed) before the request is acted on; at start the ones still
//! inside the skew window are loaded back into the guard and the file is rewritten without the rest. Clients
//! that sign with their own clock's time are not slowed down at all; see docs/threat-model.md for the cost.
//!
//! Format: one ASCII line per nonce, `<created> <nonce key, 32 hex digits> <party id>\n`. A line without its
//! newline is the torn tail of a write interrupted by a crash: that request was never acknowledged, so it is
//! ignored.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use anyhow::Context as _;

use crate::httpsig::{NonceJournal, ReplayGuard, unix_now};

/// The journal's directory under the data directory.
const DIR: &str = "replay";
/// The journal file in it.
const FILE: &str = "future-nonces";
/// The journal is rewritten without expired lines once it holds this many lines more than twice the live ones.
const COMPACT_SLACK: usize = 4096;

/// One journalled nonce.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Record {
    created: u64,
    nonce: [u8; 16],
    party: String,
}

impl Record {
    fn line(&self) -> String {
        format!(
            "{} {} {}\n",
            self.created,
            hex::encode(self.nonce),
            self.party
        )
    }

    fn parse(line: &str) -> Option<Record> {
        let mut fields = line.splitn(3, ' ');
        let created = fields.next()?.parse().ok()?;
        let mut nonce = [0u8; 16];
        hex::decode_to_slice(fields.next()?, &mut nonce).ok()?;
        let party = fields.next()?;
        ledger::PartyId::new(party).ok()?;
        Some(Record {
            created,
            nonce,
            party: party.to_owned(),
        })
    }
}

/// The open journal: appends durably; thread-safe.
pub(super) struct FutureNonces {
    dir: PathBuf,
    max_skew_secs: u64,
    inner: Mutex<Inner>,
}

struct Inner {
    file: File,
    /// Every record in the file since the last rewrite (the expired ones until the next rewrite).
    records: Vec<Record>,
}

/// Opens (or creates) the journal under `data`, loads the nonces still replayable into `guard`, and has the
/// guard journal from now on.
pub(super) fn attach(
    data: &Path,
    guard: ReplayGuard,
    max_skew_secs: u64,
) -> anyhow::Result<ReplayGuard> {
    let journal = FutureNonces::open(&data.join(DIR), max_skew_secs, unix_now())?;
    let now = unix_now();
    for record in &journal.lock().records {
        guard.restore(&record.party, record.nonce, record.created, now);
    }
    Ok(guard.with_journal(Box::new(journal)))
}

impl FutureNonces {
    /// Reads the journal in `dir`, drops what expired before `now`, and rewrites it atomically.
    fn open(dir: &Path, max_skew_secs: u64, now: u64) -> anyhow::Result<FutureNonces> {
        ledger::durable::create_private_dir(dir)
            .with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(FILE);
        let records = match std::fs::read(&path) {
            Ok(bytes) => parse(&bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let live = live(records, max_skew_secs, now);
        let file = rewrite(dir, &live)?;
        Ok(FutureNonces {
            dir: dir.to_owned(),
            max_skew_secs,
            inner: Mutex::new(Inner {
                file,
                records: live,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every update leaves `records` describing a prefix of the file: safe to keep using after a panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl NonceJournal for FutureNonces {
    fn record(&self, party: &str, nonce: &[u8; 16], created: u64) -> std::io::Result<()> {
        let record = Record {
            created,
            nonce: *nonce,
            party: party.to_owned(),
        };
        let mut inner = self.lock();
        inner.file.write_all(record.line().as_bytes())?;
        inner.file.sync_data()?;
        inner.records.push(record);
        let live_count = inner
            .records
            .iter()
            .filter(|r| !expired(r, self.max_skew_secs, unix_now()))
            .count();
        if inner.records.len() > 2 * live_count + COMPACT_SLACK {
            let records = std::mem::take(&mut inner.records);
            let live = live(records, self.max_skew_secs, unix_now());
            inner.file = rewrite(&self.dir, &live).map_err(std::io::Error::other)?;
            inner.records = live;
        }
        Ok(())
    }
}

/// Every complete, well-formed line; a torn last line (no newline) was never acknowledged.
fn parse(bytes: &[u8]) -> Vec<Record> {
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(end) => bytes.get(..end).unwrap_or_default(),
        None => return Vec::new(),
    };
    let text = String::from_utf8_lossy(complete);
    text.lines()
        .filter_map(|line| {
            let record = Record::parse(line);
            if record.is_none() {
                tracing::warn!("ignoring a malformed line in the replay journal");
            }
            record
        })
        .collect()
}

fn expired(record: &Record, max_skew_secs: u64, now: u64) -> bool {
    record.created.saturating_add(max_skew_secs) < now
}

fn live(records: Vec<Record>, max_skew_secs: u64, now: u64) -> Vec<Record> {
    records
        .into_iter()
        .filter(|r| !expired(r, max_skew_secs, now))
        .collect()
}

/// Replaces the journal with `records`, atomically and durably; returns it opened for appending.
fn rewrite(dir: &Path, records: &[Record]) -> anyhow::Result<File> {
    let path = dir.join(FILE);
    let text: String = records.iter().map(Record::line).collect();
    ledger::durable::write_atomic(&path, text.as_bytes())
        .with_context(|| format!("replacing {}", path.display()))?;
    OpenOptions::new()
        .append(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const SKEW: u64 = 300;

    #[test]
    fn recorded_nonces_survive_a_reopen_without_close_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let journal_dir = dir.path().join(DIR);
        let now = unix_now();
        let journal = FutureNonces::open(&journal_dir, SKEW, now).unwrap();
        journal.record("cbp", &[7; 16], now + 250).unwrap();
        journal.record("acme", &[8; 16], now + 1).unwrap();
        // Not closed, not dropped: what `record` returned for is on disk (a kill -9 loses nothing of it).
        let reopened = FutureNonces::open(&journal_dir, SKEW, now).unwrap();
        assert_eq!(reopened.lock().records.len(), 2);
        // Past created + skew: gone at the next open.
        let later = FutureNonces::open(&journal_dir, SKEW, now + 1 + SKEW + 1).unwrap();
        let left = &later.lock().records;
        assert_eq!(left.len(), 1);
        assert_eq!(left[0].party, "cbp");
        drop(journal);
    }

    /// The cost of journalling one future-dated request, on the disk under target/ (not /tmp, which may be a
    /// tmpfs where fsync is free). Run: `cargo test -p tradeledger --lib measure_record -- --ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn measure_record_cost() {
        let base = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
        let dir = tempfile::tempdir_in(base).unwrap();
        let now = unix_now();
        let journal = FutureNonces::open(&dir.path().join(DIR), SKEW, now).unwrap();
        let n: u32 = 500;
        let started = std::time::Instant::now();
        for i in 0..n {
            let mut nonce = [0u8; 16];
            nonce[..4].copy_from_slice(&i.to_be_bytes());
            journal.record("acme-imports", &nonce, now + 250).unwrap();
        }
        let each = started.elapsed() / n;
        println!("journalled {n} future-dated nonces: {each:?} each (one fdatasync per request)");
    }

    #[test]
    fn a_torn_or_malformed_line_is_ignored() {
        let good = Record {
            created: 5,
            nonce: [1; 16],
            party: "cbp".into(),
        };
        let mut bytes = good.line().into_bytes();
        bytes.extend_from_slice(b"x y z\n");
        bytes.extend_from_slice(b"12 00112233445566778899aabbccddeeff Bad Party\n");
        bytes.extend_from_slice(b"6 0011");
        assert_eq!(parse(&bytes), vec![good]);
    }

    #[test]
    fn the_guard_refuses_a_journalled_nonce_after_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let now = unix_now();
        let guard = attach(dir.path(), ReplayGuard::default(), SKEW).unwrap();
        let nonce = "AAAAAAAAAAAAAAAAAAAAAA";
        guard
            .check_and_insert("cbp", nonce, now + 250, now)
            .unwrap();
        drop(guard);
        let restarted = attach(
            dir.path(),
            ReplayGuard::default().refuse_created_before(now + 1),
            SKEW,
        )
        .unwrap();
        assert_eq!(
            restarted.check_and_insert("cbp", nonce, now + 250, now + 1),
            Err(crate::httpsig::SigError::ReplayedRequest)
        );
    }
}
