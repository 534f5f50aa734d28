//! Certificate bodies: the USMCA, CAFTA-DR and NAFTA Form 434 schemas, validated field by field on the client
//! before anything is sealed, with every violation reported at once.
//!
//! The public interface is: [`validate`] (and [`validate_json`] for raw bytes) turning a body into a typed
//! [`Certificate`] or the full list of [`Violation`]s, [`regime_of`], [`render`], and the typed structs of each
//! regime. The schema, field by field, is in docs/formats.md, "Certificate bodies". Bodies may also be W3C
//! Verifiable Credentials of the Traceability Vocabulary ([`vc`]); [`validate_document`] takes either.

mod cafta;
mod countries;
mod date;
mod nafta434;
mod party;
mod rules;
mod signature;
mod taxid;
mod usmca;
pub mod vc;
mod violation;
mod walk;

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use cafta::{
    CAFTA_DR_SCHEMA, CaftaDrCertificate, CaftaDrCertifier, CaftaDrCountry, CaftaDrGood,
    CaftaDrProducer,
};
pub use date::Date;
pub use nafta434::{
    NAFTA_434_SCHEMA, Nafta434Certificate, NaftaCriterion, NaftaGood, NaftaImporter,
    NaftaImporterLiteral, NaftaOrigin, NaftaProducer, NaftaProducerFlag, NaftaProducerLiteral,
    NaftaSignature, NetCost,
};
pub use party::{Address, Party};
pub use rules::Period;
pub use signature::Signature;
pub use taxid::{TaxId, TaxScheme};
pub use usmca::{
    Certifier, CertifierRole, Language, USMCA_SCHEMA, UsmcaCertificate, UsmcaCountry,
    UsmcaCriterion, UsmcaGood, UsmcaProducer, UsmcaProducerWithheld,
};
pub use vc::{Credential, CredentialType, is_credential, validate_credential};
pub use violation::{Violation, render};

use violation::Report;
use walk::{Fields, choice_as, string};

/// The three supported regimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Regime {
    /// USMCA certification of origin (Annex 5-A).
    #[serde(rename = "USMCA")]
    Usmca,
    /// CAFTA-DR certification of origin (19 CFR 10.584).
    #[serde(rename = "CAFTA-DR")]
    CaftaDr,
    /// Legacy NAFTA Certificate of Origin, CBP Form 434.
    #[serde(rename = "NAFTA-434")]
    Nafta434,
}

const REGIMES: [(&str, Regime); 3] = [
    ("USMCA", Regime::Usmca),
    ("CAFTA-DR", Regime::CaftaDr),
    ("NAFTA-434", Regime::Nafta434),
];

impl Regime {
    /// The value of the body's `regime` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Regime::Usmca => "USMCA",
            Regime::CaftaDr => "CAFTA-DR",
            Regime::Nafta434 => "NAFTA-434",
        }
    }

    /// The current schema identifier, the value of the body's `schema` field.
    pub fn schema(self) -> &'static str {
        match self {
            Regime::Usmca => USMCA_SCHEMA,
            Regime::CaftaDr => CAFTA_DR_SCHEMA,
            Regime::Nafta434 => NAFTA_434_SCHEMA,
        }
    }
}

impl fmt::Display for Regime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated certificate body. It serializes back to the JSON it was read from (field order aside).
///
/// The body is a trade secret, so `Debug` shows only the regime and the number of goods. Deserializing with serde
/// checks shapes only, none of the rules: read untrusted bodies with [`validate`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "regime")]
pub enum Certificate {
    /// A USMCA certification.
    #[serde(rename = "USMCA")]
    Usmca(UsmcaCertificate),
    /// A CAFTA-DR certification.
    #[serde(rename = "CAFTA-DR")]
    CaftaDr(CaftaDrCertificate),
    /// A NAFTA Form 434 certificate.
    #[serde(rename = "NAFTA-434")]
    Nafta434(Nafta434Certificate),
}

impl Certificate {
    /// The certificate's regime.
    pub fn regime(&self) -> Regime {
        match self {
            Certificate::Usmca(_) => Regime::Usmca,
            Certificate::CaftaDr(_) => Regime::CaftaDr,
            Certificate::Nafta434(_) => Regime::Nafta434,
        }
    }

    /// How many goods the certificate lists.
    pub fn goods_count(&self) -> usize {
        match self {
            Certificate::Usmca(c) => c.goods.len(),
            Certificate::CaftaDr(c) => c.goods.len(),
            Certificate::Nafta434(c) => c.goods.len(),
        }
    }
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Certificate({}, {} goods, ..)",
            self.regime(),
            self.goods_count()
        )
    }
}

/// The regime a body declares in its top-level `regime` field, if it is one of the three.
pub fn regime_of(body: &Value) -> Option<Regime> {
    let name = body.get("regime")?.as_str()?;
    REGIMES.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// Validates a certificate body and returns it typed, or every violation found.
///
/// Validation walks the whole body: missing required fields, wrong JSON types, unknown fields and every rule of
/// the regime (docs/formats.md lists them) are all reported together, each with its JSON pointer. When `regime`
/// is missing or unknown only that is reported, since the rest cannot be interpreted. `today` is the date
/// against which signature dates must not be in the future. No violation contains a value from the body.
pub fn validate(body: &Value, today: Date) -> Result<Certificate, Vec<Violation>> {
    let mut report = Report::default();
    let certificate = read(&mut report, body, today);
    match certificate {
        Some(c) if report.is_clean() => Ok(c),
        None if report.is_clean() => {
            // Every reader reports before returning `None`; reaching this is a bug, not a valid body.
            report.add("", "internal", "the body could not be validated");
            Err(report.into_violations())
        }
        _ => Err(report.into_violations()),
    }
}

/// A validated body: one of the native certificates, or a Verifiable Credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    /// A certificate of one of the three native schemas.
    Native(Box<Certificate>),
    /// A `USMCACertificationOfOrigin` or `CertificationOfOrigin` credential.
    Credential(Credential),
}

/// Validates a body that is either a native certificate ([`validate`]) or a credential
/// ([`validate_credential`]; chosen by [`is_credential`]).
pub fn validate_document(body: &Value, today: Date) -> Result<Document, Vec<Violation>> {
    if is_credential(body) {
        validate_credential(body).map(Document::Credential)
    } else {
        validate(body, today).map(|c| Document::Native(Box::new(c)))
    }
}

/// [`validate`] for raw bytes: a body that is not JSON yields one `json.syntax` violation giving the line and
/// column (and never the text found there).
pub fn validate_json(bytes: &[u8], today: Date) -> Result<Certificate, Vec<Violation>> {
    match serde_json::from_slice::<Value>(bytes) {
        Ok(body) => validate(&body, today),
        Err(e) => Err(vec![Violation {
            pointer: String::new(),
            rule: "json.syntax",
            message: format!("not valid JSON (line {}, column {})", e.line(), e.column()),
        }]),
    }
}

fn read(report: &mut Report, body: &Value, today: Date) -> Option<Certificate> {
    let mut f = Fields::open(report, "", body)?;
    let regime = f.required(report, "regime", |r, p, v| {
        choice_as(r, p, v, &REGIMES, "regime.unknown")
    })?;
    let schema = f.required(report, "schema", |r, p, v| {
        let s = string(r, p, v)?;
        if s == regime.schema() {
            Some(s.to_owned())
        } else {
            r.add(
                p,
                "schema.version",
                format!("expected \"{}\"", regime.schema()),
            );
            None
        }
    });
    let certificate = match regime {
        Regime::Usmca => usmca::read(report, &mut f, schema, today).map(Certificate::Usmca),
        Regime::CaftaDr => cafta::read(report, &mut f, schema, today).map(Certificate::CaftaDr),
        Regime::Nafta434 => {
            nafta434::read(report, &mut f, schema, today).map(Certificate::Nafta434)
        }
    };
    f.finish(report);
    certificate
}
