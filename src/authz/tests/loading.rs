//! Loading policy directories: what is accepted, what is refused and why.

use super::*;

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
