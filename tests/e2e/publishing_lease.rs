//! One publisher per bucket (issue 10): two spawned frontends on one database and one moto bucket. Only the
//! holder of the publishing lease sends PUTs; `kill -9` of it under load hands publishing to the other, whose
//! bucket checkpoint reaches the final size within seconds with nothing acknowledged lost; a holder stalled
//! with SIGSTOP past its lease never moves the bucket's checkpoint back once it resumes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tradeledger::client::ops;
use vault::{PartyId, PartyKeys, Role};

use crate::frontends_failures::{load, open_all, size};
use crate::moto::{ACCESS_KEY, Moto, SECRET};
use crate::pg_cluster;
use crate::spawned::Spawned;
use crate::support::{Party, copy_keys, log_key_file, save_keys};

/// Two frontends on a fresh database, publishing to one moto bucket, with an importer and a customs reader.
struct Deployment {
    frontends: Vec<Spawned>,
    vkey: String,
    importer: PartyKeys,
    cbp: PartyKeys,
    s3: tradeledger::bucket::S3,
    location: tradeledger::bucket::BucketLocation,
    _moto: Moto,
    _dir: tempfile::TempDir,
}

impl Deployment {
    async fn start() -> Deployment {
        let db = tokio::task::spawn_blocking(pg_cluster::fresh_database)
            .await
            .unwrap();
        let moto = Moto::start();
        moto.bucket("tl-lease", "").await;
        let location = moto.location("tl-lease", "log");
        let s3 = tradeledger::bucket::S3::new(&location).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let operator = PartyKeys::generate(PartyId::new("operator").unwrap(), Role::Operator);
        save_keys(dir.path(), &operator);
        let operator_pub = dir.path().join("operator.key.pub");
        let log_key = log_key_file(dir.path());
        let args = [
            "--postgres",
            &db,
            "--log-key-file",
            log_key.to_str().unwrap(),
            "--bucket",
            "s3://tl-lease/log",
        ];
        let env = [
            ("AWS_ENDPOINT_URL", moto.endpoint.as_str()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
            ("AWS_SECRET_ACCESS_KEY", SECRET),
        ];
        let mut frontends = Vec::new();
        for name in ["a", "b"] {
            let data = dir.path().join(name);
            frontends.push(Spawned::start_with_env(&data, &operator_pub, &args, None, &env).await);
        }
        let vkey = std::fs::read_to_string(dir.path().join("a/log.vkey")).unwrap();
        let op = Party::with_keys(copy_keys(&operator), &frontends[0].url);
        let importer = PartyKeys::generate(PartyId::new("acme-imports").unwrap(), Role::Importer);
        let cbp = PartyKeys::generate(PartyId::new("cbp").unwrap(), Role::Customs);
        for party in [&importer, &cbp] {
            ops::enroll(&op.client, &op.keys, &party.public())
                .await
                .unwrap();
        }
        Deployment {
            frontends,
            vkey: vkey.trim_end().to_owned(),
            importer,
            cbp,
            s3,
            location,
            _moto: moto,
            _dir: dir,
        }
    }

    /// Waits (at most 15 s) until exactly one frontend publishes; returns its position.
    async fn publisher(&self) -> usize {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let mut holders = Vec::new();
            for (i, f) in self.frontends.iter().enumerate() {
                if metric(&f.url, "tradeledger_bucket_publisher").await == 1 {
                    holders.push(i);
                }
            }
            match holders.as_slice() {
                [one] => return *one,
                more => {
                    assert!(more.len() < 2, "two frontends publish at once");
                    assert!(Instant::now() < deadline, "no frontend took the lease");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }

    /// The bucket's checkpoint bytes and size (0 without one).
    async fn bucket_checkpoint(&self) -> (Vec<u8>, u64) {
        bucket_checkpoint(&self.s3).await
    }
}

async fn bucket_checkpoint(s3: &tradeledger::bucket::S3) -> (Vec<u8>, u64) {
    let Some(object) = s3.get("checkpoint").await.unwrap() else {
        return (Vec::new(), 0);
    };
    let text = String::from_utf8(object.bytes.clone()).unwrap();
    let size = text.lines().nth(1).unwrap().parse().unwrap();
    (object.bytes, size)
}

/// A counter or gauge from `url`'s `/metrics`.
async fn metric(url: &str, name: &str) -> u64 {
    let body = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
        .parse()
        .unwrap()
}

/// `/checkpoint` of `url`, as served.
async fn served_checkpoint(url: &str) -> Vec<u8> {
    let response = reqwest::get(format!("{url}/checkpoint")).await.unwrap();
    response.bytes().await.unwrap().to_vec()
}

/// Waits (at most `bound`) until every frontend serves a checkpoint of one size, and returns it: with no
/// registrations coming in, the whole log's.
async fn all_serve_one_size(d: &Deployment, bound: Duration) -> u64 {
    let deadline = Instant::now() + bound;
    loop {
        let mut sizes = Vec::new();
        for f in &d.frontends {
            sizes.push(size(&f.url, &d.vkey).await);
        }
        if let [Some(first), rest @ ..] = sizes.as_slice()
            && rest.iter().all(|s| s == &Some(*first))
        {
            return *first;
        }
        assert!(
            Instant::now() < deadline,
            "the frontends serve {sizes:?} after {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (at most `bound`) until the bucket's checkpoint is byte for byte the one `url` serves; returns when.
async fn bucket_catches_up(d: &Deployment, url: &str, bound: Duration) -> Instant {
    let deadline = Instant::now() + bound;
    loop {
        let served = served_checkpoint(url).await;
        if d.bucket_checkpoint().await.0 == served {
            return Instant::now();
        }
        assert!(
            Instant::now() < deadline,
            "the bucket's checkpoint did not reach {url}'s within {bound:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_frontend_publishes_and_the_other_takes_over_after_kill_9() {
    let mut d = Deployment::start().await;
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<_> = d
        .frontends
        .iter()
        .map(|f| load(&d.importer, d.cbp.id(), &f.url, &d.vkey, &stop))
        .collect();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Both take registrations; one publishes, the other has not sent the bucket a single PUT.
    let holder = d.publisher().await;
    let standby = 1 - holder;
    assert!(metric(&d.frontends[holder].url, "tradeledger_bucket_puts_total").await > 0);
    assert_eq!(
        metric(&d.frontends[standby].url, "tradeledger_bucket_puts_total").await,
        0,
        "the standby frontend published too"
    );
    let killed = d.frontends.remove(holder);
    killed.kill9().await;
    let killed_at = Instant::now();
    let survivor = d.frontends.remove(0);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for task in loads {
        acked.extend(task.await.unwrap().0);
    }
    // The survivor takes the lease and brings the bucket to the log's final size within seconds of the kill.
    let caught_up = bucket_catches_up(&d, &survivor.url, Duration::from_secs(15)).await;
    let handover = caught_up - killed_at;
    eprintln!("bucket at the final size {handover:?} after the kill");
    assert!(handover < Duration::from_secs(8), "{handover:?}");
    assert_eq!(
        metric(&survivor.url, "tradeledger_bucket_publisher").await,
        1
    );
    assert!(metric(&survivor.url, "tradeledger_bucket_puts_total").await > 0);
    // Nothing acknowledged is lost: the bucket covers every acknowledgement, and each certificate opens.
    let (_, bucket_size) = d.bucket_checkpoint().await;
    let final_size = size(&survivor.url, &d.vkey).await.unwrap();
    assert_eq!(bucket_size, final_size);
    assert!(
        bucket_size >= 3 + acked.len() as u64,
        "{bucket_size} {}",
        acked.len()
    );
    open_all(&d.cbp, &survivor.url, &d.vkey, &acked).await;
    survivor.terminate(Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_holder_never_moves_the_checkpoint_back_after_it_resumes() {
    let d = Deployment::start().await;
    let stop = Arc::new(AtomicBool::new(false));
    let loads: Vec<_> = d
        .frontends
        .iter()
        .map(|f| load(&d.importer, d.cbp.id(), &f.url, &d.vkey, &stop))
        .collect();
    // A watcher of the bucket's checkpoint: its size must never go back.
    let largest = Arc::new(AtomicU64::new(0));
    let watching = Arc::new(AtomicBool::new(true));
    let watcher = {
        let (s3, largest, watching) = (
            tradeledger::bucket::S3::new(&d.location).unwrap(),
            largest.clone(),
            watching.clone(),
        );
        tokio::spawn(async move {
            loop {
                // Told to stop, it still reads once more: what the bucket holds by then is the largest.
                let last = !watching.load(Ordering::Relaxed);
                let (_, now) = bucket_checkpoint(&s3).await;
                let before = largest.fetch_max(now, Ordering::Relaxed);
                assert!(
                    now >= before,
                    "the bucket's checkpoint went back from {before} to {now}"
                );
                if last {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let holder = d.publisher().await;
    let (stalled, other) = (&d.frontends[holder], &d.frontends[1 - holder]);
    let puts_before = metric(&stalled.url, "tradeledger_bucket_puts_total").await;
    stalled.signal("STOP");
    let stopped_at = d.bucket_checkpoint().await.1;
    // The other takes over and publishes past where the stalled holder left the bucket.
    let deadline = Instant::now() + Duration::from_secs(15);
    while metric(&other.url, "tradeledger_bucket_publisher").await != 1
        || d.bucket_checkpoint().await.1 <= stopped_at
    {
        assert!(Instant::now() < deadline, "the standby did not take over");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stalled.signal("CONT");
    // Back, the ex-holder finds its lease gone: it stands by and writes no checkpoint (at most the rest of a
    // round's write-once tiles it was sending when stopped).
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        metric(&stalled.url, "tradeledger_bucket_publisher").await,
        0
    );
    let puts_after = metric(&stalled.url, "tradeledger_bucket_puts_total").await;
    assert!(
        puts_after <= puts_before + 8,
        "{puts_before} -> {puts_after}"
    );
    stop.store(true, Ordering::Relaxed);
    let mut acked = Vec::new();
    for task in loads {
        acked.extend(task.await.unwrap().0);
    }
    // The other serves the ex-holder's last entries once it has followed them.
    let final_size = all_serve_one_size(&d, Duration::from_secs(10)).await;
    bucket_catches_up(&d, &other.url, Duration::from_secs(10)).await;
    watching.store(false, Ordering::Relaxed);
    watcher.await.unwrap();
    assert!(final_size >= 3 + acked.len() as u64);
    assert_eq!(largest.load(Ordering::Relaxed), final_size);
}
