//! The default policies, decision by decision.

use super::*;

#[test]
fn default_rules() {
    let w = world();
    let normal = cert(&w.importer, &[&w.cbp, &w.broker], false);
    let two_customs = cert(&w.importer, &[&w.cbp, &w.cbp2], false);
    let purged = cert(&w.importer, &[&w.cbp, &w.broker], true);
    let no_customs = cert(&w.importer, &[&w.broker], false);
    let with_auditor = cert(&w.importer, &[&w.cbp, &w.auditor], false);
    let by_exporter = cert(&w.exporter, &[&w.cbp], false);
    let by_producer = cert(&w.producer, &[&w.cbp], false);
    let by_broker = cert(&w.broker, &[&w.cbp], false);
    let by_customs = cert(&w.cbp, &[&w.cbp2], false);
    let by_auditor = cert(&w.auditor, &[&w.cbp], false);
    let by_operator = cert(&w.operator, &[&w.cbp], false);
    // A certificate wrongly listing an auditor as recipient (it cannot happen through the API; the forbid holds
    // anyway).
    let auditor_listed = cert(&w.importer, &[&w.cbp, &w.auditor], false);

    let cases: Vec<(&str, Option<&PartyInfo>, Action<'_>, Expect)> = vec![
        // Only the operator enrolls.
        (
            "operator enrolls",
            Some(&w.operator),
            Action::Enroll { party: &w.importer },
            Allow,
        ),
        (
            "operator enrolls itself",
            Some(&w.operator),
            Action::Enroll { party: &w.operator },
            Allow,
        ),
        (
            "importer enrolls",
            Some(&w.importer),
            Action::Enroll { party: &w.broker },
            Forbid(Some("only-operator-enrolls")),
        ),
        (
            "customs enrolls",
            Some(&w.cbp),
            Action::Enroll { party: &w.cbp2 },
            Forbid(Some("only-operator-enrolls")),
        ),
        (
            "anonymous enrolls",
            None,
            Action::Enroll { party: &w.broker },
            Forbid(None),
        ),
        // Only importers, exporters and producers register, in their own name, with customs, without auditors.
        (
            "importer registers",
            Some(&w.importer),
            Action::Register {
                certificate: &normal,
            },
            Allow,
        ),
        (
            "exporter registers",
            Some(&w.exporter),
            Action::Register {
                certificate: &by_exporter,
            },
            Allow,
        ),
        (
            "producer registers",
            Some(&w.producer),
            Action::Register {
                certificate: &by_producer,
            },
            Allow,
        ),
        (
            "broker registers",
            Some(&w.broker),
            Action::Register {
                certificate: &by_broker,
            },
            Forbid(Some("only-traders-register")),
        ),
        (
            "customs registers",
            Some(&w.cbp),
            Action::Register {
                certificate: &by_customs,
            },
            Forbid(Some("only-traders-register")),
        ),
        (
            "auditor registers",
            Some(&w.auditor),
            Action::Register {
                certificate: &by_auditor,
            },
            Forbid(Some("only-traders-register")),
        ),
        (
            "operator registers",
            Some(&w.operator),
            Action::Register {
                certificate: &by_operator,
            },
            Forbid(Some("only-traders-register")),
        ),
        (
            "register without customs",
            Some(&w.importer),
            Action::Register {
                certificate: &no_customs,
            },
            Forbid(Some("register-with-customs")),
        ),
        (
            "register for an auditor",
            Some(&w.importer),
            Action::Register {
                certificate: &with_auditor,
            },
            Forbid(Some("no-auditor-recipient")),
        ),
        (
            "register in another's name",
            Some(&w.other_importer),
            Action::Register {
                certificate: &normal,
            },
            Forbid(Some("register-as-yourself")),
        ),
        (
            "anonymous registers",
            None,
            Action::Register {
                certificate: &normal,
            },
            Forbid(None),
        ),
        // Only the registrant grants, revokes, purges; never to an auditor; nothing after purge.
        (
            "registrant grants",
            Some(&w.importer),
            Action::Grant {
                certificate: &normal,
                grantee: &w.broker2,
            },
            Allow,
        ),
        (
            "registrant grants customs",
            Some(&w.importer),
            Action::Grant {
                certificate: &normal,
                grantee: &w.cbp2,
            },
            Allow,
        ),
        (
            "stranger grants",
            Some(&w.other_importer),
            Action::Grant {
                certificate: &normal,
                grantee: &w.broker2,
            },
            Forbid(Some("only-registrant-manages")),
        ),
        (
            "recipient grants",
            Some(&w.cbp),
            Action::Grant {
                certificate: &normal,
                grantee: &w.broker2,
            },
            Forbid(Some("only-registrant-manages")),
        ),
        (
            "grant to auditor",
            Some(&w.importer),
            Action::Grant {
                certificate: &normal,
                grantee: &w.auditor,
            },
            Forbid(Some("no-grant-to-auditor")),
        ),
        (
            "grant after purge",
            Some(&w.importer),
            Action::Grant {
                certificate: &purged,
                grantee: &w.broker2,
            },
            Forbid(Some("nothing-after-purge")),
        ),
        (
            "registrant revokes broker",
            Some(&w.importer),
            Action::Revoke {
                certificate: &normal,
                revokee: &w.broker,
            },
            Allow,
        ),
        (
            "revoke one of two customs",
            Some(&w.importer),
            Action::Revoke {
                certificate: &two_customs,
                revokee: &w.cbp2,
            },
            Allow,
        ),
        (
            "revoke the last customs",
            Some(&w.importer),
            Action::Revoke {
                certificate: &normal,
                revokee: &w.cbp,
            },
            Forbid(Some("keep-a-customs-recipient")),
        ),
        (
            "recipient revokes",
            Some(&w.broker),
            Action::Revoke {
                certificate: &normal,
                revokee: &w.broker,
            },
            Forbid(Some("only-registrant-manages")),
        ),
        (
            "registrant purges",
            Some(&w.importer),
            Action::Purge {
                certificate: &normal,
            },
            Allow,
        ),
        (
            "customs purges",
            Some(&w.cbp),
            Action::Purge {
                certificate: &normal,
            },
            Forbid(Some("only-registrant-manages")),
        ),
        (
            "operator purges",
            Some(&w.operator),
            Action::Purge {
                certificate: &normal,
            },
            Forbid(Some("only-registrant-manages")),
        ),
        // Only the registrant lists who holds which grant, also after a purge (for its access trail).
        (
            "registrant lists grants",
            Some(&w.importer),
            Action::ListGrants {
                certificate: &normal,
            },
            Allow,
        ),
        (
            "registrant lists grants after purge",
            Some(&w.importer),
            Action::ListGrants {
                certificate: &purged,
            },
            Allow,
        ),
        (
            "grantee lists grants",
            Some(&w.cbp),
            Action::ListGrants {
                certificate: &normal,
            },
            Forbid(Some("only-registrant-manages")),
        ),
        (
            "stranger lists grants",
            Some(&w.other_importer),
            Action::ListGrants {
                certificate: &normal,
            },
            Forbid(Some("only-registrant-manages")),
        ),
        (
            "operator lists grants",
            Some(&w.operator),
            Action::ListGrants {
                certificate: &normal,
            },
            Forbid(Some("only-registrant-manages")),
        ),
        (
            "auditor lists grants",
            Some(&w.auditor),
            Action::ListGrants {
                certificate: &normal,
            },
            Forbid(Some("only-registrant-manages")),
        ),
        (
            "anonymous lists grants",
            None,
            Action::ListGrants {
                certificate: &normal,
            },
            Forbid(None),
        ),
        // Only readers with an active grant (and the registrant) fetch; never auditors; nothing after purge.
        (
            "customs fetches ciphertext",
            Some(&w.cbp),
            Action::FetchCiphertext {
                certificate: &normal,
            },
            Allow,
        ),
        (
            "customs fetches envelope",
            Some(&w.cbp),
            Action::FetchEnvelope {
                certificate: &normal,
            },
            Allow,
        ),
        (
            "granted broker fetches",
            Some(&w.broker),
            Action::FetchEnvelope {
                certificate: &normal,
            },
            Allow,
        ),
        (
            "registrant fetches",
            Some(&w.importer),
            Action::FetchEnvelope {
                certificate: &normal,
            },
            Allow,
        ),
        (
            "ungranted broker fetches envelope",
            Some(&w.broker2),
            Action::FetchEnvelope {
                certificate: &normal,
            },
            Forbid(Some("only-readers-fetch")),
        ),
        (
            "ungranted broker fetches ciphertext",
            Some(&w.broker2),
            Action::FetchCiphertext {
                certificate: &normal,
            },
            Forbid(Some("only-readers-fetch")),
        ),
        (
            "other customs fetches",
            Some(&w.cbp2),
            Action::FetchEnvelope {
                certificate: &normal,
            },
            Forbid(Some("only-readers-fetch")),
        ),
        (
            "operator fetches",
            Some(&w.operator),
            Action::FetchCiphertext {
                certificate: &normal,
            },
            Forbid(Some("only-readers-fetch")),
        ),
        (
            "auditor fetches envelope",
            Some(&w.auditor),
            Action::FetchEnvelope {
                certificate: &normal,
            },
            Forbid(Some("auditors-never-fetch")),
        ),
        (
            "listed auditor fetches envelope",
            Some(&w.auditor),
            Action::FetchEnvelope {
                certificate: &auditor_listed,
            },
            Forbid(Some("auditors-never-fetch")),
        ),
        (
            "listed auditor fetches ciphertext",
            Some(&w.auditor),
            Action::FetchCiphertext {
                certificate: &auditor_listed,
            },
            Forbid(Some("auditors-never-fetch")),
        ),
        (
            "fetch after purge",
            Some(&w.cbp),
            Action::FetchCiphertext {
                certificate: &purged,
            },
            Forbid(Some("nothing-after-purge")),
        ),
        (
            "anonymous fetches",
            None,
            Action::FetchCiphertext {
                certificate: &normal,
            },
            Forbid(None),
        ),
        // Readers disclose.
        (
            "customs discloses",
            Some(&w.cbp),
            Action::Disclose {
                certificate: &normal,
            },
            Allow,
        ),
        (
            "registrant discloses",
            Some(&w.importer),
            Action::Disclose {
                certificate: &normal,
            },
            Allow,
        ),
        (
            "stranger discloses",
            Some(&w.broker2),
            Action::Disclose {
                certificate: &normal,
            },
            Forbid(None),
        ),
        // The log is public.
        ("anonymous reads log", None, Action::ReadLog, Allow),
        (
            "auditor reads log",
            Some(&w.auditor),
            Action::ReadLog,
            Allow,
        ),
        (
            "importer reads log",
            Some(&w.importer),
            Action::ReadLog,
            Allow,
        ),
    ];
    for (name, principal, action, expect) in cases {
        check(&DEFAULT, name, principal, action, expect);
    }
}

#[test]
fn allowed_decisions_name_the_permit() {
    let w = world();
    let normal = cert(&w.importer, &[&w.cbp], false);
    let d = DEFAULT.decide(
        Some(&w.cbp),
        &Action::FetchEnvelope {
            certificate: &normal,
        },
    );
    assert_eq!(d.policies(), ["readers-read"]);
    let denied = DEFAULT
        .authorize(
            Some(&w.auditor),
            &Action::FetchEnvelope {
                certificate: &normal,
            },
        )
        .unwrap_err();
    assert_eq!(denied.code(), "forbidden");
    assert_eq!(denied.to_string(), "forbidden by policy");
    assert!(
        denied
            .policies()
            .contains(&"auditors-never-fetch".to_owned())
    );
    assert!(denied.errors().is_empty());
}

/// Deciding several actions on one certificate with one entity set gives each action the decision it gets
/// alone, for every kind of principal, granted or not, purged or not; mixed actions fall back to one each.
#[test]
fn decisions_sharing_entities_match_single_decisions() {
    let w = world();
    let certs = [
        cert(&w.importer, &[&w.cbp, &w.broker], false),
        cert(&w.importer, &[&w.cbp], true),
    ];
    let principals = [
        Some(&w.importer),
        Some(&w.cbp),
        Some(&w.broker),
        Some(&w.cbp2),
        Some(&w.auditor),
        Some(&w.operator),
        None,
    ];
    let mut allowed = 0;
    for certificate in &certs {
        let grantee = &w.broker2;
        let actions = [
            Action::FetchCiphertext { certificate },
            Action::FetchEnvelope { certificate },
            Action::ListGrants { certificate },
            Action::Purge { certificate },
            Action::Disclose { certificate },
            Action::Grant {
                certificate,
                grantee,
            },
        ];
        for principal in principals {
            for set in [&actions[..2], &actions[..5], &actions[..]] {
                let alone: Vec<Decision> =
                    set.iter().map(|a| DEFAULT.decide(principal, a)).collect();
                assert_eq!(DEFAULT.decide_all(principal, set), alone);
                allowed += alone.iter().filter(|d| d.is_allowed()).count();
            }
        }
    }
    assert!(allowed > 0, "some of these decisions allow");
}
