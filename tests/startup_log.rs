//! Fills an existing deployment's log with registration entries, cheaply, for docs/performance.md's start-up
//! figures (issue 10 item 5): start `serve` once on DATA (it creates the log key and enrolls the operator),
//! stop it, run this, then time the next `serve` until it answers /checkpoint. Entries go straight through
//! the ledger's `Log` (the file store, or `PgStore` with TL_FILL_POSTGRES) in large batches, signed by one
//! enrolled importer: exactly what start-up replays. Bodies are not uploaded (start-up never reads the vault).
//!
//! TL_FILL_DATA=DIR TL_FILL_OPERATOR_KEY=op.key [TL_FILL_POSTGRES=URL] [TL_FILL_COUNT=1000000] \
//!   cargo test --release --test startup_log -- --ignored --nocapture

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ledger::{CertId, Entry, FsStore, Log, NoteSigner, PartyId, PgStore, Role, SignedEntry};
use vault::PartyKeys;

const BATCH: usize = 10_000;

#[test]
#[ignore = "fills a deployment for the start-up figures; run by hand (docs/performance.md)"]
fn fill_log_with_registrations() {
    let var = |name: &str| std::env::var(name).ok();
    let data = std::path::PathBuf::from(var("TL_FILL_DATA").expect("TL_FILL_DATA=DIR"));
    let operator = PartyKeys::load(&std::path::PathBuf::from(
        var("TL_FILL_OPERATOR_KEY").expect("TL_FILL_OPERATOR_KEY=FILE"),
    ))
    .expect("loading the operator key");
    let count: u64 = var("TL_FILL_COUNT").map_or(1_000_000, |n| n.parse().expect("a count"));
    let key_text = std::fs::read_to_string(data.join("log.key")).expect("DATA/log.key");
    let signer = NoteSigner::from_signer_key(key_text.trim_end()).expect("a log key");
    let origin = signer.name().to_owned();
    let log = match var("TL_FILL_POSTGRES") {
        Some(url) => {
            let pool = vault::PgPool::connect(&url, 2).expect("connecting to PostgreSQL");
            Log::open(PgStore::open(pool).expect("PgStore"), signer, &origin)
        }
        None => Log::open(
            FsStore::open(data.join("log")).expect("FsStore"),
            signer,
            &origin,
        ),
    }
    .expect("opening the log");
    assert!(log.size() > 0, "start serve on DATA once first");

    let importer = PartyKeys::generate(PartyId::new("fill-importer").unwrap(), Role::Importer);
    let public = importer.public();
    let enrollment = Entry::Enrollment {
        party: importer.id().clone(),
        role: Role::Importer,
        signing_key: public.signing_key.to_bytes(),
        encryption_key: public.encryption_key.to_bytes(),
        replaces: None,
        time_ms: now_ms(),
    };
    let signed =
        SignedEntry::sign(enrollment, operator.id().clone(), operator.signing_key()).unwrap();
    log.append(signed.encode()).expect("enrolling the importer");

    let started = Instant::now();
    let mut done = 0;
    while done < count {
        let n = BATCH.min(usize::try_from(count - done).unwrap());
        let batch: Vec<Vec<u8>> = (0..n)
            .map(|_| {
                let entry = Entry::Registration {
                    cert_id: CertId::random(),
                    commitment: rand::random(),
                    registrant: importer.id().clone(),
                    grants: vec![rand::random(), rand::random(), rand::random()],
                    sealed: Some(rand::random()),
                    time_ms: now_ms(),
                };
                SignedEntry::sign(entry, importer.id().clone(), importer.signing_key())
                    .unwrap()
                    .encode()
            })
            .collect();
        log.append_batch(batch).expect("appending a batch");
        done += n as u64;
        if done % 100_000 == 0 {
            eprintln!("{done} entries in {:.0} s", started.elapsed().as_secs_f64());
        }
    }
    eprintln!("log size {} ({count} registrations added)", log.size());
    log.close().expect("closing the log");
}

fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    u64::try_from(since.as_millis()).unwrap()
}
