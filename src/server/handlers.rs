//! The signed, state-changing and secret-releasing requests.
//!
//! Each handler authenticates the request, checks the entry it carries, asks the policies, changes the vault,
//! and only then appends the entry: an entry on the log always describes stored state. If the append fails,
//! the vault change is undone where that is possible, and the client gets 503 and may retry. From the policy
//! decision to the append, a handler holds its certificate's (or the party registry's) critical section
//! ([`super::locks`]), so no other decision reads the state in between.

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ledger::{Entry, Hash, PartyId};
use vault::VaultStore as _;

use super::entry_request::{EntryRequest, same_certificate, wrong_kind};
use super::error::ApiError;
use super::lengths;
use super::policy;
use super::read::{blocking, parse_cert_id};
use super::registrar::Checked;
use super::signed::{self, Caller, SignedRequest};
use super::state::{AppState, LOG_PARTY};
use crate::api::{
    Appended, EnrollRequest, EnvelopeUpload, GrantRequest, PurgeRequest, RegisterRequest,
    Registered, RevokeRequest, sealed_digest,
};

type Answer<T> = Result<Json<T>, ApiError>;

/// `POST /v1/parties`: the operator enrolls a party.
pub(super) async fn enroll(
    State(state): State<Arc<AppState>>,
    req: SignedRequest,
) -> Answer<Appended> {
    blocking(move || {
        let EntryRequest { caller, entry, .. } = EntryRequest::<EnrollRequest>::read(&state, &req)?;
        let Entry::Enrollment {
            party,
            role,
            signing_key,
            replaces: None,
            ..
        } = entry.entry()
        else {
            return Err(wrong_kind(
                "expected a first enrollment entry (rotations go to /v1/parties/{id}/rotations)",
            ));
        };
        if party.as_str() == LOG_PARTY {
            return Err(ApiError::bad_request(
                "reserved_party_id",
                "that party id is reserved for the log",
            ));
        }
        policy::may_enroll(&state, &caller, party, *role)?;
        if ed25519_dalek::VerifyingKey::from_bytes(signing_key).is_err() {
            return Err(ApiError::bad_request(
                "bad_public_key",
                "the signing key is not a valid Ed25519 key",
            ));
        }
        // "Not enrolled yet" must still hold when the entry is appended.
        let _enrolling = state.decide_on_parties()?;
        if state.registry.party(party).is_some() {
            return Err(ApiError::conflict(
                "already_enrolled",
                "that party is already enrolled",
            ));
        }
        let index = state.append(&entry)?;
        let parties = state.registry.party_count();
        state.replay.set_party_count(parties);
        Ok(Json(Appended { index }))
    })
    .await?
}

/// `POST /v1/certificates`: a registrant stores a sealed certificate and logs its registration.
///
/// The checks run on the check threads ([`CpuPool`]); storing and logging go through the [`Registrar`] pipeline, which
/// batches them with other registrations and answers once the certificate is durable in the vault and then
/// its entry in the log.
///
/// [`CpuPool`]: super::cpu::CpuPool
/// [`Registrar`]: super::registrar::Registrar
pub(super) async fn register(
    State(state): State<Arc<AppState>>,
    req: SignedRequest,
) -> Answer<Registered> {
    let started = Instant::now();
    let answer = async {
        let checking = state.clone();
        let (cert_id, pending) = state
            .cpu
            .run(move || {
                let checked = check_registration(&checking, &req)?;
                let cert_id = checked.cert_id;
                Ok::<_, ApiError>((cert_id, checking.registrar.submit(&checking, checked)?))
            })
            .await??;
        let index = pending.index().await?;
        Ok(Json(Registered {
            cert_id: cert_id.to_string(),
            index,
        }))
    }
    .await;
    state.metrics.register_latency.observe(started.elapsed());
    answer
}

/// Everything a registration must pass before anything is stored: the request signature, the entry (signed
/// by the caller, in its own name, current), the envelopes against the entry's grants, enrolled recipients,
/// the policies, and a certificate id not yet registered. An entry of kind `0x08` binds the uploads itself,
/// and its signature stands in for the request's ([`signed::sealed_registration`]).
fn check_registration(state: &AppState, req: &SignedRequest) -> Result<Checked, ApiError> {
    let request: RegisterRequest = match req.json() {
        Ok(request) => request,
        Err(error) => {
            // An unsigned or forged request is told so before anything about its body.
            req.caller(state)?;
            return Err(error);
        }
    };
    let digest = || sealed_digest(&request.ciphertext.0, &request.envelopes);
    let (caller, entry) = match signed::sealed_registration(state, req, &request.entry.0, digest) {
        Some(checked) => checked?,
        None => {
            let caller = req.caller(state)?;
            let entry = signed::caller_entry(state, &caller, &request.entry.0)?;
            (caller, entry)
        }
    };
    let Entry::Registration {
        cert_id,
        registrant,
        grants,
        ..
    } = entry.entry()
    else {
        return Err(wrong_kind("expected a registration entry"));
    };
    if registrant != &caller.id {
        return Err(ApiError::forbidden(
            "registrant_mismatch",
            "a party registers in its own name only",
        ));
    }
    let cert_id = *cert_id;
    lengths::check_ciphertext("ciphertext", &request.ciphertext.0)?;
    lengths::check_envelopes(&request.envelopes)?;
    check_envelopes(&caller, grants, &request.envelopes)?;
    let recipients = recipient_roles(state, &request.envelopes)?;
    policy::may_register(state, &caller, &cert_id, &recipients)?;
    if state.registry.certificate(&cert_id)?.is_some() {
        return Err(ApiError::conflict(
            "already_registered",
            "a certificate with that id exists",
        ));
    }
    let envelopes = request
        .envelopes
        .iter()
        .map(|e| (e.party.clone(), frame(&e.grant.0, &e.envelope.0)))
        .collect();
    Ok(Checked {
        cert_id,
        ciphertext: request.ciphertext.0,
        envelopes,
        entry,
    })
}

/// `POST /v1/certificates/{id}/grants`: the registrant adds a reader.
pub(super) async fn grant(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Answer<Appended> {
    blocking(move || {
        let cert_id = parse_cert_id(&id)?;
        let EntryRequest {
            caller,
            body: request,
            entry,
        } = EntryRequest::<GrantRequest>::read(&state, &req)?;
        let Entry::Grant {
            cert_id: granted,
            grant,
            ..
        } = entry.entry()
        else {
            return Err(wrong_kind("expected a grant entry"));
        };
        same_certificate(granted, &cert_id)?;
        lengths::check_envelope("envelope", &request.envelope)?;
        if grant.as_slice() != request.envelope.grant.0.as_slice() {
            return Err(ApiError::bad_request(
                "grant_mismatch",
                "the envelope's grant commitment differs from the entry's",
            ));
        }
        let grantee = recipient_roles(&state, std::slice::from_ref(&request.envelope))?;
        let grantee = grantee.first().ok_or_else(ApiError::internal)?;
        let _deciding = state.decide_on(&cert_id)?;
        policy::may_grant(&state, &caller, &cert_id, grantee)?;
        let id = cert_id;
        let party = request.envelope.party.as_str();
        if state
            .vault
            .get_envelope(id, party)
            .map_err(vault_error)?
            .is_some()
        {
            return Err(ApiError::conflict(
                "already_granted",
                "that party already holds a grant",
            ));
        }
        let framed = frame(&request.envelope.grant.0, &request.envelope.envelope.0);
        state
            .vault
            .add_envelope(id, party, &framed)
            .map_err(vault_error)?;
        let index = state.append(&entry).inspect_err(|_| {
            let _ = state.vault.remove_envelope(id, party);
        })?;
        Ok(Json(Appended { index }))
    })
    .await?
}

/// `POST /v1/certificates/{id}/revocations`: the registrant removes a reader.
pub(super) async fn revoke(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Answer<Appended> {
    blocking(move || {
        let cert_id = parse_cert_id(&id)?;
        let EntryRequest {
            caller,
            body: request,
            entry,
        } = EntryRequest::<RevokeRequest>::read(&state, &req)?;
        let Entry::Revocation {
            cert_id: revoked,
            grant: revoked_grant,
            ..
        } = entry.entry()
        else {
            return Err(wrong_kind("expected a revocation entry"));
        };
        same_certificate(revoked, &cert_id)?;
        let revokee = PartyId::new(&request.party)
            .map_err(|_| ApiError::bad_request("bad_party_id", "malformed party id"))?;
        let _deciding = state.decide_on(&cert_id)?;
        policy::may_revoke(&state, &caller, &cert_id, &revokee)?;
        let id = cert_id;
        let stored = state
            .vault
            .get_envelope(id, revokee.as_str())
            .map_err(vault_error)?
            .ok_or_else(|| {
                ApiError::not_found(
                    "not_granted",
                    "that party holds no grant for this certificate",
                )
            })?;
        let (grant, _) = unframe(&stored)?;
        if &grant != revoked_grant {
            return Err(ApiError::bad_request(
                "grant_mismatch",
                "the entry's grant commitment is not that party's",
            ));
        }
        state
            .vault
            .remove_envelope(id, revokee.as_str())
            .map_err(vault_error)?;
        let index = state.append(&entry).inspect_err(|_| {
            let _ = state.vault.add_envelope(id, revokee.as_str(), &stored);
        })?;
        Ok(Json(Appended { index }))
    })
    .await?
}

/// `POST /v1/certificates/{id}/purge`: the registrant deletes the body and every envelope for good.
pub(super) async fn purge(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Answer<Appended> {
    blocking(move || {
        let cert_id = parse_cert_id(&id)?;
        let EntryRequest { caller, entry, .. } = EntryRequest::<PurgeRequest>::read(&state, &req)?;
        let Entry::Purge {
            cert_id: purged, ..
        } = entry.entry()
        else {
            return Err(wrong_kind("expected a purge entry"));
        };
        same_certificate(purged, &cert_id)?;
        let _deciding = state.decide_on(&cert_id)?;
        policy::may_purge(&state, &caller, &cert_id)?;
        state.vault.purge(cert_id).map_err(vault_error)?;
        let index = state.append(&entry)?;
        Ok(Json(Appended { index }))
    })
    .await?
}

/// The registrant's envelopes must match the entry's grant commitments one to one, include its own, and name
/// each party once.
fn check_envelopes(
    caller: &Caller,
    grants: &[Hash],
    envelopes: &[EnvelopeUpload],
) -> Result<(), ApiError> {
    let uploaded: Vec<&[u8]> = envelopes.iter().map(|e| e.grant.0.as_slice()).collect();
    let logged: Vec<&[u8]> = grants.iter().map(|g| g.as_slice()).collect();
    if uploaded != logged {
        return Err(ApiError::bad_request(
            "grant_mismatch",
            "the envelopes' grant commitments must be the entry's, in the same order",
        ));
    }
    let mut parties: Vec<&str> = envelopes.iter().map(|e| e.party.as_str()).collect();
    parties.sort_unstable();
    if parties.windows(2).any(|w| w[0] == w[1]) {
        return Err(ApiError::bad_request(
            "duplicate_recipient",
            "each recipient may appear once",
        ));
    }
    if !parties.contains(&caller.id.as_str()) {
        return Err(ApiError::bad_request(
            "missing_own_envelope",
            "the registrant must keep an envelope of its own",
        ));
    }
    Ok(())
}

/// The enrolled recipients of some envelopes, with their roles.
pub(super) fn recipient_roles(
    state: &AppState,
    envelopes: &[EnvelopeUpload],
) -> Result<Vec<(PartyId, ledger::Role)>, ApiError> {
    envelopes
        .iter()
        .map(|e| {
            let id = PartyId::new(&e.party).map_err(|_| {
                ApiError::bad_request("bad_party_id", "malformed recipient party id")
            })?;
            let role = state
                .look_up(|registry| Ok(registry.party(&id).map(|p| p.role)))?
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "unknown_recipient",
                        format!("recipient {id} is not enrolled"),
                    )
                })?;
            Ok((id, role))
        })
        .collect()
}

/// The vault stores, per recipient, the grant commitment (public, it is on the log) beside the envelope, so
/// the service can log access receipts and check revocations without an index of its own.
pub(super) fn frame(grant: &[u8], envelope: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(grant.len() + envelope.len());
    out.extend_from_slice(grant);
    out.extend_from_slice(envelope);
    out
}

pub(super) fn unframe(stored: &[u8]) -> Result<(Hash, &[u8]), ApiError> {
    let (grant, envelope) = stored.split_at_checked(32).ok_or_else(ApiError::internal)?;
    let grant: Hash = grant.try_into().map_err(|_| ApiError::internal())?;
    Ok((grant, envelope))
}

/// The answer to a vault error: refusals by what was refused, anything else 503 (logged).
pub(super) fn vault_error(error: vault::StoreError) -> ApiError {
    use vault::StoreError as E;
    match error {
        E::TooLarge => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            "ciphertext or envelope too large",
        ),
        E::InvalidParty => ApiError::bad_request("bad_party_id", "malformed recipient party id"),
        E::DuplicateRecipient(_) => {
            ApiError::bad_request("duplicate_recipient", "each recipient may appear once")
        }
        E::AlreadyExists(_) => {
            ApiError::conflict("already_registered", "a certificate with that id exists")
        }
        E::NotFound(_) => {
            ApiError::not_found("unknown_certificate", "no such certificate in the vault")
        }
        E::Purged(_) => ApiError::new(
            StatusCode::GONE,
            "purged",
            "the certificate body was purged",
        ),
        other => {
            tracing::error!(error = %other, "vault operation failed");
            ApiError::unavailable()
        }
    }
}
