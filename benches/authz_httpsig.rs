//! Per-request cost of the service's admission checks: Cedar authorization and request-signature verification.
//!
//! `cargo bench -p tradeledger --bench authz_httpsig` prints one row per operation: count, ops/s, p50, p99.
#![allow(clippy::unwrap_used, missing_docs)]

use std::path::Path;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use http::{HeaderMap, HeaderValue};
use tradeledger::authz::{Action, Authorizer, CertificateInfo, PartyInfo, Role};
use tradeledger::httpsig::{ReplayGuard, sign_request, unix_now, verify_request};

fn measure(name: &str, count: usize, mut op: impl FnMut(usize)) {
    let mut samples = Vec::with_capacity(count);
    let start = Instant::now();
    for i in 0..count {
        let t = Instant::now();
        op(i);
        samples.push(t.elapsed());
    }
    let total = start.elapsed();
    samples.sort();
    let pct = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    let rate = count as f64 / total.as_secs_f64();
    println!(
        "{name:<40} {count:>8} {rate:>12.0} {:>10} {:>10}",
        fmt(pct(50)),
        fmt(pct(99))
    );
}

fn fmt(d: Duration) -> String {
    format!("{:.1} us", d.as_secs_f64() * 1e6)
}

fn main() {
    let authz = Authorizer::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")).unwrap();
    let party = |id: &str, role| PartyInfo {
        id: id.to_owned(),
        role,
    };
    let importer = party("acme-imports", Role::Importer);
    let cbp = party("cbp", Role::Customs);
    let broker = party("brokerage-1", Role::Broker);
    let auditor = party("audit-co", Role::Auditor);
    let cert = CertificateInfo {
        id: "00112233445566778899aabbccddeeff".to_owned(),
        registrant: importer.id.clone(),
        recipients: vec![
            cbp.clone(),
            broker.clone(),
            party("partner", Role::Exporter),
        ],
        purged: false,
    };

    println!(
        "{:<40} {:>8} {:>12} {:>10} {:>10}",
        "operation", "count", "ops/s", "p50", "p99"
    );
    measure("authz register (3 recipients), allowed", 20_000, |_| {
        assert!(
            authz
                .decide(Some(&importer), &Action::Register { certificate: &cert })
                .is_allowed()
        );
    });
    measure("authz fetch_envelope, allowed", 20_000, |_| {
        assert!(
            authz
                .decide(Some(&cbp), &Action::FetchEnvelope { certificate: &cert })
                .is_allowed()
        );
    });
    measure("authz fetch_envelope by auditor, denied", 20_000, |_| {
        assert!(
            !authz
                .decide(
                    Some(&auditor),
                    &Action::FetchEnvelope { certificate: &cert }
                )
                .is_allowed()
        );
    });

    let key = SigningKey::from_bytes(&[7; 32]);
    let vkey = key.verifying_key();
    let body = vec![0x5a; 8192];
    let now = unix_now();
    measure("httpsig sign_request (8 KiB body)", 5_000, |_| {
        sign_request("POST", "/v1/certificates", &body, "acme-imports", &key, now).unwrap();
    });
    let signed: Vec<HeaderMap> = (0..5_000)
        .map(|_| {
            let mut h = HeaderMap::new();
            for (name, value) in
                sign_request("POST", "/v1/certificates", &body, "acme-imports", &key, now).unwrap()
            {
                h.insert(name, HeaderValue::from_str(&value).unwrap());
            }
            h
        })
        .collect();
    let guard = ReplayGuard::default();
    let lookup = |p: &String| (p == "acme-imports").then_some(vkey);
    measure("httpsig verify_request (8 KiB body)", signed.len(), |i| {
        verify_request(
            "POST",
            "/v1/certificates",
            &signed[i],
            &body,
            now,
            lookup,
            &guard,
        )
        .unwrap();
    });
}
