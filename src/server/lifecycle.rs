//! The lifecycle requests: the registrant's grant list, a certificate's access receipts, party key rotation
//! (operator, with the party's consent) and re-wrapping a reader's grant for its new key.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use ledger::{Entry, PartyId, Role};
use vault::VaultStore as _;

use super::entry_request::{EntryRequest, same_certificate, wrong_kind};
use super::error::ApiError;
use super::handlers::{frame, recipient_roles, unframe, vault_error};
use super::lengths;
use super::policy;
use super::read::{blocking, parse_cert_id};
use super::signed::{self, SignedRequest};
use super::state::AppState;
use crate::api::{
    Appended, B64, GrantList, GrantRecord, ReceiptIndexes, RewrapRequest, Rewrapped, RotateRequest,
};

type Answer<T> = Result<Json<T>, ApiError>;

/// `GET /v1/certificates/{id}/grants`, signed by the registrant: which party holds which grant commitment.
///
/// The service keeps each grant commitment beside its envelope, so this is what the vault holds now: active
/// grants, the registrant's own included; revoked grants are gone with their envelopes.
pub(super) async fn list_grants(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Answer<GrantList> {
    blocking(move || {
        let cert_id = parse_cert_id(&id)?;
        let caller = req.caller(&state)?;
        policy::may_list_grants(&state, &caller, &cert_id)?;
        let mut grants = Vec::new();
        for party in state.vault.list_recipients(cert_id).map_err(vault_error)? {
            // A recipient revoked between the listing and this read simply drops out.
            if let Some(stored) = state
                .vault
                .get_envelope(cert_id, &party)
                .map_err(vault_error)?
            {
                let (grant, _) = unframe(&stored)?;
                grants.push(GrantRecord {
                    party,
                    grant: B64(grant.to_vec()),
                });
            }
        }
        Ok(Json(GrantList {
            cert_id: cert_id.to_string(),
            grants,
        }))
    })
    .await?
}

/// `GET /v1/certificates/{id}/receipts`: the log indexes of a certificate's access receipts. Public, as the
/// receipts themselves are; a client verifies each entry under a checkpoint before relying on it.
pub(super) async fn receipts(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Answer<ReceiptIndexes> {
    let cert_id = parse_cert_id(&id)?;
    let indexes = super::follow::look_up(&state, move |registry| Ok(registry.receipts(&cert_id)?))
        .await?
        .ok_or_else(|| ApiError::not_found("unknown_certificate", "no such certificate"))?;
    Ok(Json(ReceiptIndexes {
        cert_id: cert_id.to_string(),
        indexes,
    }))
}

/// `POST /v1/parties/{id}/rotations`, signed by the operator: appends a rotation entry (signed by the
/// operator, carrying the party's consent signed by its current key). From then on the party's old key is
/// refused for requests and entries, and never accepted again.
pub(super) async fn rotate(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Answer<Appended> {
    blocking(move || {
        let path_party = PartyId::new(&id)
            .map_err(|_| ApiError::bad_request("bad_party_id", "malformed party id"))?;
        let EntryRequest { caller, entry, .. } = EntryRequest::<RotateRequest>::read(&state, &req)?;
        let Entry::Rotation {
            party,
            role,
            signing_key,
            replaces,
            ..
        } = entry.entry()
        else {
            return Err(wrong_kind("expected a rotation entry"));
        };
        if *party != path_party {
            return Err(ApiError::bad_request(
                "party_mismatch",
                "the entry rotates another party than the path names",
            ));
        }
        // Rotating is enrolling the party anew: the same question to the policies (operator only).
        policy::may_enroll(&state, &caller, party, *role)?;
        // The key it replaces must still be the current one when the rotation is appended.
        let _enrolling = state.decide_on_parties()?;
        let current = state
            .registry
            .party(party)
            .ok_or_else(|| ApiError::not_found("unknown_party", "no such party"))?;
        if current.role == Role::Operator {
            return Err(ApiError::forbidden(
                "operator_rotation_unsupported",
                "the operator's key is fixed by the log's first entry and cannot be rotated here",
            ));
        }
        if current.role != *role {
            return Err(ApiError::bad_request(
                "role_mismatch",
                "a rotation keeps the party's role",
            ));
        }
        if *replaces != current.signing_key.to_bytes() {
            return Err(ApiError::conflict(
                "not_current_key",
                "the rotation replaces a key that is not the party's current one",
            ));
        }
        entry.entry().verify_rotation_consent().map_err(|_| {
            ApiError::bad_request(
                "bad_consent",
                "the consent is not signed by the party's current key",
            )
        })?;
        if ed25519_dalek::VerifyingKey::from_bytes(signing_key).is_err() {
            return Err(ApiError::bad_request(
                "bad_public_key",
                "the new signing key is not a valid Ed25519 key",
            ));
        }
        if signing_key == replaces || current.retired_keys.contains(signing_key) {
            return Err(ApiError::bad_request(
                "key_reused",
                "the new signing key was used by this party before",
            ));
        }
        let index = state.append(&entry)?;
        Ok(Json(Appended { index }))
    })
    .await?
}

/// `POST /v1/certificates/{id}/rewraps`, signed by the registrant: replaces one reader's envelope by a new one
/// (the same data key wrapped for the reader's new encryption key, with a fresh grant salt) and logs it as a
/// grant of the new commitment and a revocation of the old one, appended together.
pub(super) async fn rewrap(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    req: SignedRequest,
) -> Answer<Rewrapped> {
    blocking(move || {
        let cert_id = parse_cert_id(&id)?;
        let caller = req.caller(&state)?;
        let request: RewrapRequest = req.json()?;
        let grant_entry = signed::caller_entry(&state, &caller, &request.grant.0)?;
        let revocation_entry = signed::caller_entry(&state, &caller, &request.revocation.0)?;
        let (
            Entry::Grant {
                cert_id: granted,
                grant: new_grant,
                ..
            },
            Entry::Revocation {
                cert_id: revoked,
                grant: old_grant,
                ..
            },
        ) = (grant_entry.entry(), revocation_entry.entry())
        else {
            return Err(wrong_kind("expected a grant entry and a revocation entry"));
        };
        same_certificate(granted, &cert_id)?;
        same_certificate(revoked, &cert_id)?;
        lengths::check_envelope("envelope", &request.envelope)?;
        if new_grant.as_slice() != request.envelope.grant.0.as_slice() {
            return Err(ApiError::bad_request(
                "grant_mismatch",
                "the envelope's grant commitment differs from the grant entry's",
            ));
        }
        if new_grant == old_grant {
            return Err(ApiError::bad_request(
                "grant_reused",
                "a re-wrap needs a fresh grant commitment",
            ));
        }
        let reader = recipient_roles(&state, std::slice::from_ref(&request.envelope))?;
        let reader = reader.first().ok_or_else(ApiError::internal)?;
        // The new envelope is a grant to the same reader: the same question to the policies.
        let _deciding = state.decide_on(&cert_id)?;
        policy::may_grant(&state, &caller, &cert_id, reader)?;
        let party = request.envelope.party.as_str();
        let stored = state
            .vault
            .get_envelope(cert_id, party)
            .map_err(vault_error)?
            .ok_or_else(|| {
                ApiError::not_found(
                    "not_granted",
                    "that party holds no grant for this certificate",
                )
            })?;
        let (held, _) = unframe(&stored)?;
        if &held != old_grant {
            return Err(ApiError::bad_request(
                "grant_mismatch",
                "the revocation names another grant than that party's",
            ));
        }
        let framed = frame(new_grant, &request.envelope.envelope.0);
        state
            .vault
            .remove_envelope(cert_id, party)
            .map_err(vault_error)?;
        if let Err(e) = state.vault.add_envelope(cert_id, party, &framed) {
            let _ = state.vault.add_envelope(cert_id, party, &stored);
            return Err(vault_error(e));
        }
        let first = state
            .append_all(&[grant_entry, revocation_entry])
            .inspect_err(|_| {
                let _ = state.vault.remove_envelope(cert_id, party);
                let _ = state.vault.add_envelope(cert_id, party, &stored);
            })?;
        Ok(Json(Rewrapped {
            grant_index: first,
            revocation_index: first + 1,
        }))
    })
    .await?
}

/// 410 for a certificate whose body was purged (by its registrant or by the retention sweep).
pub(super) fn gone() -> ApiError {
    ApiError::new(
        StatusCode::GONE,
        "purged",
        "the certificate body was purged",
    )
}
