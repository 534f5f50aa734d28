//! Invariants of the default policies for any ids and roles.

use proptest::prelude::*;

use super::*;

fn role() -> impl Strategy<Value = Role> {
    proptest::sample::select(Role::ALL.to_vec())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Whatever the ids (quotes, newlines, Cedar syntax) and roles, a decision is made without panicking,
    /// and the invariants hold.
    #[test]
    fn invariants_hold_for_any_ids_and_roles(
        principal_id in ".{0,24}",
        principal_role in role(),
        registrant in ".{0,24}",
        recipients in proptest::collection::vec((".{0,12}", role()), 0..4),
        grantee_role in role(),
        purged in any::<bool>(),
    ) {
        let principal = PartyInfo { id: principal_id, role: principal_role };
        let certificate = CertificateInfo {
            id: "0".repeat(32),
            registrant,
            recipients: recipients.into_iter().map(|(id, role)| PartyInfo { id, role }).collect(),
            purged,
        };
        let grantee = PartyInfo { id: "g".to_owned(), role: grantee_role };
        let fetch = DEFAULT.decide(Some(&principal), &Action::FetchEnvelope { certificate: &certificate });
        let reader = certificate.registrant == principal.id
            || certificate.recipients.iter().any(|r| r.id == principal.id);
        prop_assert_eq!(fetch.is_allowed(), reader && !purged && principal.role != Role::Auditor);
        let grant = DEFAULT.decide(Some(&principal), &Action::Grant { certificate: &certificate, grantee: &grantee });
        prop_assert_eq!(
            grant.is_allowed(),
            certificate.registrant == principal.id && !purged && grantee_role != Role::Auditor
        );
        let register = DEFAULT.decide(Some(&principal), &Action::Register { certificate: &certificate });
        let roles: Vec<Role> = certificate.recipients.iter().map(|r| r.role).collect();
        prop_assert_eq!(
            register.is_allowed(),
            matches!(principal.role, Role::Importer | Role::Exporter | Role::Producer)
                && certificate.registrant == principal.id
                && roles.contains(&Role::Customs)
                && !roles.contains(&Role::Auditor)
        );
        let list = DEFAULT.decide(Some(&principal), &Action::ListGrants { certificate: &certificate });
        prop_assert_eq!(list.is_allowed(), certificate.registrant == principal.id);
        prop_assert!(DEFAULT.decide(None, &Action::ReadLog).is_allowed());
    }
}
