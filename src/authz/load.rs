//! Loading a policy directory: the schema, every `*.cedar` file, strict validation, and a check that the schema
//! still describes what the server sends.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use cedar_policy::{Entities, PolicyId, PolicySet, Request, Schema, ValidationMode, Validator};
use miette::Diagnostic;

use super::AuthzError;
use super::model::{Action, CertificateInfo, Names, PartyInfo, Role};

/// The schema's file name in a policy directory.
pub const SCHEMA_FILE: &str = "tradeledger.cedarschema";

/// Reads and validates a policy directory; returns the merged policy set and the schema.
pub(crate) fn load_dir(dir: &Path, names: &Names) -> Result<(PolicySet, Schema), AuthzError> {
    let schema_path = dir.join(SCHEMA_FILE);
    let schema_text = read(&schema_path)?;
    let (schema, _warnings) =
        Schema::from_cedarschema_str(&schema_text).map_err(|e| AuthzError::Schema {
            path: schema_path.clone(),
            message: located_message(&e, &schema_text),
        })?;
    check_schema_matches(&schema, &schema_path, names)?;

    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| AuthzError::Io {
            path: dir.to_owned(),
            source,
        })?
        .map(|entry| {
            entry.map(|e| e.path()).map_err(|source| AuthzError::Io {
                path: dir.to_owned(),
                source,
            })
        })
        .collect::<Result<_, _>>()?;
    files.retain(|p| p.extension().is_some_and(|e| e == "cedar") && p.is_file());
    // Sorted, so that loading, ids and error messages are the same on every machine.
    files.sort();
    if files.is_empty() {
        return Err(AuthzError::NoPolicies(dir.to_owned()));
    }

    let validator = Validator::new(schema.clone());
    let mut merged = PolicySet::new();
    let mut defined_in: HashMap<String, PathBuf> = HashMap::new();
    for path in files {
        let (file_set, text) = load_file(&path)?;
        let result = validator.validate(&file_set, ValidationMode::Strict);
        // Warnings refuse too: an "impossible policy" warning on a `forbid` means an invariant that never fires.
        let problems: Vec<String> = result
            .validation_errors()
            .map(|e| format!("error: {}", located_message(e, &text)))
            .chain(
                result
                    .validation_warnings()
                    .map(|w| format!("warning: {}", located_message(w, &text))),
            )
            .collect();
        if !problems.is_empty() {
            return Err(AuthzError::Validation {
                path,
                message: problems.join("\n"),
            });
        }
        for policy in file_set.policies() {
            let id = policy.id().to_string();
            if let Some(first) = defined_in.get(&id) {
                return Err(AuthzError::Policy {
                    path,
                    message: format!("policy id {id} is already used in {}", first.display()),
                });
            }
            merged.add(policy.clone()).map_err(|e| AuthzError::Policy {
                path: path.clone(),
                message: e.to_string(),
            })?;
            defined_in.insert(id, path.clone());
        }
    }
    Ok((merged, schema))
}

fn read(path: &Path) -> Result<String, AuthzError> {
    std::fs::read_to_string(path).map_err(|source| AuthzError::Io {
        path: path.to_owned(),
        source,
    })
}

/// A Cedar diagnostic on one line, with its help text.
fn full_message(e: &dyn Diagnostic) -> String {
    match e.help() {
        Some(help) => format!("{e} ({help})"),
        None => e.to_string(),
    }
}

/// A Cedar diagnostic about `text`, prefixed with the line and column of its first label.
fn located_message(e: &dyn Diagnostic, text: &str) -> String {
    let offset = e
        .labels()
        .and_then(|mut labels| labels.next())
        .map(|l| l.offset());
    match offset.and_then(|o| text.get(..o)) {
        Some(before) => {
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {}", full_message(e))
        }
        None => full_message(e),
    }
}

/// Parses one policy file. Each policy is named by its `@id` annotation, or `<file>/<cedar's id>` without one, so
/// that denial logs point at a rule a person can find.
fn load_file(path: &Path) -> Result<(PolicySet, String), AuthzError> {
    let text = read(path)?;
    let parsed = PolicySet::from_str(&text).map_err(|e| AuthzError::Policy {
        path: path.to_owned(),
        message: located_message(&e, &text),
    })?;
    if parsed.templates().next().is_some() {
        return Err(AuthzError::Policy {
            path: path.to_owned(),
            message: "templates are not supported".to_owned(),
        });
    }
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut set = PolicySet::new();
    for policy in parsed.policies() {
        let id = match policy.annotation("id") {
            Some(id) => id.to_owned(),
            None => format!("{file}/{}", policy.id()),
        };
        set.add(policy.new_id(PolicyId::new(&id)))
            .map_err(|_| AuthzError::Policy {
                path: path.to_owned(),
                message: format!("policy id {id} is used twice"),
            })?;
    }
    Ok((set, text))
}

/// Builds one request of every kind, as the server would, and checks that the schema accepts it. A schema edited
/// out of step with the code would otherwise deny everything at run time, or worse, let a policy read an
/// attribute the server never sends.
fn check_schema_matches(schema: &Schema, path: &Path, names: &Names) -> Result<(), AuthzError> {
    // The server sends no parents and no action entities, so a hierarchy in the schema would let a policy test
    // `principal in Group::"x"` or `action in Action::"group"`, validate, and never match: a silent hole in a
    // `forbid`. Refuse hierarchies outright.
    if let Some(group) = schema.action_groups().next() {
        return Err(AuthzError::SchemaMismatch {
            path: path.to_owned(),
            message: format!("action groups are not supported ({group}): list actions explicitly"),
        });
    }
    for ty in schema.entity_types() {
        if schema.ancestors(ty).is_some_and(|mut a| a.next().is_some()) {
            return Err(AuthzError::SchemaMismatch {
                path: path.to_owned(),
                message: format!("entity hierarchies are not supported ({ty} has parents)"),
            });
        }
    }
    let party = PartyInfo {
        id: "probe-importer".to_owned(),
        role: Role::Importer,
    };
    let customs = PartyInfo {
        id: "probe-customs".to_owned(),
        role: Role::Customs,
    };
    let operator = PartyInfo {
        id: "probe-operator".to_owned(),
        role: Role::Operator,
    };
    let cert = CertificateInfo {
        id: "00000000000000000000000000000000".to_owned(),
        registrant: party.id.clone(),
        recipients: vec![customs.clone()],
        purged: false,
    };
    let probes: [(Option<&PartyInfo>, Action<'_>); 11] = [
        (Some(&operator), Action::Enroll { party: &party }),
        (Some(&party), Action::Register { certificate: &cert }),
        (
            Some(&party),
            Action::Grant {
                certificate: &cert,
                grantee: &customs,
            },
        ),
        (
            Some(&party),
            Action::Revoke {
                certificate: &cert,
                revokee: &customs,
            },
        ),
        (Some(&party), Action::Purge { certificate: &cert }),
        (
            Some(&customs),
            Action::FetchCiphertext { certificate: &cert },
        ),
        (Some(&customs), Action::FetchEnvelope { certificate: &cert }),
        (Some(&customs), Action::Disclose { certificate: &cert }),
        (Some(&party), Action::ListGrants { certificate: &cert }),
        (Some(&customs), Action::ReadLog),
        (None, Action::ReadLog),
    ];
    for (principal, action) in probes {
        let mismatch = |message: String| AuthzError::SchemaMismatch {
            path: path.to_owned(),
            message: format!("{}: {message}", action.name()),
        };
        let q = names.question(principal, &action)?;
        Entities::from_entities(q.entities, Some(schema))
            .map_err(|e| mismatch(full_message(&e)))?;
        Request::new(q.principal, q.action, q.resource, q.context, Some(schema))
            .map_err(|e| mismatch(full_message(&e)))?;
    }
    Ok(())
}
