//! `bench`: the load generator of issue 4. Registers pre-sealed certificates (8 KiB body, three recipients:
//! the registrant, customs and a broker) with N concurrent clients against a running server (`--server` and
//! `--operator-key`) or an embedded one, then times opens (`GET .../sealed`, which logs an access receipt)
//! by the customs party. Sealing and request signing happen before each timed phase: they are the client's
//! cost, and on a shared 2-core machine they would otherwise compete with the server being measured.
//! Before the phases it times single-core Ed25519 verifies, the yardstick each phase is divided by (issue 12).
//! `--server A,B` loads several frontends of one database at once (issue 10), and every registration phase
//! also times acknowledgment to the first published checkpoint covering the entry.

mod load;
mod prepare;
mod published;
mod reference;
mod report;

use std::sync::Arc;

use anyhow::Context as _;
use vault::{PartyId, PartyKeys, Role};

use super::{BenchArgs, Global, output};
use crate::api::{Registered as RegisteredAnswer, Sealed};
use crate::server::{LocalServer, ServeConfig};
use load::Answer;
use prepare::{Parties, Registered};

/// Runs the benchmark and prints its table (or JSON).
pub(super) async fn bench(g: &Global, args: BenchArgs) -> anyhow::Result<()> {
    let loadavg_start = load::loadavg();
    let mut embedded = None;
    let mut scratch = None;
    let (url, operator) = match &g.server {
        Some(url) => {
            let path = args
                .operator_key
                .as_ref()
                .context("--server needs --operator-key FILE to enroll the benchmark's parties")?;
            let operator = PartyKeys::load(path)
                .with_context(|| format!("loading the operator key {}", path.display()))?;
            (url.clone(), operator)
        }
        None => {
            let data = match &args.data {
                Some(dir) => dir.clone(),
                None => {
                    // /var/tmp, not /tmp: a tmpfs /tmp would make every fsync free.
                    let dir = tempfile::Builder::new()
                        .prefix("tradeledger-bench-")
                        .tempdir_in("/var/tmp")
                        .context("creating a data directory under /var/tmp")?;
                    let path = dir.path().to_owned();
                    scratch = Some(dir);
                    path
                }
            };
            let operator = PartyKeys::generate(PartyId::new("bench-operator")?, Role::Operator);
            let server = LocalServer::start(ServeConfig::new(data, operator.public())).await?;
            let url = server.url.clone();
            embedded = Some(server);
            (url, operator)
        }
    };
    let urls: Vec<String> = url
        .split(',')
        .map(|u| u.trim().trim_end_matches('/').to_owned())
        .filter(|u| !u.is_empty())
        .collect();
    anyhow::ensure!(!urls.is_empty(), "--server names no URL");
    let result = run(g, &args, &urls, &operator, loadavg_start).await;
    if let Some(server) = embedded {
        server.stop().await?;
    }
    drop(scratch);
    result
}

async fn run(
    g: &Global,
    args: &BenchArgs,
    urls: &[String],
    operator: &PartyKeys,
    loadavg_start: Vec<f64>,
) -> anyhow::Result<()> {
    // Enrollment, the open check and the summary use the first server; the others share its database.
    let url = urls.first().context("a server URL")?.as_str();
    let checkpoints: Vec<String> = match &args.published {
        Some(published) => vec![published.clone()],
        None => urls.iter().map(|u| format!("{u}/checkpoint")).collect(),
    };
    let say = |text: String| {
        if !g.json {
            output::err_line(format_args!("{text}"));
        }
    };
    say("timing Ed25519 verify_strict on one core for 1 s ...".to_owned());
    let verifies = tokio::task::spawn_blocking(|| {
        reference::verifies_per_second(std::time::Duration::from_secs(1))
    })
    .await??;
    let parties = Arc::new(Parties::generate(args.importers)?);
    parties.enroll(url, operator).await?;
    let body = Arc::new(prepare::body(args.body_bytes)?);
    let body_len = vault::canonical_json(&body).len();
    say(format!(
        "enrolled {} importers, customs and broker; body {body_len} bytes",
        parties.importers.len()
    ));
    let http = reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(120))
        .build()?;

    let mut phases = Vec::new();
    let mut registered: Vec<Registered> = Vec::new();
    let mut request_bytes = 0;
    for &clients in &args.clients {
        say(format!(
            "sealing and signing {} registrations ...",
            args.count
        ));
        let (parties2, body2, count) = (Arc::clone(&parties), Arc::clone(&body), args.count);
        let prepared =
            tokio::task::spawn_blocking(move || prepare::registrations(&parties2, &body2, count))
                .await??;
        let (requests, certs): (Vec<_>, Vec<_>) = prepared.into_iter().unzip();
        request_bytes = requests.first().map_or(0, |r| r.body.len());
        say(format!("registering with {clients} clients ..."));
        let cpu_before = reference::server_cpu(&http, urls).await;
        let watch = published::Watch::start(&http, &checkpoints);
        let (mut phase, acks) = load::run(
            format!("register, {clients} clients"),
            &http,
            urls,
            reqwest::Method::POST,
            clients,
            requests,
            check_registered,
        )
        .await?;
        let cpu_after = reference::server_cpu(&http, urls).await;
        reference::apply(&mut phase, cpu_before, cpu_after, verifies);
        (
            phase.published_p50_ms,
            phase.published_p99_ms,
            phase.unpublished,
        ) = watch.finish(&acks).await;
        say(report::line(&phase));
        phases.push(phase);
        registered.extend(certs);
    }

    if args.opens > 0 && !registered.is_empty() {
        say(format!("signing {} opens ...", args.opens));
        let sample: Vec<Registered> = registered.iter().take(args.opens).cloned().collect();
        let customs = Arc::clone(&parties);
        let (opens, count) = (sample.clone(), args.opens);
        let requests =
            tokio::task::spawn_blocking(move || prepare::opens(&customs.customs, &opens, count))
                .await??;
        // Every certificate seals the same body, so every ciphertext has the same length.
        let expected = sample.first().map_or(0, |c| c.ciphertext_len);
        let cpu_before = reference::server_cpu(&http, urls).await;
        let (mut phase, _) = load::run(
            format!("open (GET sealed), {} clients", args.open_clients),
            &http,
            urls,
            reqwest::Method::GET,
            args.open_clients,
            requests,
            move |answer| check_sealed(answer, expected).map(|()| None),
        )
        .await?;
        let cpu_after = reference::server_cpu(&http, urls).await;
        reference::apply(&mut phase, cpu_before, cpu_after, verifies);
        say(report::line(&phase));
        phases.push(phase);
        verify_one_open(url, &parties.customs, &sample).await?;
    }

    report::print(
        g.json,
        &report::Summary {
            server: if g.server.is_some() {
                urls.join(",")
            } else {
                "embedded".to_owned()
            },
            body_bytes: body_len,
            request_bytes,
            importers: parties.importers.len(),
            ed25519_verifies_per_second: verifies,
            loadavg_start,
            loadavg_end: load::loadavg(),
            phases,
        },
    )
}

/// A registration answer must be 200 with the certificate id and an index (returned, to time its publication).
fn check_registered(answer: &Answer) -> Result<Option<u64>, String> {
    if answer.status != 200 {
        return Err(error_code(answer));
    }
    serde_json::from_slice::<RegisteredAnswer>(&answer.body)
        .map(|registered| Some(registered.index))
        .map_err(|_| "malformed_answer".to_owned())
}

/// An open answer must be 200 with a ciphertext of the registered length.
fn check_sealed(answer: &Answer, expected: usize) -> Result<(), String> {
    if answer.status != 200 {
        return Err(error_code(answer));
    }
    let sealed: Sealed =
        serde_json::from_slice(&answer.body).map_err(|_| "malformed_answer".to_owned())?;
    if sealed.ciphertext.0.len() != expected {
        return Err("wrong_ciphertext".to_owned());
    }
    Ok(())
}

fn error_code(answer: &Answer) -> String {
    serde_json::from_slice::<crate::server::ErrorBody>(&answer.body)
        .map(|e| e.error.code)
        .unwrap_or_else(|_| format!("http_{}", answer.status))
}

/// After the timed phase, one open is decrypted and checked against its commitment, so the figures are
/// known to come from a server that stored and returned the real thing.
async fn verify_one_open(
    url: &str,
    customs: &PartyKeys,
    sample: &[Registered],
) -> anyhow::Result<()> {
    let cert = sample.first().context("a registered certificate")?;
    let client =
        crate::client::Client::new(url)?.with_identity(customs.id(), customs.signing_key());
    let sealed: Sealed = client
        .get_signed(&format!("/v1/certificates/{}/sealed", cert.cert_id))
        .await?;
    vault::open_certificate(
        &cert.cert_id,
        &cert.commitment,
        customs,
        &sealed.envelope.0,
        &sealed.ciphertext.0,
    )
    .context("the opened certificate does not decrypt to its commitment")?;
    Ok(())
}
