//! W3C Verifiable Credentials 2.0 of the CCG Traceability Vocabulary accepted as certificate bodies:
//! `USMCACertificationOfOrigin` and `CertificationOfOrigin`, as plain JSON or secured with VC-JOSE (a compact
//! JWS, kept in the body as [`envelope::ENVELOPE_MEMBER`]).
//!
//! Validation follows the vocabulary's JSON schemas (required fields, JSON types, the `const` arrays, the
//! `format`s, `additionalProperties: false` where a schema says so) and adds the trade rules tradeledger's own
//! schemas enforce: HS codes of at least 6 digits, origin criteria A-D, a blanket period (`validFrom` to
//! `validUntil`) of at most 12 months, the parties the regime requires in its territory. Every violation is
//! reported at once, with its pointer into the credential (docs/formats.md, "Credential bodies").

mod common;
pub mod envelope;
mod origin;
mod usmca;

use serde_json::Value;

use super::violation::{Report, Violation};
use super::walk::{Fields, string};
use common::{CONTEXT, constant, credential_schema, date_time, maybe, uri};

/// The two credential types accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialType {
    /// `USMCACertificationOfOrigin` (subject `USMCAClaims`, goods `USMCAProduct`).
    UsmcaCertificationOfOrigin,
    /// The generic `CertificationOfOrigin` (goods `TradeLineItem`).
    CertificationOfOrigin,
}

impl CredentialType {
    /// The type's name in the vocabulary.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialType::UsmcaCertificationOfOrigin => "USMCACertificationOfOrigin",
            CredentialType::CertificationOfOrigin => "CertificationOfOrigin",
        }
    }
}

/// A validated credential: what tradeledger needs to know about it beyond the body itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    /// Which of the two types it is.
    pub credential_type: CredentialType,
    /// `issuer.id`, when the credential names one.
    pub issuer: Option<String>,
    /// The VC-JOSE token the body keeps, when the credential was registered secured.
    pub token: Option<String>,
}

/// Whether `body` is meant as a credential rather than a native certificate: a JSON object with an `@context`
/// or a `type` and no `regime`.
pub fn is_credential(body: &Value) -> bool {
    body.as_object().is_some_and(|map| {
        !map.contains_key("regime") && (map.contains_key("@context") || map.contains_key("type"))
    })
}

/// Validates a credential body, reporting every violation with its JSON pointer.
pub fn validate_credential(body: &Value) -> Result<Credential, Vec<Violation>> {
    let mut report = Report::default();
    let credential = read(&mut report, body);
    match credential {
        Some(c) if report.is_clean() => Ok(c),
        None if report.is_clean() => {
            report.add("", "internal", "the credential could not be validated");
            Err(report.into_violations())
        }
        _ => Err(report.into_violations()),
    }
}

fn read(report: &mut Report, body: &Value) -> Option<Credential> {
    let mut f = Fields::open(report, "", body)?;
    // The type decides the rest, so an unknown type is all that is reported (as a native body's `regime`).
    let credential_type = f.required(report, "type", |r, p, v| {
        if v == &Value::from(usmca::TYPE.to_vec()) {
            Some(CredentialType::UsmcaCertificationOfOrigin)
        } else if v == &Value::from(origin::TYPE.to_vec()) {
            Some(CredentialType::CertificationOfOrigin)
        } else {
            r.add(
                p,
                "credential.type",
                "expected [\"VerifiableCredential\", \"USMCACertificationOfOrigin\"] or \
                 [\"VerifiableCredential\", \"CertificationOfOrigin\"]",
            );
            None
        }
    })?;
    let usmca = credential_type == CredentialType::UsmcaCertificationOfOrigin;
    let mut ok = f
        .required(report, "@context", |r, p, v| constant(r, p, v, &CONTEXT))
        .is_some();
    ok &= f.required(report, "id", uri).is_some();
    let valid_from = f.required(report, "validFrom", date_time);
    // USMCA: the blanket period's end is required; the generic credential may leave it open.
    let valid_until = if usmca {
        f.required(report, "validUntil", date_time).map(Some)
    } else {
        f.optional(report, "validUntil", date_time)
    };
    ok &= valid_from.is_some() && valid_until.is_some();
    let issuer = f.required(report, "issuer", |r, p, v| {
        if usmca {
            usmca::issuer(r, p, v)
        } else {
            origin::issuer(r, p, v)
        }
    });
    ok &= issuer.is_some();
    ok &= maybe(&mut f, report, "credentialSchema", credential_schema);
    ok &= f
        .required(report, "credentialSubject", |r, p, v| {
            if usmca {
                usmca::claims(r, p, v)
            } else {
                origin::subject(r, p, v)
            }
        })
        .is_some();
    if !usmca {
        ok &= maybe(&mut f, report, "proof", proof);
    }
    ok &= maybe(&mut f, report, envelope::ENVELOPE_MEMBER, |r, p, v| {
        envelope::read(r, p, v, body)
    });
    let until_pointer = f.pointer("validUntil");
    f.finish(report);
    // A USMCA credential with an invoice number covers a single shipment (the vocabulary's `invoiceNumber`):
    // its validity is then not a blanket period, and only its order is checked, as a native single shipment
    // has no blanket period to check.
    let single_shipment = usmca && body.pointer("/credentialSubject/invoiceNumber").is_some();
    if let (Some(from), Some(Some(until))) = (valid_from, valid_until) {
        ok &= blanket(report, &until_pointer, from, until, !single_shipment);
    }
    let issuer_id = body
        .get("issuer")
        .and_then(|i| i.get("id"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    ok.then(|| Credential {
        credential_type,
        issuer: issuer_id,
        token: envelope::token_of(body).map(str::to_owned),
    })
}

/// The period `validFrom`..`validUntil` (their calendar dates as written) runs forward and, when it is a blanket
/// period, covers at most 12 months (USMCA Art. 5.2.5; 19 CFR 10.584(b) for CAFTA-DR): rules `blanket.order` and
/// `blanket.max-12-months` at `/validUntil`, as tradeledger's own schemas report them at `/blanket_period/to`.
fn blanket(
    report: &mut Report,
    pointer: &str,
    from: super::Date,
    until: super::Date,
    is_blanket: bool,
) -> bool {
    if until < from {
        report.add(
            pointer,
            "blanket.order",
            "the period must not end before it starts",
        );
        return false;
    }
    if !is_blanket {
        return true;
    }
    match from.add_months(12) {
        Some(limit) if until <= limit => true,
        _ => {
            report.add(
                pointer,
                "blanket.max-12-months",
                "a blanket period covers at most 12 months",
            );
            false
        }
    }
}

/// The vocabulary's `proof` snippet (an embedded `Ed25519Signature2018`; open object). tradeledger keeps it
/// as content and does not verify it: only VC-JOSE tokens are verified (`client::issuer`).
fn proof(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = maybe(&mut f, report, "type", |r, p, v| {
        if v.as_str() == Some("Ed25519Signature2018") {
            Some(())
        } else {
            r.add(p, "value.enum", "expected \"Ed25519Signature2018\"");
            None
        }
    });
    for key in ["created", "verificationMethod", "jws"] {
        ok &= maybe(&mut f, report, key, |r, p, v| string(r, p, v).map(|_| ()));
    }
    ok &= maybe(&mut f, report, "proofPurpose", |r, p, v| {
        if v.as_str() == Some("assertionMethod") {
            Some(())
        } else {
            r.add(p, "value.const", "expected \"assertionMethod\"");
            None
        }
    });
    ok.then_some(())
}
