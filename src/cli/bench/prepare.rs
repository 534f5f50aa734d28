//! Everything the load generator does before a timed phase: the parties, an 8 KiB certificate body, and the
//! sealed, signed requests. Sealing (HPKE per recipient) and signing are the client's cost, so they are done
//! here, on every core, and only sending is timed.

use std::sync::Arc;

use anyhow::Context as _;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue};
use serde_json::{Value, json};
use vault::{CertId, PartyId, PartyKeys, PartyPublic, Role};

use crate::api::{B64, EnvelopeUpload, RegisterRequest, sealed_digest};
use crate::client::Client;
use crate::client::ops;

/// The example the body is grown from: a blanket USMCA certification with a list of goods.
const EXAMPLE: &str = include_str!("../../../docs/examples/usmca-blanket-various.json");

/// The benchmark's parties: registrants, and the customs and broker recipients of every certificate.
pub(super) struct Parties {
    pub(super) importers: Vec<PartyKeys>,
    pub(super) customs: PartyKeys,
    pub(super) broker: PartyKeys,
}

impl Parties {
    /// Fresh parties under a random tag, so that runs against one server never collide.
    pub(super) fn generate(importers: usize) -> anyhow::Result<Parties> {
        let tag = hex::encode(rand::random::<[u8; 4]>());
        let party = |name: String, role| -> anyhow::Result<PartyKeys> {
            Ok(PartyKeys::generate(PartyId::new(&name)?, role))
        };
        Ok(Parties {
            importers: (0..importers.max(1))
                .map(|i| party(format!("bench-{tag}-importer-{i:02}"), Role::Importer))
                .collect::<anyhow::Result<_>>()?,
            customs: party(format!("bench-{tag}-cbp"), Role::Customs)?,
            broker: party(format!("bench-{tag}-broker"), Role::Broker)?,
        })
    }

    /// Enrolls every party, signed by the operator.
    pub(super) async fn enroll(&self, url: &str, operator: &PartyKeys) -> anyhow::Result<()> {
        let client = Client::new(url)?.with_identity(operator.id(), operator.signing_key());
        let all = self.importers.iter().chain([&self.customs, &self.broker]);
        for party in all {
            ops::enroll(&client, operator, &party.public())
                .await
                .with_context(|| format!("enrolling {}", party.id()))?;
        }
        Ok(())
    }
}

/// A certificate body of at least `bytes` bytes of canonical JSON: the example with more goods lines. It
/// passes the certificate schema, as a real client checks before sealing.
pub(super) fn body(bytes: usize) -> anyhow::Result<Value> {
    let mut body: Value = serde_json::from_str(EXAMPLE).context("the embedded example")?;
    let mut line = 0u32;
    while vault::canonical_json(&body).len() < bytes {
        line += 1;
        let item = json!({
            "description": format!("Fresh produce, mixed pallet lot {line:04}, field-packed 25 lb cartons"),
            "hs_code": "0709.60",
            "origin_criterion": "A",
            "country_of_origin": "MX",
        });
        body.get_mut("goods")
            .and_then(Value::as_array_mut)
            .context("the goods list")?
            .push(item);
    }
    ops::check_certificate(&body)
        .map_err(|e| anyhow::anyhow!("the benchmark body is invalid: {:?}", e.0))?;
    Ok(body)
}

/// One request, ready to send: path, signed headers and body.
pub(super) struct Prepared {
    pub(super) path: String,
    pub(super) headers: HeaderMap,
    pub(super) body: Vec<u8>,
}

/// A registered certificate the open phase can fetch, with what is needed to check the answer.
#[derive(Clone)]
pub(super) struct Registered {
    pub(super) cert_id: CertId,
    pub(super) commitment: ledger::Hash,
    pub(super) ciphertext_len: usize,
}

/// Seals `count` certificates (registrant, customs, broker) and signs their registration requests, spread
/// round-robin over the importers, on every core.
pub(super) fn registrations(
    parties: &Arc<Parties>,
    body: &Arc<Value>,
    count: usize,
) -> anyhow::Result<Vec<(Prepared, Registered)>> {
    parallel(count, |i| {
        let importer = parties
            .importers
            .get(i % parties.importers.len())
            .context("an importer")?;
        registration(
            importer,
            &parties.customs.public(),
            &parties.broker.public(),
            body,
        )
    })
}

fn registration(
    importer: &PartyKeys,
    customs: &PartyPublic,
    broker: &PartyPublic,
    body: &Value,
) -> anyhow::Result<(Prepared, Registered)> {
    let cert_id = CertId::random();
    let mut sealed = vault::seal_certificate(
        &cert_id,
        body,
        &importer.public(),
        &[customs.clone(), broker.clone()],
    )?;
    // Ordered by commitment, as the client does, so the entry's order says nothing about who is who.
    sealed.envelopes.sort_by_key(|e| e.grant_commitment);
    let grants = sealed
        .envelopes
        .iter()
        .map(|e| e.grant_commitment)
        .collect();
    let envelopes: Vec<EnvelopeUpload> = sealed
        .envelopes
        .into_iter()
        .map(|e| EnvelopeUpload {
            party: e.party.to_string(),
            envelope: B64(e.envelope),
            grant: B64(e.grant_commitment.to_vec()),
        })
        .collect();
    // As the client does: the entry binds the uploads, so the server checks one signature.
    let entry = ledger::Entry::Registration {
        cert_id,
        commitment: sealed.commitment,
        registrant: importer.id().clone(),
        grants,
        sealed: Some(sealed_digest(&sealed.ciphertext, &envelopes)),
        time_ms: now_ms(),
    };
    let entry = ledger::SignedEntry::sign(entry, importer.id().clone(), importer.signing_key())?;
    let registered = Registered {
        cert_id,
        commitment: sealed.commitment,
        ciphertext_len: sealed.ciphertext.len(),
    };
    let request = RegisterRequest {
        entry: B64(entry.encode()),
        ciphertext: B64(sealed.ciphertext),
        envelopes,
    };
    let body = serde_json::to_vec(&request)?;
    let path = "/v1/certificates".to_owned();
    let mut headers = signed_headers("POST", &path, &body, importer)?;
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok((
        Prepared {
            path,
            headers,
            body,
        },
        registered,
    ))
}

/// Signs `count` opens of the given certificates (round-robin) by the customs party.
pub(super) fn opens(
    customs: &PartyKeys,
    certs: &[Registered],
    count: usize,
) -> anyhow::Result<Vec<Prepared>> {
    anyhow::ensure!(!certs.is_empty(), "no registered certificate to open");
    parallel(count, |i| {
        let cert = certs.get(i % certs.len()).context("a certificate")?;
        let path = format!("/v1/certificates/{}/sealed", cert.cert_id);
        let headers = signed_headers("GET", &path, &[], customs)?;
        Ok(Prepared {
            path,
            headers,
            body: Vec::new(),
        })
    })
}

fn signed_headers(
    method: &str,
    path: &str,
    body: &[u8],
    party: &PartyKeys,
) -> anyhow::Result<HeaderMap> {
    let signed = crate::httpsig::sign_request(
        method,
        path,
        body,
        party.id().as_str(),
        party.signing_key(),
        crate::httpsig::unix_now(),
    )?;
    let mut headers = HeaderMap::new();
    for (name, value) in signed {
        headers.insert(name, HeaderValue::from_str(&value)?);
    }
    Ok(headers)
}

/// Runs `make(0..count)` on every core, keeping the order.
fn parallel<T: Send>(
    count: usize,
    make: impl Fn(usize) -> anyhow::Result<T> + Sync,
) -> anyhow::Result<Vec<T>> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = count.div_ceil(threads).max(1);
    let make = &make;
    let parts: Vec<anyhow::Result<Vec<T>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..count)
            .step_by(chunk)
            .map(|start| {
                scope.spawn(move || (start..(start + chunk).min(count)).map(make).collect())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a preparing thread panicked")))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(count);
    for part in parts {
        out.extend(part?);
    }
    Ok(out)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
