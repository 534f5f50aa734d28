//! The authorizer: the loaded policies and schema, answering one typed question per request.

use std::collections::HashMap;
use std::path::Path;

use cedar_policy::{
    ActionConstraint, Context, Decision as CedarDecision, Entities, EntityUid, PolicySet, Request,
    Schema,
};

use super::load::load_dir;
use super::model::{Action, Names, PartyInfo};
use super::{AuthzError, Denied};

/// The outcome of one authorization question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    allowed: bool,
    policies: Vec<String>,
    errors: Vec<String>,
}

impl Decision {
    /// True if some `permit` matched, no `forbid` did, and nothing failed to evaluate.
    pub fn is_allowed(&self) -> bool {
        self.allowed
    }

    /// The ids of the policies that decided: the matching `permit`s when allowed, the matching `forbid`s when
    /// denied (empty when denied because nothing permitted).
    pub fn policies(&self) -> &[String] {
        &self.policies
    }

    /// Evaluation or input errors; any error denies (fail closed). Empty with validated policies.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// `Ok` if allowed, else the [`Denied`] error to return to the client.
    ///
    /// # Errors
    /// [`Denied`] if the request is not allowed.
    pub fn into_result(self) -> Result<(), Denied> {
        if self.allowed {
            Ok(())
        } else {
            Err(Denied {
                policies: self.policies,
                errors: self.errors,
            })
        }
    }

    fn failed(error: String) -> Self {
        Self {
            allowed: false,
            policies: Vec::new(),
            errors: vec![error],
        }
    }
}

/// Cedar policies loaded from a directory, validated against their schema; cheap to query from many threads.
pub struct Authorizer {
    policies: PolicySet,
    /// For each action, only the policies whose scope can match it. Cedar evaluates every policy of the set it is
    /// given; a policy scoped to another action can neither permit nor forbid, so leaving it out changes no
    /// decision (there are no action groups: load refuses them) and saves most of the work.
    by_action: HashMap<&'static str, PolicySet>,
    schema: Schema,
    names: Names,
    cedar: cedar_policy::Authorizer,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer")
            .field("policies", &self.policy_ids())
            .finish_non_exhaustive()
    }
}

impl Authorizer {
    /// Loads `dir/tradeledger.cedarschema` and every `dir/*.cedar`, and validates each policy file against the
    /// schema in strict mode.
    ///
    /// # Errors
    /// An [`AuthzError`] naming the file at fault if a file cannot be read or parsed, a policy fails validation
    /// (errors and warnings both refuse), an id is used twice, the directory has no policy, or the schema does
    /// not describe the requests the server builds. The server must refuse to start on any of them.
    pub fn load(dir: &Path) -> Result<Self, AuthzError> {
        let names = Names::new()?;
        let (policies, schema) = load_dir(dir, &names)?;
        let by_action = partition_by_action(&policies, &names)?;
        Ok(Self {
            policies,
            by_action,
            schema,
            names,
            cedar: cedar_policy::Authorizer::new(),
        })
    }

    /// The ids of the loaded policies, sorted.
    pub fn policy_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .policies
            .policies()
            .map(|p| p.id().to_string())
            .collect();
        ids.sort();
        ids
    }

    /// Decides whether `principal` (`None` for an unsigned request) may do `action`.
    ///
    /// Fails closed: an input Cedar or the schema refuses (for instance an unsigned request for anything but
    /// [`Action::ReadLog`]) and any evaluation error deny.
    pub fn decide(&self, principal: Option<&PartyInfo>, action: &Action<'_>) -> Decision {
        let question = match self.names.question(principal, action) {
            Ok(q) => q,
            Err(e) => return Decision::failed(e.to_string()),
        };
        // Entities are built by typed code, so they are not re-checked against the schema per request (load
        // checked the shapes once); the request is, since it is cheap and rejects principal/action mismatches.
        let entities = match Entities::from_entities(question.entities, None) {
            Ok(e) => e,
            Err(e) => return Decision::failed(e.to_string()),
        };
        self.evaluate(
            action.name(),
            question.principal,
            question.action,
            question.resource,
            question.context,
            &entities,
        )
    }

    /// [`Authorizer::decide`] for several actions by one principal, one decision per action, in order. Actions
    /// on one certificate whose question is the certificate alone (fetching ciphertext and envelope, say) share
    /// one entity set, built once: their questions differ only in the action, so each decision is the one
    /// [`Authorizer::decide`] gives (a test compares them).
    pub fn decide_all(
        &self,
        principal: Option<&PartyInfo>,
        actions: &[Action<'_>],
    ) -> Vec<Decision> {
        let shared = actions.first().and_then(Action::certificate_alone);
        let Some(certificate) = shared.filter(|c| {
            actions
                .iter()
                .all(|a| a.certificate_alone().is_some_and(|other| other == *c))
        }) else {
            return actions.iter().map(|a| self.decide(principal, a)).collect();
        };
        let question = match self
            .names
            .question(principal, &Action::FetchCiphertext { certificate })
        {
            Ok(q) => q,
            Err(e) => return vec![Decision::failed(e.to_string()); actions.len()],
        };
        let entities = match Entities::from_entities(question.entities, None) {
            Ok(e) => e,
            Err(e) => return vec![Decision::failed(e.to_string()); actions.len()],
        };
        actions
            .iter()
            .map(|action| {
                self.evaluate(
                    action.name(),
                    question.principal.clone(),
                    self.names.action_uid(action.name()),
                    question.resource.clone(),
                    question.context.clone(),
                    &entities,
                )
            })
            .collect()
    }

    /// Asks Cedar whether `principal` may do the action named `name` (uid `action`) on `resource`, with the
    /// entities built for the question.
    fn evaluate(
        &self,
        name: &str,
        principal: EntityUid,
        action: EntityUid,
        resource: EntityUid,
        context: Context,
        entities: &Entities,
    ) -> Decision {
        let request = match Request::new(principal, action, resource, context, Some(&self.schema)) {
            Ok(r) => r,
            Err(e) => return Decision::failed(e.to_string()),
        };
        let policies = self.by_action.get(name).unwrap_or(&self.policies);
        let response = self.cedar.is_authorized(&request, policies, entities);
        let errors: Vec<String> = response
            .diagnostics()
            .errors()
            .map(ToString::to_string)
            .collect();
        let mut policies: Vec<String> = response
            .diagnostics()
            .reason()
            .map(ToString::to_string)
            .collect();
        policies.sort();
        let allowed = response.decision() == CedarDecision::Allow && errors.is_empty();
        Decision {
            allowed,
            policies,
            errors,
        }
    }

    /// [`Authorizer::decide`] as a `Result`, the form request handlers use.
    ///
    /// # Errors
    /// [`Denied`] if the policies do not allow the request.
    pub fn authorize(
        &self,
        principal: Option<&PartyInfo>,
        action: &Action<'_>,
    ) -> Result<(), Denied> {
        self.decide(principal, action).into_result()
    }
}

/// Splits the policy set by the action each policy's scope names (an unconstrained action scope goes everywhere).
fn partition_by_action(
    policies: &PolicySet,
    names: &Names,
) -> Result<HashMap<&'static str, PolicySet>, AuthzError> {
    let mut by_action = HashMap::new();
    for name in Action::NAMES {
        let uid = names.action_uid(name);
        let mut set = PolicySet::new();
        for policy in policies.policies() {
            let applies = match policy.action_constraint() {
                ActionConstraint::Any => true,
                ActionConstraint::Eq(a) => a == uid,
                ActionConstraint::In(list) => list.contains(&uid),
            };
            if applies {
                set.add(policy.clone())
                    .map_err(|e| AuthzError::Internal(e.to_string()))?;
            }
        }
        by_action.insert(name, set);
    }
    Ok(by_action)
}
