//! USMCA certification of origin: the nine minimum data elements of USMCA Annex 5-A (19 CFR 182.12).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::countries::USMCA;
use super::date::Date;
use super::party::{Address, Party, PartySpec, Territory, address, party};
use super::rules::{Period, blanket, email, hs_code, phone};
use super::signature::{Signature, signature};
use super::violation::Report;
use super::walk::{Fields, choice, choice_as, choice_said, list, long, short};

/// The schema identifier this module validates.
pub const USMCA_SCHEMA: &str = "tradeledger/usmca/v1";

/// Addresses of exporters, producers and importers must be in the USMCA territory (Annex 5-A, elements 3-5).
pub(crate) const USMCA_TERRITORY: Territory = Territory {
    codes: &USMCA,
    rule: "address.usmca-country",
    name: "Canada, Mexico or the United States (CA, MX, US)",
};

const PARTY: PartySpec = PartySpec {
    phone: true,
    email: true,
    tax_id: false,
    territory: Some(USMCA_TERRITORY),
};

/// A USMCA certification of origin (schema `tradeledger/usmca/v1`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsmcaCertificate {
    /// Always [`USMCA_SCHEMA`] after validation.
    pub schema: String,
    /// Language of the certification (English, Spanish or French); English when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<Language>,
    /// Elements 1 and 2: who certifies, in which role.
    pub certifier: Certifier,
    /// Element 3: the exporter, when not the certifier (may be omitted by a producer who does not know it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter: Option<Party>,
    /// Element 4: the producer, when not the certifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub producer: Option<UsmcaProducer>,
    /// Element 5: the importer, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub importer: Option<Party>,
    /// Elements 6 and 7: the goods.
    pub goods: Vec<UsmcaGood>,
    /// Element 8: blanket period for identical goods (at most 12 months).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blanket_period: Option<Period>,
    /// Element 9: signature, date and certification statement.
    pub signature: Signature,
}

/// Language of a USMCA certification (Art. 5.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Language {
    /// English.
    #[serde(rename = "en")]
    English,
    /// Spanish.
    #[serde(rename = "es")]
    Spanish,
    /// French.
    #[serde(rename = "fr")]
    French,
}

const LANGUAGES: [(&str, Language); 3] = [
    ("en", Language::English),
    ("es", Language::Spanish),
    ("fr", Language::French),
];

/// Who completes a certification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CertifierRole {
    /// The importer.
    #[serde(rename = "IMPORTER")]
    Importer,
    /// The exporter.
    #[serde(rename = "EXPORTER")]
    Exporter,
    /// The producer.
    #[serde(rename = "PRODUCER")]
    Producer,
}

pub(crate) const ROLES: [(&str, CertifierRole); 3] = [
    ("IMPORTER", CertifierRole::Importer),
    ("EXPORTER", CertifierRole::Exporter),
    ("PRODUCER", CertifierRole::Producer),
];

/// Elements 1 and 2: the certifier's role, name, title, address, telephone and e-mail.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Certifier {
    /// Importer, exporter or producer.
    pub role: CertifierRole,
    /// Name of the person certifying.
    pub name: String,
    /// Title of the person certifying.
    pub title: String,
    /// Business address.
    pub address: Address,
    /// Telephone number.
    pub phone: String,
    /// E-mail address.
    pub email: String,
}

/// Element 4: the producer may be named, listed, or withheld as the treaty allows.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum UsmcaProducer {
    /// `"VARIOUS"` or `"AVAILABLE UPON REQUEST BY THE IMPORTING AUTHORITIES"`.
    Withheld(UsmcaProducerWithheld),
    /// One producer.
    One(Party),
    /// Several producers.
    Several(Vec<Party>),
}

/// The literals that stand for a producer's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsmcaProducerWithheld {
    /// More than one producer.
    #[serde(rename = "VARIOUS")]
    Various,
    /// The producer's identity is kept confidential and given to customs on request.
    #[serde(rename = "AVAILABLE UPON REQUEST BY THE IMPORTING AUTHORITIES")]
    AvailableUponRequest,
}

const WITHHELD: [(&str, UsmcaProducerWithheld); 2] = [
    ("VARIOUS", UsmcaProducerWithheld::Various),
    (
        "AVAILABLE UPON REQUEST BY THE IMPORTING AUTHORITIES",
        UsmcaProducerWithheld::AvailableUponRequest,
    ),
];

/// Elements 6 and 7 for one good.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsmcaGood {
    /// Description sufficient to relate it to the invoice and the HS.
    pub description: String,
    /// HS classification (6 digits) or HTS (8 or 10), dots allowed.
    pub hs_code: String,
    /// Origin criterion, Art. 4.2 (a)-(d).
    pub origin_criterion: UsmcaCriterion,
    /// Country of origin.
    pub country_of_origin: UsmcaCountry,
    /// Invoice number; required for a single shipment (no blanket period).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
}

/// USMCA origin criterion (Art. 4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsmcaCriterion {
    /// Wholly obtained or produced.
    A,
    /// Produced entirely from originating materials.
    B,
    /// Meets the product-specific rule of origin.
    C,
    /// Unassembled goods or headings that describe both the good and its parts (Art. 4.2 (d)).
    D,
}

const CRITERIA: [(&str, UsmcaCriterion); 4] = [
    ("A", UsmcaCriterion::A),
    ("B", UsmcaCriterion::B),
    ("C", UsmcaCriterion::C),
    ("D", UsmcaCriterion::D),
];

/// A USMCA party, as a country of origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UsmcaCountry {
    /// Canada.
    #[serde(rename = "CA")]
    Canada,
    /// Mexico.
    #[serde(rename = "MX")]
    Mexico,
    /// The United States.
    #[serde(rename = "US")]
    UnitedStates,
}

const COUNTRIES: [(&str, UsmcaCountry); 3] = [
    ("CA", UsmcaCountry::Canada),
    ("MX", UsmcaCountry::Mexico),
    ("US", UsmcaCountry::UnitedStates),
];

/// The statement's opening as the regulations give it (19 CFR 182.12(a)(9)); Spanish and French certifications
/// are accepted with a statement opening in their language.
pub(crate) const STATEMENT_EN: &str = "I certify that the goods described in this document qualify as originating and \
     the information contained in this document is true and accurate";
const STATEMENT_ES: [&str; 1] = ["Certifico que"];
const STATEMENT_FR: [&str; 2] = ["Je certifie que", "J'atteste que"];

/// Validates the fields of a USMCA body (the caller has checked `regime` and `schema`).
pub(crate) fn read(
    report: &mut Report,
    f: &mut Fields<'_>,
    schema: Option<String>,
    today: Date,
) -> Option<UsmcaCertificate> {
    let language = f.optional(report, "language", |r, p, v| choice(r, p, v, &LANGUAGES));
    let certifier = f.required(report, "certifier", certifier);
    let exporter = f.optional(report, "exporter", |r, p, v| party(r, p, v, PARTY));
    let producer = f.optional(report, "producer", producer);
    let importer = f.optional(report, "importer", |r, p, v| party(r, p, v, PARTY));
    // Element 6: a single shipment is identified by its invoice; a blanket certification covers many.
    let single_shipment = f.peek("blanket_period").is_none_or(Value::is_null);
    let goods = f.required(report, "goods", |r, p, v| {
        list(r, p, v, |r, p, v| good(r, p, v, single_shipment))
    });
    let blanket_period = f.optional(report, "blanket_period", blanket);
    let openings: Vec<&str> = match language {
        Some(None | Some(Language::English)) => vec![STATEMENT_EN],
        Some(Some(Language::Spanish)) => STATEMENT_ES.to_vec(),
        Some(Some(Language::French)) => STATEMENT_FR.to_vec(),
        None => [STATEMENT_EN]
            .into_iter()
            .chain(STATEMENT_ES)
            .chain(STATEMENT_FR)
            .collect(),
    };
    let signature = f.required(report, "signature", |r, p, v| {
        signature(r, p, v, today, &openings)
    });

    // Elements 3 and 4 may be left out only by the party they describe (or, for the exporter, by a producer
    // who does not know it). An invalid field was reported already, hence the `Some(None)` match.
    // The role decides even when other certifier fields are wrong, so read it on its own.
    let role = f
        .peek("certifier")
        .and_then(|c| c.get("role"))
        .and_then(Value::as_str);
    let role = ROLES
        .iter()
        .find(|(name, _)| Some(*name) == role)
        .map(|(_, r)| *r);
    if role == Some(CertifierRole::Importer) && matches!(exporter, Some(None)) {
        report.add(
            &f.pointer("exporter"),
            "party.required-for-role",
            "required when the importer certifies",
        );
    }
    if role.is_some_and(|r| r != CertifierRole::Producer) && matches!(producer, Some(None)) {
        report.add(
            &f.pointer("producer"),
            "party.required-for-role",
            "required unless the producer certifies",
        );
    }
    Some(UsmcaCertificate {
        schema: schema?,
        language: language?,
        certifier: certifier?,
        exporter: exporter?,
        producer: producer?,
        importer: importer?,
        goods: goods?,
        blanket_period: blanket_period?,
        signature: signature?,
    })
}

fn certifier(report: &mut Report, pointer: &str, value: &Value) -> Option<Certifier> {
    let mut f = Fields::open(report, pointer, value)?;
    let role = f.required(report, "role", |r, p, v| choice(r, p, v, &ROLES));
    let name = f.required(report, "name", short);
    let title = f.required(report, "title", short);
    let address = f.required(report, "address", |r, p, v| address(r, p, v, None));
    let phone = f.required(report, "phone", phone);
    let email = f.required(report, "email", email);
    f.finish(report);
    Some(Certifier {
        role: role?,
        name: name?,
        title: title?,
        address: address?,
        phone: phone?,
        email: email?,
    })
}

fn producer(report: &mut Report, pointer: &str, value: &Value) -> Option<UsmcaProducer> {
    match value {
        Value::String(_) => choice_said(
            report,
            pointer,
            value,
            &WITHHELD,
            "party.literal",
            "expected a party, a list of parties or",
        )
        .map(UsmcaProducer::Withheld),
        Value::Array(_) => list(report, pointer, value, |r, p, v| party(r, p, v, PARTY))
            .map(UsmcaProducer::Several),
        _ => party(report, pointer, value, PARTY).map(UsmcaProducer::One),
    }
}

fn good(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    single_shipment: bool,
) -> Option<UsmcaGood> {
    let mut f = Fields::open(report, pointer, value)?;
    let description = f.required(report, "description", long);
    let hs_code = f.required(report, "hs_code", hs_code);
    let origin_criterion = f.required(report, "origin_criterion", |r, p, v| {
        choice_as(r, p, v, &CRITERIA, "origin.criterion")
    });
    let country_of_origin = f.required(report, "country_of_origin", |r, p, v| {
        choice_as(r, p, v, &COUNTRIES, "origin.country")
    });
    let invoice_number = if single_shipment {
        let why = "required for a single shipment (no blanket period)";
        f.required_as(report, "invoice_number", "invoice.required", why, short)
            .map(Some)
    } else {
        f.optional(report, "invoice_number", short)
    };
    f.finish(report);
    Some(UsmcaGood {
        description: description?,
        hs_code: hs_code?,
        origin_criterion: origin_criterion?,
        country_of_origin: country_of_origin?,
        invoice_number: invoice_number?,
    })
}
