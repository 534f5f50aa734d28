//! `USMCACertificationOfOrigin`: the vocabulary's schema for the credential, plus the USMCA rules tradeledger's
//! own USMCA schema enforces (HS codes, the blanket period, parties in the USMCA territory).

use serde_json::Value;

use super::common::{
    OrgSpec, Territory, array, constant, flag, issuer_members, maybe, organization, text,
};
use crate::cert::rules::hs_code;
use crate::cert::violation::Report;
use crate::cert::walk::{Fields, MAX_ITEMS, choice_as};

/// The credential's `type`.
pub(crate) const TYPE: [&str; 2] = ["VerifiableCredential", "USMCACertificationOfOrigin"];

/// Most goods one credential may list (the vocabulary's `maxItems`).
const MAX_GOODS: usize = 100;

/// Exporters, producers and importers are in a USMCA country (Annex 5-A, elements 3-5); the vocabulary writes
/// the country as free text, so names are accepted as well as ISO codes.
const USMCA_TERRITORY: Territory = Territory {
    spellings: &[
        "CA",
        "MX",
        "US",
        "Canada",
        "Mexico",
        "México",
        "United States",
        "United States of America",
        "USA",
        "Estados Unidos",
        "Estados Unidos Mexicanos",
        "États-Unis",
    ],
    rule: "address.usmca-country",
    name: "Canada, Mexico or the United States",
};

const PARTY_FIELDS: &[&str] = &["name", "email", "phoneNumber", "taxId"];

/// The exporter's and producer's details: `type` and `name` required.
const DETAILS: OrgSpec = OrgSpec {
    strings: &["email", "phoneNumber", "taxId"],
    required: &["name"],
    uris: &["id"],
    location: true,
    territory: Some(USMCA_TERRITORY),
};

/// An importer: only `type` required.
const IMPORTER: OrgSpec = OrgSpec {
    strings: PARTY_FIELDS,
    required: &[],
    uris: &["id"],
    location: true,
    territory: Some(USMCA_TERRITORY),
};

/// The issuer (the certifier): `type`, `id` and `employee` required.
pub(crate) fn issuer(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = issuer_members(report, &mut f, false);
    ok &= f.required(report, "employee", employee).is_some();
    f.finish(report);
    ok.then_some(())
}

/// The certification manager (USMCA element 1: the certifier's name, title and e-mail).
fn employee(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = f
        .required(report, "type", |r, p, v| constant(r, p, v, &["Person"]))
        .is_some();
    for key in ["firstName", "lastName", "jobTitle", "email"] {
        ok &= f.required(report, key, text).is_some();
    }
    ok &= maybe(&mut f, report, "phoneNumber", |r, p, v| {
        text(r, p, v).map(|_| ())
    });
    f.finish(report);
    ok.then_some(())
}

/// `credentialSubject`: the `USMCAClaims`.
pub(crate) fn claims(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = f
        .required(report, "type", |r, p, v| {
            constant(r, p, v, &["USMCAClaims"])
        })
        .is_some();
    ok &= maybe(&mut f, report, "invoiceNumber", |r, p, v| {
        text(r, p, v).map(|_| ())
    });
    for key in ["variousExporters", "variousProducers", "variousImporters"] {
        ok &= maybe(&mut f, report, key, flag);
    }
    // Annex 5-A elements 3 and 4: the schema requires both parties' details.
    ok &= f
        .required(report, "exporterDetails", |r, p, v| {
            organization(r, p, v, &DETAILS)
        })
        .is_some();
    ok &= f
        .required(report, "producerDetails", |r, p, v| {
            organization(r, p, v, &DETAILS)
        })
        .is_some();
    ok &= maybe(&mut f, report, "importerDetails", |r, p, v| {
        array(r, p, v, 0, MAX_ITEMS, |r, p, v| {
            organization(r, p, v, &IMPORTER)
        })
    });
    ok &= f
        .required(report, "goods", |r, p, v| {
            array(r, p, v, 1, MAX_GOODS, good)
        })
        .is_some();
    f.finish(report);
    ok.then_some(())
}

const CODE_TYPES: [(&str, ()); 2] = [("HS", ()), ("HTS", ())];
const CRITERIA: [(&str, ()); 4] = [("A", ()), ("B", ()), ("C", ()), ("D", ())];
const COUNTRIES: [(&str, ()); 3] = [("CA", ()), ("MX", ()), ("US", ())];

/// One `USMCAProduct`: every field required, HS code of at least 6 digits (USMCA Annex 5-A, element 6).
fn good(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = f
        .required(report, "type", |r, p, v| {
            constant(r, p, v, &["USMCAProduct"])
        })
        .is_some();
    ok &= f.required(report, "description", text).is_some();
    ok &= f.required(report, "commodityCode", hs_code).is_some();
    ok &= f
        .required(report, "commodityCodeType", |r, p, v| {
            choice_as(r, p, v, &CODE_TYPES, "value.enum")
        })
        .is_some();
    ok &= f
        .required(report, "originCriterion", |r, p, v| {
            choice_as(r, p, v, &CRITERIA, "origin.criterion")
        })
        .is_some();
    ok &= f
        .required(report, "countryOfOrigin", |r, p, v| {
            choice_as(r, p, v, &COUNTRIES, "origin.country")
        })
        .is_some();
    f.finish(report);
    ok.then_some(())
}
