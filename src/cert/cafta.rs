//! CAFTA-DR certification of origin (19 CFR 10.584): no set form, the importer holds it when claiming.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::countries::CAFTA_DR;
use super::date::Date;
use super::party::{Address, Party, PartySpec, Territory, address, need, party};
use super::rules::{Period, blanket, email, hs_code, phone};
use super::signature::{Signature, signature};
use super::usmca::{CertifierRole, ROLES};
use super::violation::Report;
use super::walk::{Fields, choice, choice_as, list, long, short};

/// The schema identifier this module validates.
pub const CAFTA_DR_SCHEMA: &str = "tradeledger/cafta-dr/v1";

/// 19 CFR 10.584(a)(1): e-mail "if any", so only the telephone is required.
const PARTY: PartySpec = PartySpec {
    phone: true,
    email: false,
    tax_id: false,
    territory: None,
};

/// An originating good is produced in the territory of one or more Parties (CAFTA-DR Art. 4.1).
const PRODUCER: PartySpec = PartySpec {
    territory: Some(Territory {
        codes: &CAFTA_DR,
        rule: "address.cafta-dr-country",
        name: "a CAFTA-DR party (CR, DO, GT, HN, NI, SV, US)",
    }),
    ..PARTY
};

/// A CAFTA-DR certification of origin (schema `tradeledger/cafta-dr/v1`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaftaDrCertificate {
    /// Always [`CAFTA_DR_SCHEMA`] after validation.
    pub schema: String,
    /// The responsible official who signs.
    pub certifier: CaftaDrCertifier,
    /// The importer of record.
    pub importer: Party,
    /// The exporter, if different from the producer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exporter: Option<Party>,
    /// The producer or producers.
    pub producer: CaftaDrProducer,
    /// The goods.
    pub goods: Vec<CaftaDrGood>,
    /// Blanket period for identical goods (at most 12 months, 19 CFR 10.584(b)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blanket_period: Option<Period>,
    /// Signature, date and the "I certify that..." statement.
    pub signature: Signature,
}

/// The responsible official: role of the company they sign for, name, title and contact details.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaftaDrCertifier {
    /// Importer, exporter or producer.
    pub role: CertifierRole,
    /// Name of the official.
    pub name: String,
    /// Title of the official.
    pub title: String,
    /// Address, if different from the party's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Telephone number.
    pub phone: String,
    /// E-mail address, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
}

/// One producer or several.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CaftaDrProducer {
    /// One producer.
    One(Party),
    /// Several producers.
    Several(Vec<Party>),
}

/// One good.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaftaDrGood {
    /// Description detailed enough to relate the good to the invoice and the HS.
    pub description: String,
    /// HTSUS classification, 6 or more digits (6, 8 or 10), dots allowed.
    pub hs_code: String,
    /// The applicable rule of origin under General Note 29 of the HTSUS, e.g. "GN 29(b)(i)".
    pub rule_of_origin: String,
    /// Country of origin, a CAFTA-DR party.
    pub country_of_origin: CaftaDrCountry,
    /// Invoice number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_number: Option<String>,
}

/// A CAFTA-DR party, as a country of origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CaftaDrCountry {
    /// Costa Rica.
    #[serde(rename = "CR")]
    CostaRica,
    /// Dominican Republic.
    #[serde(rename = "DO")]
    DominicanRepublic,
    /// Guatemala.
    #[serde(rename = "GT")]
    Guatemala,
    /// Honduras.
    #[serde(rename = "HN")]
    Honduras,
    /// Nicaragua.
    #[serde(rename = "NI")]
    Nicaragua,
    /// El Salvador.
    #[serde(rename = "SV")]
    ElSalvador,
    /// The United States.
    #[serde(rename = "US")]
    UnitedStates,
}

const COUNTRIES: [(&str, CaftaDrCountry); 7] = [
    ("CR", CaftaDrCountry::CostaRica),
    ("DO", CaftaDrCountry::DominicanRepublic),
    ("GT", CaftaDrCountry::Guatemala),
    ("HN", CaftaDrCountry::Honduras),
    ("NI", CaftaDrCountry::Nicaragua),
    ("SV", CaftaDrCountry::ElSalvador),
    ("US", CaftaDrCountry::UnitedStates),
];

/// 19 CFR 10.584(a)(3) requires a statement beginning "I certify that".
const STATEMENT: [&str; 1] = ["I certify that"];

/// Validates the fields of a CAFTA-DR body (the caller has checked `regime` and `schema`).
pub(crate) fn read(
    report: &mut Report,
    f: &mut Fields<'_>,
    schema: Option<String>,
    today: Date,
) -> Option<CaftaDrCertificate> {
    let certifier = f.required(report, "certifier", certifier);
    let importer = f.required(report, "importer", |r, p, v| party(r, p, v, PARTY));
    let exporter = f.optional(report, "exporter", |r, p, v| party(r, p, v, PARTY));
    let producer = f.required(report, "producer", producer);
    let goods = f.required(report, "goods", |r, p, v| list(r, p, v, good));
    let blanket_period = f.optional(report, "blanket_period", blanket);
    let signature = f.required(report, "signature", |r, p, v| {
        signature(r, p, v, today, &STATEMENT)
    });
    Some(CaftaDrCertificate {
        schema: schema?,
        certifier: certifier?,
        importer: importer?,
        exporter: exporter?,
        producer: producer?,
        goods: goods?,
        blanket_period: blanket_period?,
        signature: signature?,
    })
}

fn certifier(report: &mut Report, pointer: &str, value: &Value) -> Option<CaftaDrCertifier> {
    let mut f = Fields::open(report, pointer, value)?;
    let role = f.required(report, "role", |r, p, v| choice(r, p, v, &ROLES));
    let name = f.required(report, "name", short);
    let title = f.required(report, "title", short);
    let address = f.optional(report, "address", |r, p, v| address(r, p, v, None));
    let phone = f.required(report, "phone", phone);
    let email = need(&mut f, report, "email", false, email);
    f.finish(report);
    Some(CaftaDrCertifier {
        role: role?,
        name: name?,
        title: title?,
        address: address?,
        phone: phone?,
        email: email?,
    })
}

fn producer(report: &mut Report, pointer: &str, value: &Value) -> Option<CaftaDrProducer> {
    match value {
        Value::Array(_) => list(report, pointer, value, |r, p, v| party(r, p, v, PRODUCER))
            .map(CaftaDrProducer::Several),
        _ => party(report, pointer, value, PRODUCER).map(CaftaDrProducer::One),
    }
}

fn good(report: &mut Report, pointer: &str, value: &Value) -> Option<CaftaDrGood> {
    let mut f = Fields::open(report, pointer, value)?;
    let description = f.required(report, "description", long);
    let hs_code = f.required(report, "hs_code", hs_code);
    let rule_of_origin = f.required(report, "rule_of_origin", long);
    let country_of_origin = f.required(report, "country_of_origin", |r, p, v| {
        choice_as(r, p, v, &COUNTRIES, "origin.country")
    });
    let invoice_number = f.optional(report, "invoice_number", short);
    f.finish(report);
    Some(CaftaDrGood {
        description: description?,
        hs_code: hs_code?,
        rule_of_origin: rule_of_origin?,
        country_of_origin: country_of_origin?,
        invoice_number: invoice_number?,
    })
}
