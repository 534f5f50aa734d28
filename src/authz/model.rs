//! The typed inputs of an authorization question, and their translation into Cedar entities and requests.
//!
//! The server never writes Cedar text: it fills these types, and this module builds the few entities a decision
//! needs (the principal, the resource) per request, following policies/tradeledger.cedarschema.

use std::collections::{HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{Context, Entity, EntityId, EntityTypeName, EntityUid, RestrictedExpression};

use super::AuthzError;

/// A party's role: the ledger's, so a role means the same on the log and in the policies (`Role::"customs"`
/// in Cedar is [`Role::as_str`]).
pub use ledger::Role;

/// An enrolled party as the authorizer sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyInfo {
    /// The party id (becomes `Party::"<id>"`).
    pub id: String,
    /// Its enrolled role.
    pub role: Role,
}

/// A certificate as the authorizer sees it: who registered it, who may read it, whether it is purged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The certificate id (32 lowercase hex; becomes `Certificate::"<id>"`).
    pub id: String,
    /// The party that registered it (for `register`: the party asking).
    pub registrant: String,
    /// The parties holding an active grant, with their roles (for `register`: the first recipients).
    /// The registrant's own envelope is not a grant and is not listed.
    pub recipients: Vec<PartyInfo>,
    /// True once the body was purged.
    pub purged: bool,
}

/// What a request asks to do, with the resource and facts the policies need.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Action<'a> {
    /// Enroll `party` on the log.
    Enroll {
        /// The party being enrolled.
        party: &'a PartyInfo,
    },
    /// Register `certificate` with its first recipients.
    Register {
        /// The certificate being registered.
        certificate: &'a CertificateInfo,
    },
    /// Grant `grantee` access to `certificate`.
    Grant {
        /// The certificate.
        certificate: &'a CertificateInfo,
        /// The party to be granted.
        grantee: &'a PartyInfo,
    },
    /// Revoke `revokee`'s grant on `certificate`.
    Revoke {
        /// The certificate.
        certificate: &'a CertificateInfo,
        /// The party whose grant is revoked.
        revokee: &'a PartyInfo,
    },
    /// Purge the body of `certificate`.
    Purge {
        /// The certificate.
        certificate: &'a CertificateInfo,
    },
    /// Fetch the ciphertext of `certificate`.
    FetchCiphertext {
        /// The certificate.
        certificate: &'a CertificateInfo,
    },
    /// Fetch one's own envelope of `certificate` (the server must return the principal's envelope only).
    FetchEnvelope {
        /// The certificate.
        certificate: &'a CertificateInfo,
    },
    /// Publish a disclosure of `certificate`.
    Disclose {
        /// The certificate.
        certificate: &'a CertificateInfo,
    },
    /// List which party holds which grant commitment on `certificate` (the registrant's revocations and
    /// access trail need it; it links readers to commitments, so it is not public).
    ListGrants {
        /// The certificate.
        certificate: &'a CertificateInfo,
    },
    /// Read the log (checkpoint, tiles, proofs).
    ReadLog,
}

impl Action<'_> {
    /// The Cedar ids of every action, in schema order.
    pub const NAMES: [&'static str; 10] = [
        "enroll",
        "register",
        "grant",
        "revoke",
        "purge",
        "fetch_ciphertext",
        "fetch_envelope",
        "disclose",
        "list_grants",
        "read_log",
    ];

    /// The Cedar action id (`Action::"<name>"`).
    pub fn name(&self) -> &'static str {
        match self {
            Action::Enroll { .. } => "enroll",
            Action::Register { .. } => "register",
            Action::Grant { .. } => "grant",
            Action::Revoke { .. } => "revoke",
            Action::Purge { .. } => "purge",
            Action::FetchCiphertext { .. } => "fetch_ciphertext",
            Action::FetchEnvelope { .. } => "fetch_envelope",
            Action::Disclose { .. } => "disclose",
            Action::ListGrants { .. } => "list_grants",
            Action::ReadLog => "read_log",
        }
    }
}

impl<'a> Action<'a> {
    /// The certificate, for the actions whose question is the certificate alone (no context, no second
    /// party): two such actions on one certificate need the same entities and differ only in the action.
    pub(crate) fn certificate_alone(&self) -> Option<&'a CertificateInfo> {
        match *self {
            Action::Purge { certificate }
            | Action::FetchCiphertext { certificate }
            | Action::FetchEnvelope { certificate }
            | Action::Disclose { certificate }
            | Action::ListGrants { certificate } => Some(certificate),
            _ => None,
        }
    }
}

/// Entity type names and fixed uids, parsed once at load.
pub(crate) struct Names {
    party: EntityTypeName,
    certificate: EntityTypeName,
    role: EntityTypeName,
    action: EntityTypeName,
    log: EntityUid,
    anyone: EntityUid,
}

/// One Cedar question: principal, action, resource, context and the entities they need.
pub(crate) struct Question {
    pub(crate) principal: EntityUid,
    pub(crate) action: EntityUid,
    pub(crate) resource: EntityUid,
    pub(crate) context: Context,
    pub(crate) entities: Vec<Entity>,
}

impl Names {
    pub(crate) fn new() -> Result<Self, AuthzError> {
        let name =
            |s: &str| EntityTypeName::from_str(s).map_err(|e| AuthzError::Internal(e.to_string()));
        let log = name("Log")?;
        let anyone = name("Anyone")?;
        Ok(Self {
            party: name("Party")?,
            certificate: name("Certificate")?,
            role: name("Role")?,
            action: name("Action")?,
            log: EntityUid::from_type_name_and_id(log, EntityId::new("log")),
            anyone: EntityUid::from_type_name_and_id(anyone, EntityId::new("anonymous")),
        })
    }

    /// The uid of the action named `name` (`Action::"<name>"`).
    pub(crate) fn action_uid(&self, name: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(self.action.clone(), EntityId::new(name))
    }

    fn party_uid(&self, id: &str) -> EntityUid {
        EntityUid::from_type_name_and_id(self.party.clone(), EntityId::new(id))
    }

    fn role(&self, role: Role) -> RestrictedExpression {
        RestrictedExpression::new_entity_uid(EntityUid::from_type_name_and_id(
            self.role.clone(),
            EntityId::new(role.as_str()),
        ))
    }

    fn party(&self, party: &PartyInfo) -> Result<Entity, AuthzError> {
        let attrs = HashMap::from([("role".to_owned(), self.role(party.role))]);
        Entity::new(self.party_uid(&party.id), attrs, HashSet::new())
            .map_err(|e| AuthzError::Internal(e.to_string()))
    }

    fn certificate(&self, cert: &CertificateInfo) -> Result<Entity, AuthzError> {
        let customs = cert
            .recipients
            .iter()
            .filter(|p| p.role == Role::Customs)
            .count();
        let customs = i64::try_from(customs).map_err(|e| AuthzError::Internal(e.to_string()))?;
        let recipients = cert
            .recipients
            .iter()
            .map(|p| RestrictedExpression::new_entity_uid(self.party_uid(&p.id)));
        let attrs = HashMap::from([
            (
                "registrant".to_owned(),
                RestrictedExpression::new_entity_uid(self.party_uid(&cert.registrant)),
            ),
            (
                "recipients".to_owned(),
                RestrictedExpression::new_set(recipients),
            ),
            (
                "customs_recipients".to_owned(),
                RestrictedExpression::new_long(customs),
            ),
            (
                "purged".to_owned(),
                RestrictedExpression::new_bool(cert.purged),
            ),
        ]);
        let uid =
            EntityUid::from_type_name_and_id(self.certificate.clone(), EntityId::new(&cert.id));
        Entity::new(uid, attrs, HashSet::new()).map_err(|e| AuthzError::Internal(e.to_string()))
    }

    fn context(
        &self,
        pairs: impl IntoIterator<Item = (&'static str, RestrictedExpression)>,
    ) -> Result<Context, AuthzError> {
        Context::from_pairs(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)))
            .map_err(|e| AuthzError::Internal(e.to_string()))
    }

    /// Builds the Cedar question for `principal` (or an unsigned request) doing `action`.
    pub(crate) fn question(
        &self,
        principal: Option<&PartyInfo>,
        action: &Action<'_>,
    ) -> Result<Question, AuthzError> {
        let mut entities = Vec::with_capacity(2);
        let principal_uid = match principal {
            Some(p) => {
                entities.push(self.party(p)?);
                self.party_uid(&p.id)
            }
            None => self.anyone.clone(),
        };
        let mut certificate = |cert: &CertificateInfo| -> Result<EntityUid, AuthzError> {
            let entity = self.certificate(cert)?;
            let uid = entity.uid();
            entities.push(entity);
            Ok(uid)
        };
        let (resource, context) = match action {
            Action::Enroll { party } => {
                // At bootstrap the operator may enroll itself: one entity, not two with the same uid.
                if principal.is_none_or(|p| p.id != party.id) {
                    entities.push(self.party(party)?);
                } else if principal.is_some_and(|p| p.role != party.role) {
                    return Err(AuthzError::Internal(
                        "a party cannot hold two roles".to_owned(),
                    ));
                }
                (self.party_uid(&party.id), Context::empty())
            }
            Action::Register { certificate: cert } => {
                let roles: HashSet<Role> = cert.recipients.iter().map(|p| p.role).collect();
                let roles = RestrictedExpression::new_set(roles.into_iter().map(|r| self.role(r)));
                (
                    certificate(cert)?,
                    self.context([("recipient_roles", roles)])?,
                )
            }
            Action::Grant {
                certificate: cert,
                grantee,
            } => (
                certificate(cert)?,
                self.context([("grantee_role", self.role(grantee.role))])?,
            ),
            Action::Revoke {
                certificate: cert,
                revokee,
            } => (
                certificate(cert)?,
                self.context([("revokee_role", self.role(revokee.role))])?,
            ),
            Action::Purge { certificate: cert }
            | Action::FetchCiphertext { certificate: cert }
            | Action::FetchEnvelope { certificate: cert }
            | Action::Disclose { certificate: cert }
            | Action::ListGrants { certificate: cert } => (certificate(cert)?, Context::empty()),
            Action::ReadLog => (self.log.clone(), Context::empty()),
        };
        let action_uid =
            EntityUid::from_type_name_and_id(self.action.clone(), EntityId::new(action.name()));
        Ok(Question {
            principal: principal_uid,
            action: action_uid,
            resource,
            context,
            entities,
        })
    }
}
