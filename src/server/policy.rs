//! The questions handlers ask the Cedar policies, with the facts each question needs gathered from the
//! registry and the vault. Handlers never build Cedar requests themselves.

use ledger::{CertId, PartyId, Role};

use super::error::ApiError;
use super::signed::Caller;
use super::state::AppState;
use crate::authz::{Action, CertificateFacts, PartyFacts};

/// The registrant-only actions on an existing certificate.
#[derive(Debug, Clone, Copy)]
pub enum Manage {
    /// Remove a reader.
    Revoke,
    /// Delete the body and every envelope.
    Purge,
}

/// May the caller enroll parties? (Only the operator.)
pub fn may_enroll(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    decide(state, caller, Action::Enroll, None, &[])
}

/// May the caller register a certificate for these recipients?
pub fn may_register(state: &AppState, caller: &Caller, recipients: &[(PartyId, Role)]) -> Result<(), ApiError> {
    decide(state, caller, Action::Register, None, recipients)
}

/// May the caller grant this certificate to `grantee`?
pub fn may_grant(state: &AppState, caller: &Caller, cert_id: &CertId, grantee: &(PartyId, Role)) -> Result<(), ApiError> {
    let facts = certificate_facts(state, cert_id)?;
    decide(state, caller, Action::Grant, Some(&facts), std::slice::from_ref(grantee))
}

/// May the caller revoke or purge this certificate?
pub fn may_manage(state: &AppState, caller: &Caller, what: Manage, cert_id: &CertId) -> Result<(), ApiError> {
    let facts = certificate_facts(state, cert_id)?;
    let action = match what {
        Manage::Revoke => Action::Revoke,
        Manage::Purge => Action::Purge,
    };
    decide(state, caller, action, Some(&facts), &[])
}

/// May the caller fetch the ciphertext and its own envelope? Returns the registration entry's index.
pub fn may_fetch(state: &AppState, caller: &Caller, cert_id: &CertId) -> Result<u64, ApiError> {
    let facts = certificate_facts(state, cert_id)?;
    decide(state, caller, Action::FetchEnvelope, Some(&facts), &[])?;
    Ok(facts.registration_index)
}

fn certificate_facts(state: &AppState, cert_id: &CertId) -> Result<CertificateFacts, ApiError> {
    let cert = state
        .registry
        .read()
        .map_err(|_| ApiError::internal())?
        .certificate(cert_id)
        .cloned()
        .ok_or_else(|| ApiError::not_found("unknown_certificate", "no such certificate"))?;
    let recipients = if cert.purged {
        Vec::new()
    } else {
        state.vault.list_recipients(cert_id).map_err(|e| {
            tracing::error!(error = %e, "listing recipients failed");
            ApiError::unavailable()
        })?
    };
    Ok(CertificateFacts {
        registrant: cert.registrant.to_string(),
        recipients,
        purged: cert.purged,
        registration_index: cert.registration_index,
    })
}

fn decide(
    state: &AppState,
    caller: &Caller,
    action: Action,
    certificate: Option<&CertificateFacts>,
    counterparts: &[(PartyId, Role)],
) -> Result<(), ApiError> {
    let principal = PartyFacts { id: caller.id.to_string(), role: caller.party.role.to_string() };
    let others: Vec<PartyFacts> = counterparts
        .iter()
        .map(|(id, role)| PartyFacts { id: id.to_string(), role: role.to_string() })
        .collect();
    state.authz.authorize(&principal, action, certificate, &others).map_err(|denied| {
        tracing::debug!(party = %caller.id, ?action, reason = %denied, "request denied by policy");
        ApiError::forbidden(denied.code(), denied.to_string())
    })
}
