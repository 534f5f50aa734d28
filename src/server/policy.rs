//! The questions handlers ask the Cedar policies, with the facts each question needs gathered from the
//! registry and the vault. Handlers never build Cedar requests themselves.

use ledger::{CertId, PartyId, Role};
use vault::VaultStore as _;

use super::error::ApiError;
use super::registry::Registry;
use super::signed::Caller;
use super::state::AppState;
use crate::authz::{Action, CertificateInfo, Denied, PartyInfo};

/// May the caller enroll `party` with `role`? (Only the operator.)
pub(super) fn may_enroll(
    state: &AppState,
    caller: &Caller,
    party: &PartyId,
    role: Role,
) -> Result<(), ApiError> {
    let party = party_info(party, role);
    decide(state, caller, &Action::Enroll { party: &party })
}

/// May the caller register `cert_id` for these recipients (the caller's own envelope excluded)?
pub(super) fn may_register(
    state: &AppState,
    caller: &Caller,
    cert_id: &CertId,
    recipients: &[(PartyId, Role)],
) -> Result<(), ApiError> {
    let certificate = CertificateInfo {
        id: cert_id.to_string(),
        registrant: caller.id.to_string(),
        recipients: recipients
            .iter()
            .filter(|(id, _)| id != &caller.id)
            .map(|(id, role)| party_info(id, *role))
            .collect(),
        purged: false,
    };
    decide(
        state,
        caller,
        &Action::Register {
            certificate: &certificate,
        },
    )
}

/// May the caller grant `cert_id` to `grantee`?
pub(super) fn may_grant(
    state: &AppState,
    caller: &Caller,
    cert_id: &CertId,
    grantee: &(PartyId, Role),
) -> Result<(), ApiError> {
    let (certificate, _) = certificate_info(state, cert_id)?;
    let grantee = party_info(&grantee.0, grantee.1);
    decide(
        state,
        caller,
        &Action::Grant {
            certificate: &certificate,
            grantee: &grantee,
        },
    )
}

/// May the caller revoke `revokee`'s grant on `cert_id`?
pub(super) fn may_revoke(
    state: &AppState,
    caller: &Caller,
    cert_id: &CertId,
    revokee: &PartyId,
) -> Result<(), ApiError> {
    let (certificate, _) = certificate_info(state, cert_id)?;
    let role = role_of(state, revokee)?;
    let revokee = party_info(revokee, role);
    decide(
        state,
        caller,
        &Action::Revoke {
            certificate: &certificate,
            revokee: &revokee,
        },
    )
}

/// May the caller purge `cert_id`?
pub(super) fn may_purge(
    state: &AppState,
    caller: &Caller,
    cert_id: &CertId,
) -> Result<(), ApiError> {
    let (certificate, _) = certificate_info(state, cert_id)?;
    decide(
        state,
        caller,
        &Action::Purge {
            certificate: &certificate,
        },
    )
}

/// May the caller list who holds which grant on `cert_id`? (Only the registrant.)
pub(super) fn may_list_grants(
    state: &AppState,
    caller: &Caller,
    cert_id: &CertId,
) -> Result<(), ApiError> {
    let (certificate, _) = certificate_info(state, cert_id)?;
    decide(
        state,
        caller,
        &Action::ListGrants {
            certificate: &certificate,
        },
    )
}

/// May the caller fetch the ciphertext and its own envelope? Returns the registration entry's index.
pub(super) fn may_fetch(
    state: &AppState,
    caller: &Caller,
    cert_id: &CertId,
) -> Result<u64, ApiError> {
    let (certificate, registration_index) = certificate_info(state, cert_id)?;
    let certificate = &certificate;
    // One entity set for both questions (docs/performance.md, issue 12 step 3).
    let principal = party_info(&caller.id, caller.party.role);
    let actions = [
        Action::FetchCiphertext { certificate },
        Action::FetchEnvelope { certificate },
    ];
    let decisions = state.authz.decide_all(Some(&principal), &actions);
    for (action, decision) in actions.iter().zip(decisions) {
        decision
            .into_result()
            .map_err(|denied| refused(caller, action, &denied))?;
    }
    Ok(registration_index)
}

/// The certificate as the policies see it, and the index of its registration entry.
fn certificate_info(
    state: &AppState,
    cert_id: &CertId,
) -> Result<(CertificateInfo, u64), ApiError> {
    // A certificate another frontend just registered is found after a catch-up.
    let cert = state
        .look_up(|registry| Ok(registry.certificate(cert_id)?))?
        .ok_or_else(|| ApiError::not_found("unknown_certificate", "no such certificate"))?;
    let registry = &state.registry;
    let holders = if cert.purged {
        Vec::new()
    } else {
        state.vault.list_recipients(*cert_id).map_err(|e| {
            tracing::error!(error = %e, "listing recipients failed");
            ApiError::unavailable()
        })?
    };
    let recipients = holders
        .iter()
        .filter(|holder| holder.as_str() != cert.registrant.as_str())
        .filter_map(|holder| recipient(registry, holder))
        .collect();
    let info = CertificateInfo {
        id: cert_id.to_string(),
        registrant: cert.registrant.to_string(),
        recipients,
        purged: cert.purged,
    };
    Ok((info, cert.registration_index))
}

fn recipient(registry: &Registry, holder: &str) -> Option<PartyInfo> {
    let id = PartyId::new(holder).ok()?;
    let role = registry.party(&id)?.role;
    Some(party_info(&id, role))
}

fn role_of(state: &AppState, party: &PartyId) -> Result<Role, ApiError> {
    state
        .look_up(|registry| Ok(registry.party(party).map(|p| p.role)))?
        .ok_or_else(|| {
            ApiError::bad_request(
                "unknown_recipient",
                format!("party {party} is not enrolled"),
            )
        })
}

fn party_info(id: &PartyId, role: Role) -> PartyInfo {
    PartyInfo {
        id: id.to_string(),
        role,
    }
}

fn decide(state: &AppState, caller: &Caller, action: &Action<'_>) -> Result<(), ApiError> {
    let principal = party_info(&caller.id, caller.party.role);
    state
        .authz
        .authorize(Some(&principal), action)
        .map_err(|denied| refused(caller, action, &denied))
}

/// The answer to a request the policies denied, naming the rules that decided.
fn refused(caller: &Caller, action: &Action<'_>, denied: &Denied) -> ApiError {
    tracing::debug!(party = %caller.id, action = action.name(), reason = %denied, "request denied by policy");
    let message = match denied.policies() {
        [] => denied.to_string(),
        rules => format!("{denied}: {}", rules.join(", ")),
    };
    ApiError::forbidden(denied.code(), message)
}
