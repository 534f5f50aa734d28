//! Legacy NAFTA Certificate of Origin, CBP Form 434 (19 CFR 181.11), fields 1-11.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::date::Date;
use super::party::{Party, PartySpec, party};
use super::rules::{Period, blanket, email, hs_code, period, phone};
use super::signature::{signature_date, statement};
use super::usmca::USMCA_TERRITORY;
use super::violation::Report;
use super::walk::{Fields, choice, choice_as, choice_said, list, long, short};

/// The schema identifier this module validates.
pub const NAFTA_434_SCHEMA: &str = "tradeledger/nafta-434/v1";

/// Fields 1, 3 and 4 each carry a tax identification number; the parties are in the NAFTA territory.
const PARTY: PartySpec = PartySpec {
    phone: false,
    email: false,
    tax_id: true,
    territory: Some(USMCA_TERRITORY),
};

/// A NAFTA Certificate of Origin, CBP Form 434 (schema `tradeledger/nafta-434/v1`).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nafta434Certificate {
    /// Always [`NAFTA_434_SCHEMA`] after validation.
    pub schema: String,
    /// Field 1: exporter, with tax id.
    pub exporter: Party,
    /// Field 2: blanket period, at most one year.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blanket_period: Option<Period>,
    /// Field 3: producer.
    pub producer: NaftaProducer,
    /// Field 4: importer.
    pub importer: NaftaImporter,
    /// Fields 5-10, one per good.
    pub goods: Vec<NaftaGood>,
    /// Field 11: signature block.
    pub signature: NaftaSignature,
}

/// Field 3: a producer with tax id, or one of the form's literals.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NaftaProducer {
    /// `SAME`, `VARIOUS` or `AVAILABLE TO CUSTOMS UPON REQUEST`.
    Literal(NaftaProducerLiteral),
    /// The producer.
    Party(Box<Party>),
}

/// The literals of field 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NaftaProducerLiteral {
    /// The producer is the exporter.
    #[serde(rename = "SAME")]
    Same,
    /// More than one producer.
    #[serde(rename = "VARIOUS")]
    Various,
    /// The exporter keeps the producer confidential.
    #[serde(rename = "AVAILABLE TO CUSTOMS UPON REQUEST")]
    AvailableToCustomsUponRequest,
}

const PRODUCER_LITERALS: [(&str, NaftaProducerLiteral); 3] = [
    ("SAME", NaftaProducerLiteral::Same),
    ("VARIOUS", NaftaProducerLiteral::Various),
    (
        "AVAILABLE TO CUSTOMS UPON REQUEST",
        NaftaProducerLiteral::AvailableToCustomsUponRequest,
    ),
];

/// Field 4: an importer with tax id, or one of the form's literals.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum NaftaImporter {
    /// `UNKNOWN` or `VARIOUS`.
    Literal(NaftaImporterLiteral),
    /// The importer.
    Party(Box<Party>),
}

/// The literals of field 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NaftaImporterLiteral {
    /// The importer is not known.
    #[serde(rename = "UNKNOWN")]
    Unknown,
    /// A blanket certificate for several importers.
    #[serde(rename = "VARIOUS")]
    Various,
}

const IMPORTER_LITERALS: [(&str, NaftaImporterLiteral); 2] = [
    ("UNKNOWN", NaftaImporterLiteral::Unknown),
    ("VARIOUS", NaftaImporterLiteral::Various),
];

/// Fields 5-10 for one good.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NaftaGood {
    /// Field 5.
    pub description: String,
    /// Field 6: HS classification, 6 digits (8 where an Annex 401 rule needs them; 10 accepted).
    pub hs_code: String,
    /// Field 7: preference criterion A-F.
    pub preference_criterion: NaftaCriterion,
    /// Field 8: whether the exporter is the producer.
    pub producer: NaftaProducerFlag,
    /// Field 9: net cost method or not.
    pub net_cost: NetCost,
    /// Field 9: the period over which the net cost was averaged, only with `NC`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_cost_period: Option<Period>,
    /// Field 10: country of origin.
    pub country_of_origin: NaftaOrigin,
}

/// Field 7: NAFTA preference criterion (Art. 401, 19 CFR 181 Appendix).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub enum NaftaCriterion {
    A,
    B,
    C,
    D,
    E,
    F,
}

const CRITERIA: [(&str, NaftaCriterion); 6] = [
    ("A", NaftaCriterion::A),
    ("B", NaftaCriterion::B),
    ("C", NaftaCriterion::C),
    ("D", NaftaCriterion::D),
    ("E", NaftaCriterion::E),
    ("F", NaftaCriterion::F),
];

/// Field 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NaftaProducerFlag {
    /// The exporter is the producer.
    #[serde(rename = "YES")]
    Yes,
    /// Not the producer; relies on knowledge that the good qualifies.
    #[serde(rename = "NO (1)")]
    No1,
    /// Not the producer; relies on the producer's written representation.
    #[serde(rename = "NO (2)")]
    No2,
    /// Not the producer; relies on a completed certificate from the producer.
    #[serde(rename = "NO (3)")]
    No3,
}

const PRODUCER_FLAGS: [(&str, NaftaProducerFlag); 4] = [
    ("YES", NaftaProducerFlag::Yes),
    ("NO (1)", NaftaProducerFlag::No1),
    ("NO (2)", NaftaProducerFlag::No2),
    ("NO (3)", NaftaProducerFlag::No3),
];

/// Field 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NetCost {
    /// Regional value content by the net cost method.
    #[serde(rename = "NC")]
    NetCost,
    /// No net cost calculation.
    #[serde(rename = "NO")]
    No,
}

const NET_COSTS: [(&str, NetCost); 2] = [("NC", NetCost::NetCost), ("NO", NetCost::No)];

/// Field 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NaftaOrigin {
    /// Canada.
    #[serde(rename = "CA")]
    Canada,
    /// Mexico.
    #[serde(rename = "MX")]
    Mexico,
    /// The United States.
    #[serde(rename = "US")]
    UnitedStates,
    /// Joint production (Annex 302.2, certain goods).
    #[serde(rename = "JNT")]
    Joint,
}

const ORIGINS: [(&str, NaftaOrigin); 4] = [
    ("CA", NaftaOrigin::Canada),
    ("MX", NaftaOrigin::Mexico),
    ("US", NaftaOrigin::UnitedStates),
    ("JNT", NaftaOrigin::Joint),
];

/// Field 11: the signature block.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NaftaSignature {
    /// Company.
    pub company: String,
    /// Name.
    pub name: String,
    /// Title.
    pub title: String,
    /// Date signed, not in the future.
    pub date: Date,
    /// Telephone.
    pub phone: String,
    /// Fax.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fax: Option<String>,
    /// E-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The form's "I certify that..." statement.
    pub statement: String,
}

const STATEMENT: [&str; 1] = ["I certify that"];

/// Validates the fields of a Form 434 body (the caller has checked `regime` and `schema`).
pub(crate) fn read(
    report: &mut Report,
    f: &mut Fields<'_>,
    schema: Option<String>,
    today: Date,
) -> Option<Nafta434Certificate> {
    let exporter = f.required(report, "exporter", |r, p, v| party(r, p, v, PARTY));
    let blanket_period = f.optional(report, "blanket_period", blanket);
    let producer = f.required(report, "producer", |r, p, v| match v {
        Value::String(_) => choice_said(
            r,
            p,
            v,
            &PRODUCER_LITERALS,
            "party.literal",
            "expected a party or one of",
        )
        .map(NaftaProducer::Literal),
        _ => party(r, p, v, PARTY).map(|p| NaftaProducer::Party(Box::new(p))),
    });
    let importer = f.required(report, "importer", |r, p, v| match v {
        Value::String(_) => choice_said(
            r,
            p,
            v,
            &IMPORTER_LITERALS,
            "party.literal",
            "expected a party or one of",
        )
        .map(NaftaImporter::Literal),
        _ => party(r, p, v, PARTY).map(|p| NaftaImporter::Party(Box::new(p))),
    });
    let goods = f.required(report, "goods", |r, p, v| list(r, p, v, good));
    let signature = f.required(report, "signature", |r, p, v| signature(r, p, v, today));
    Some(Nafta434Certificate {
        schema: schema?,
        exporter: exporter?,
        blanket_period: blanket_period?,
        producer: producer?,
        importer: importer?,
        goods: goods?,
        signature: signature?,
    })
}

fn good(report: &mut Report, pointer: &str, value: &Value) -> Option<NaftaGood> {
    let mut f = Fields::open(report, pointer, value)?;
    let description = f.required(report, "description", long);
    let hs_code = f.required(report, "hs_code", hs_code);
    let preference_criterion = f.required(report, "preference_criterion", |r, p, v| {
        choice_as(r, p, v, &CRITERIA, "origin.criterion")
    });
    let producer = f.required(report, "producer", |r, p, v| {
        choice(r, p, v, &PRODUCER_FLAGS)
    });
    let net_cost = f.required(report, "net_cost", |r, p, v| choice(r, p, v, &NET_COSTS));
    let period_pointer = f.pointer("net_cost_period");
    let net_cost_period = f.optional(report, "net_cost_period", |r, p, v| {
        period(r, p, v, "period.order")
    });
    let country_of_origin = f.required(report, "country_of_origin", |r, p, v| {
        choice_as(r, p, v, &ORIGINS, "origin.country")
    });
    f.finish(report);
    // Field 9: a period is stated only when the regional value content was averaged by the net cost method.
    if matches!(net_cost, Some(NetCost::No)) && matches!(net_cost_period, Some(Some(_))) {
        report.add(
            &period_pointer,
            "net-cost.period-requires-nc",
            "a net cost period goes only with \"NC\"",
        );
        return None;
    }
    Some(NaftaGood {
        description: description?,
        hs_code: hs_code?,
        preference_criterion: preference_criterion?,
        producer: producer?,
        net_cost: net_cost?,
        net_cost_period: net_cost_period?,
        country_of_origin: country_of_origin?,
    })
}

fn signature(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    today: Date,
) -> Option<NaftaSignature> {
    let mut f = Fields::open(report, pointer, value)?;
    let company = f.required(report, "company", short);
    let name = f.required(report, "name", short);
    let title = f.required(report, "title", short);
    let date = f.required(report, "date", |r, p, v| signature_date(r, p, v, today));
    let phone = f.required(report, "phone", phone);
    let fax = f.optional(report, "fax", super::rules::phone);
    let email = f.optional(report, "email", email);
    let statement = f.required(report, "statement", |r, p, v| {
        statement(r, p, v, &STATEMENT)
    });
    f.finish(report);
    Some(NaftaSignature {
        company: company?,
        name: name?,
        title: title?,
        date: date?,
        phone: phone?,
        fax: fax?,
        email: email?,
        statement: statement?,
    })
}
