#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use super::*;

fn default_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("policies")
}

static DEFAULT: LazyLock<Authorizer> = LazyLock::new(|| Authorizer::load(&default_dir()).unwrap());

fn party(id: &str, role: Role) -> PartyInfo {
    PartyInfo {
        id: id.to_owned(),
        role,
    }
}

struct World {
    operator: PartyInfo,
    importer: PartyInfo,
    exporter: PartyInfo,
    producer: PartyInfo,
    other_importer: PartyInfo,
    broker: PartyInfo,
    broker2: PartyInfo,
    cbp: PartyInfo,
    cbp2: PartyInfo,
    auditor: PartyInfo,
}

fn world() -> World {
    World {
        operator: party("operator", Role::Operator),
        importer: party("acme-imports", Role::Importer),
        exporter: party("maple-exports", Role::Exporter),
        producer: party("sierra-mills", Role::Producer),
        other_importer: party("globex", Role::Importer),
        broker: party("brokerage-1", Role::Broker),
        broker2: party("brokerage-2", Role::Broker),
        cbp: party("cbp", Role::Customs),
        cbp2: party("cbp-laredo", Role::Customs),
        auditor: party("audit-co", Role::Auditor),
    }
}

fn cert(registrant: &PartyInfo, recipients: &[&PartyInfo], purged: bool) -> CertificateInfo {
    CertificateInfo {
        id: "00112233445566778899aabbccddeeff".to_owned(),
        registrant: registrant.id.clone(),
        recipients: recipients.iter().map(|p| (*p).clone()).collect(),
        purged,
    }
}

/// Expected outcome: allowed, or denied with the `forbid` that decides (`None`: denied because nothing permits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Allow,
    Forbid(Option<&'static str>),
}
use Expect::{Allow, Forbid};

fn check(
    authz: &Authorizer,
    name: &str,
    principal: Option<&PartyInfo>,
    action: Action<'_>,
    expect: Expect,
) {
    let decision = authz.decide(principal, &action);
    match expect {
        Allow => assert!(
            decision.is_allowed(),
            "{name}: expected allow, got {decision:?}"
        ),
        Forbid(policy) => {
            assert!(
                !decision.is_allowed(),
                "{name}: expected deny, got {decision:?}"
            );
            if let Some(policy) = policy {
                assert!(
                    decision.policies().iter().any(|p| p == policy),
                    "{name}: expected {policy}, got {decision:?}"
                );
            }
        }
    }
}

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

#[test]
fn loads_the_default_policies() {
    let ids = DEFAULT.policy_ids();
    for id in [
        "only-operator-enrolls",
        "register-with-customs",
        "no-grant-to-auditor",
        "log-is-public",
    ] {
        assert!(ids.iter().any(|i| i == id), "{id} missing from {ids:?}");
    }
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Authorizer>();
}

/// A temporary copy of the default policy directory, plus `extra` files.
fn policy_dir(extra: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(default_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path
            .extension()
            .is_some_and(|e| e == "cedar" || e == "cedarschema")
        {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    for (name, text) in extra {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn load_error(dir: &tempfile::TempDir) -> String {
    Authorizer::load(dir.path()).unwrap_err().to_string()
}

#[test]
fn a_permit_cannot_override_a_forbid() {
    let dir = policy_dir(&[(
        "zz-permissive.cedar",
        "@id(\"allow-everything\")\npermit (principal, action, resource);\n",
    )]);
    let authz = Authorizer::load(dir.path()).unwrap();
    let w = world();
    let normal = cert(&w.importer, &[&w.cbp, &w.broker], false);
    let no_customs = cert(&w.importer, &[&w.broker], false);
    let by_broker = cert(&w.broker, &[&w.cbp], false);
    let cases: Vec<(&str, Option<&PartyInfo>, Action<'_>, Expect)> = vec![
        // The extra permit works where no invariant speaks...
        (
            "stranger discloses",
            Some(&w.broker2),
            Action::Disclose {
                certificate: &normal,
            },
            Allow,
        ),
        // ...and every invariant still holds.
        (
            "auditor fetches",
            Some(&w.auditor),
            Action::FetchEnvelope {
                certificate: &normal,
            },
            Forbid(Some("auditors-never-fetch")),
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
            "importer enrolls",
            Some(&w.importer),
            Action::Enroll { party: &w.broker },
            Forbid(Some("only-operator-enrolls")),
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
            "no customs",
            Some(&w.importer),
            Action::Register {
                certificate: &no_customs,
            },
            Forbid(Some("register-with-customs")),
        ),
        (
            "stranger purges",
            Some(&w.other_importer),
            Action::Purge {
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
            "ungranted fetch",
            Some(&w.broker2),
            Action::FetchCiphertext {
                certificate: &normal,
            },
            Forbid(Some("only-readers-fetch")),
        ),
    ];
    for (name, principal, action, expect) in cases {
        check(&authz, name, principal, action, expect);
    }
}

#[test]
fn a_policy_failing_validation_is_refused() {
    let dir = policy_dir(&[(
        "extra.cedar",
        "// a comment\npermit (principal, action == Action::\"grant\", resource)\nwhen { principal.department == \"x\" };\n",
    )]);
    let err = load_error(&dir);
    assert!(
        err.contains("extra.cedar") && err.contains("does not validate") && err.contains("line 3"),
        "{err}"
    );

    // A misspelt role is caught: roles are an enumerated entity type.
    let dir = policy_dir(&[(
        "typo.cedar",
        "permit (principal, action == Action::\"purge\", resource)\nwhen { principal.role == Role::\"custom\" };\n",
    )]);
    let err = load_error(&dir);
    assert!(err.contains("typo.cedar"), "{err}");

    // An action applied to the wrong resource type.
    let dir = policy_dir(&[(
        "wrong.cedar",
        "permit (principal, action == Action::\"read_log\", resource is Certificate);\n",
    )]);
    assert!(load_error(&dir).contains("wrong.cedar"));

    // A forbid that can never match (a guard that would silently guard nothing) draws a warning, which refuses.
    let dir = policy_dir(&[(
        "never.cedar",
        "forbid (principal, action == Action::\"read_log\", resource is Certificate);\n",
    )]);
    let err = load_error(&dir);
    assert!(
        err.contains("never.cedar") && err.contains("impossible"),
        "{err}"
    );
}

#[test]
fn broken_directories_are_refused() {
    let dir = policy_dir(&[(
        "syntax.cedar",
        "permit (principal, action, resource)\nwhen { principal.role == };\n",
    )]);
    let err = load_error(&dir);
    assert!(
        err.contains("syntax.cedar") && err.contains("line 2"),
        "{err}"
    );

    let dir = policy_dir(&[(
        "dup.cedar",
        "@id(\"log-is-public\")\npermit (principal, action == Action::\"read_log\", resource);\n",
    )]);
    let err = load_error(&dir);
    assert!(
        err.contains("dup.cedar") && err.contains("log-is-public"),
        "{err}"
    );

    let dir = policy_dir(&[(
        "tmpl.cedar",
        "permit (principal == ?principal, action, resource);\n",
    )]);
    assert!(load_error(&dir).contains("templates"));

    let dir = policy_dir(&[]);
    std::fs::remove_file(dir.path().join(SCHEMA_FILE)).unwrap();
    assert!(load_error(&dir).contains(SCHEMA_FILE));

    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        default_dir().join(SCHEMA_FILE),
        dir.path().join(SCHEMA_FILE),
    )
    .unwrap();
    assert!(matches!(
        Authorizer::load(dir.path()),
        Err(AuthzError::NoPolicies(_))
    ));
}

#[test]
fn a_schema_out_of_step_with_the_server_is_refused() {
    let dir = policy_dir(&[]);
    let path = dir.path().join(SCHEMA_FILE);
    let schema = std::fs::read_to_string(&path)
        .unwrap()
        .replace("  purged: Bool,\n", "");
    std::fs::write(&path, schema).unwrap();
    // Caught before any policy is read (the policies that use `purged` would also fail validation).
    let err = Authorizer::load(dir.path()).unwrap_err();
    assert!(matches!(err, AuthzError::SchemaMismatch { .. }), "{err}");
    assert!(err.to_string().contains(SCHEMA_FILE));
}

#[test]
fn roles_parse_from_their_names() {
    for role in Role::ALL {
        assert_eq!(role.as_str().parse::<Role>().unwrap(), role);
    }
    assert!("Customs".parse::<Role>().is_err());
}

#[test]
fn the_readme_example_loads_and_works() {
    let readme = std::fs::read_to_string(default_dir().join("README.md")).unwrap();
    let start = readme.find("```cedar\n").unwrap() + "```cedar\n".len();
    let snippet = &readme[start..start + readme[start..].find("```").unwrap()];
    let authz = Authorizer::load(policy_dir(&[("suspend.cedar", snippet)]).path()).unwrap();
    let w = world();
    let normal = cert(&w.other_importer, &[&w.cbp], false);
    check(
        &authz,
        "suspended registers",
        Some(&w.other_importer),
        Action::Register {
            certificate: &normal,
        },
        Forbid(Some("suspend-globex")),
    );
    check(
        &authz,
        "suspended reads log",
        Some(&w.other_importer),
        Action::ReadLog,
        Allow,
    );
    check(
        &authz,
        "others unaffected",
        Some(&w.cbp),
        Action::FetchEnvelope {
            certificate: &normal,
        },
        Allow,
    );
}

mod properties {
    #![allow(clippy::unwrap_used)]
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
}

#[test]
fn hierarchies_are_refused() {
    // The server sends no parents and no action entities: `in` over a hierarchy would validate and never match.
    let dir = policy_dir(&[]);
    let path = dir.path().join(SCHEMA_FILE);
    let schema = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{schema}\naction manage;\naction audit_trail in [manage] appliesTo {{ principal: Party, resource: Log }};\n")).unwrap();
    let err = load_error(&dir);
    assert!(err.contains("action groups"), "{err}");

    let dir = policy_dir(&[]);
    let path = dir.path().join(SCHEMA_FILE);
    let schema = std::fs::read_to_string(&path)
        .unwrap()
        .replace("entity Party = {", "entity Org;\nentity Party in [Org] = {");
    std::fs::write(&path, schema).unwrap();
    let err = load_error(&dir);
    assert!(err.contains("hierarchies"), "{err}");
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
