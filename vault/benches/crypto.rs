//! Vault crypto throughput on one thread: sealing and opening 8 KiB certificates, commitments and
//! disclosure verification. Prints a table (operation, count, ops/s, ops per CPU-second, p50, p99).
//!
//! The machine this runs on is shared, so besides wall-clock ops/s the table gives ops per second of
//! CPU time actually granted to the benchmark thread (from /proc/thread-self/schedstat): what one
//! dedicated core would sustain. p50/p99 are wall-clock per call and include preemption.
//!
//! `cargo bench -p vault --bench crypto` (optionally `-- <seconds per row>`, default 2).
#![allow(clippy::unwrap_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use vault::{CertId, MasterSalt, PartyId, PartyKeys, Role};

/// Nanoseconds of CPU this thread has run (Linux schedstat), if available.
fn thread_cpu_ns() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// Runs `op` repeatedly for about `budget`, timing each call.
fn measure(name: &str, budget: Duration, mut op: impl FnMut()) {
    for _ in 0..20 {
        op();
    }
    let mut samples = Vec::new();
    let cpu_start = thread_cpu_ns();
    let start = Instant::now();
    while start.elapsed() < budget {
        let t = Instant::now();
        op();
        samples.push(t.elapsed());
    }
    let wall = start.elapsed().as_secs_f64();
    let count = samples.len() as f64;
    let per_cpu_sec = match (cpu_start, thread_cpu_ns()) {
        (Some(a), Some(b)) if b > a => format!("{:.0}", count / ((b - a) as f64 / 1e9)),
        _ => "n/a".to_owned(),
    };
    samples.sort_unstable();
    let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    println!(
        "| {name:<46} | {:>7} | {:>8.0} | {per_cpu_sec:>9} | {:>9.1} µs | {:>9.1} µs |",
        samples.len(),
        count / wall,
        pct(50).as_secs_f64() * 1e6,
        pct(99).as_secs_f64() * 1e6
    );
}

/// A certificate body whose canonical JSON is just over 8 KiB: header fields plus goods lines.
fn body_8k() -> Value {
    (1..)
        .map(body_with_lines)
        .find(|body| vault::canonical_json(body).len() >= 8192)
        .unwrap()
}

fn body_with_lines(n: u32) -> Value {
    let lines: Vec<Value> = (0..n)
        .map(|i| {
            json!({
                "description": format!("Line {i}: laminated electrical steel transformer cores, grade M{i:03}, cut to length, \
                     stacked and banded, for distribution transformers of 25 to 167 kVA, packed on wooden pallets"),
                "hs_code": "850440",
                "origin_criterion": "B",
                "quantity": 1000 + i,
                "net_cost": 1234.5 + f64::from(i),
                "country_of_origin": "MX",
            })
        })
        .collect();
    json!({
        "regime": "usmca",
        "certifier": {"role": "importer", "name": "Acme Imports LLC", "address": "1 Harbor Way, Long Beach, CA, US",
                      "phone": "+1-562-555-0100", "email": "compliance@acme.example"},
        "exporter": {"name": "Widgets SA de CV", "address": "Av. Industrial 200, Monterrey, NL, MX", "tax_id": "WSA010101AB1"},
        "producer": {"name": "Widgets SA de CV", "address": "Av. Industrial 200, Monterrey, NL, MX"},
        "importer": {"name": "Acme Imports LLC", "address": "1 Harbor Way, Long Beach, CA, US", "tax_id": "95-1234567"},
        "blanket_period": {"from": "2026-01-01", "to": "2026-12-31"},
        "invoice": "INV-2026-000123",
        "lines": lines,
        "signature": {"name": "Jane Doe", "title": "Compliance Manager", "date": "2026-11-20"},
    })
}

/// A flat certificate of exactly 200 fields.
fn body_200_fields() -> Value {
    let fields: serde_json::Map<String, Value> = (0..200)
        .map(|i| {
            (
                format!("field_{i:03}"),
                json!(format!("value number {i} of the certificate")),
            )
        })
        .collect();
    Value::Object(fields)
}

fn party(id: &str, role: Role) -> PartyKeys {
    PartyKeys::generate(PartyId::new(id).unwrap(), role)
}

fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2.0);
    let budget = Duration::from_secs_f64(secs);
    let body = body_8k();
    let body_len = vault::canonical_json(&body).len();
    let leaves = vault::commit(&body, &MasterSalt::generate())
        .unwrap()
        .leaf_count();
    println!(
        "8 KiB certificate: {body_len} bytes of canonical JSON, {leaves} fields; one thread\n"
    );
    println!(
        "| operation                                      |   count |    ops/s | ops/CPU-s |          p50 |          p99 |"
    );
    println!(
        "|------------------------------------------------|---------|----------|-----------|--------------|--------------|"
    );

    let registrant = party("acme", Role::Importer);
    let others: Vec<PartyKeys> = (0..9)
        .map(|i| party(&format!("party-{i}"), Role::Customs))
        .collect();
    let publics: Vec<_> = others.iter().map(PartyKeys::public).collect();
    let registrant_public = registrant.public();
    for envelopes in [1usize, 3, 5, 10] {
        let recipients = &publics[..envelopes - 1];
        measure(
            &format!("seal 8 KiB, {envelopes} envelope(s) incl. registrant"),
            budget,
            || {
                black_box(
                    vault::seal_certificate(
                        &CertId::random(),
                        &body,
                        &registrant_public,
                        recipients,
                    )
                    .unwrap(),
                );
            },
        );
    }

    let cert = CertId::random();
    let sealed =
        vault::seal_certificate(&cert, &body, &registrant.public(), &publics[..1]).unwrap();
    let envelope = &sealed.envelopes[1].envelope;
    measure("open 8 KiB (envelope + body + commitment)", budget, || {
        black_box(
            vault::open_certificate(
                &cert,
                &sealed.commitment,
                &others[0],
                envelope,
                &sealed.ciphertext,
            )
            .unwrap(),
        );
    });
    measure(
        "open 8 KiB (envelope + body, no commitment)",
        budget,
        || {
            let (key, _) = vault::unwrap(&cert, &others[0], envelope).unwrap();
            black_box(
                vault::open_body(&cert, &sealed.commitment, &key, &sealed.ciphertext).unwrap(),
            );
        },
    );
    let data_key = vault::DataKey::generate();
    let grant_salt = vault::GrantSalt::generate();
    let cbp = &others[0];
    let cbp_key = publics[0].encryption_key;
    measure("envelope wrap (HPKE seal)", budget, || {
        black_box(vault::wrap(&cert, cbp.id(), &cbp_key, &data_key, &grant_salt).unwrap());
    });
    measure("envelope unwrap (HPKE open)", budget, || {
        black_box(vault::unwrap(&cert, cbp, envelope).unwrap());
    });

    measure("commitment of the 8 KiB certificate", budget, || {
        black_box(vault::commit(&body, &sealed.master_salt).unwrap().root());
    });
    let wide = body_200_fields();
    let salt = MasterSalt::generate();
    measure("commitment of a 200-field certificate", budget, || {
        black_box(vault::commit(&wide, &salt).unwrap().root());
    });
    let committed = vault::commit(&wide, &salt).unwrap();
    let root = committed.root();
    let pointers: Vec<&str> = committed.pointers().step_by(20).collect();
    let disclosure = committed.disclose(&cert, &pointers).unwrap();
    measure(
        &format!("disclosure verify ({} of 200 fields)", pointers.len()),
        budget,
        || {
            disclosure.verify(&root).unwrap();
        },
    );
    let one = committed.disclose(&cert, &pointers[..1]).unwrap();
    measure("disclosure verify (1 of 200 fields)", budget, || {
        one.verify(&root).unwrap();
    });
}
