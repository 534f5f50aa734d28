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

mod loading;
mod properties;
mod rules;
