//! Issue 12's yardstick: single-core Ed25519 `verify_strict`s per second with the project's own crate, and
//! the server's CPU per request (from its `/metrics`) expressed in those verifies, so that runs on different
//! machines compare.

use std::time::{Duration, Instant};

use ed25519_dalek::{Signer as _, SigningKey};

use super::load::Phase;

/// A request signature base of the registration's shape and length (RFC 9421 §2.5, as `httpsig` builds it).
const SIGNATURE_BASE: &str = "\"@method\": POST\n\"@path\": /v1/certificates\n\"@query\": ?\n\
    \"content-digest\": sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:\n\
    \"@signature-params\": (\"@method\" \"@path\" \"@query\" \"content-digest\");created=1764626400;\
    nonce=\"q4Vb2yWm7Tn0Xc9rLz1pJg\";keyid=\"bench-importer-0\";alg=\"ed25519\"";

/// Verifies one signature over [`SIGNATURE_BASE`] on this thread for about `budget`; returns verifies per
/// second. Blocking: run it on a blocking thread, before the load starts.
pub(super) fn verifies_per_second(budget: Duration) -> anyhow::Result<f64> {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key();
    let message = SIGNATURE_BASE.as_bytes();
    let signature = key.sign(message);
    let started = Instant::now();
    let mut done: u32 = 0;
    while started.elapsed() < budget {
        for _ in 0..64 {
            public
                .verify_strict(std::hint::black_box(message), &signature)
                .map_err(|_| anyhow::anyhow!("the reference signature does not verify"))?;
        }
        done += 64;
    }
    Ok(f64::from(done) / started.elapsed().as_secs_f64())
}

/// The servers' CPU seconds so far, summed over their `/metrics`; `None` if one cannot be read.
pub(super) async fn server_cpu(http: &reqwest::Client, urls: &[String]) -> Option<f64> {
    let mut total = 0.0;
    for url in urls {
        total += one_server_cpu(http, url).await?;
    }
    Some(total)
}

async fn one_server_cpu(http: &reqwest::Client, url: &str) -> Option<f64> {
    let response = http.get(format!("{url}/metrics")).send().await.ok()?;
    let text = response.error_for_status().ok()?.text().await.ok()?;
    crate::server::parse_process_cpu(&text)
}

/// Adds the server's CPU per request (between the two readings) and the ratios to `phase`.
pub(super) fn apply(phase: &mut Phase, before: Option<f64>, after: Option<f64>, verifies: f64) {
    let sent = phase.sent as f64;
    if let (Some(before), Some(after)) = (before, after)
        && sent > 0.0
    {
        let us = (after - before).max(0.0) * 1e6 / sent;
        phase.server_cpu_us_per_request = Some(us);
        phase.server_cpu_verifies_per_request = (verifies > 0.0).then(|| us * verifies / 1e6);
    }
    if verifies > 0.0 {
        phase.ops_per_verify = phase.per_second / verifies;
    }
}
