//! `CertificationOfOrigin`: the vocabulary's generic certificate of origin (the issuer an `IssuerOrganization`,
//! the goods `TradeLineItem`s), plus the trade rules that apply to any regime: an HS code, where one is
//! given, of at least 6 digits.

use serde_json::Value;

use super::common::{OrgSpec, array, constant, issuer_members, maybe, number, organization, text};
use crate::cert::rules::hs_code;
use crate::cert::violation::Report;
use crate::cert::walk::{Fields, MAX_ITEMS, choice_as, date};

/// The credential's `type`.
pub(crate) const TYPE: [&str; 2] = ["VerifiableCredential", "CertificationOfOrigin"];

/// The vocabulary's `IssuerOrganization`: `type` and `id` (a URI) required.
pub(crate) fn issuer(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let ok = issuer_members(report, &mut f, true);
    f.finish(report);
    ok.then_some(())
}

/// `credentialSubject`: the items, the manufacturing country and the date of export (all required).
pub(crate) fn subject(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = f
        .required(report, "items", |r, p, v| {
            array(r, p, v, 0, MAX_ITEMS, line_item)
        })
        .is_some();
    ok &= f.required(report, "manufacturingCountry", text).is_some();
    ok &= f.required(report, "dateOfExport", date).is_some();
    f.finish(report);
    ok.then_some(())
}

/// A `TradeLineItem`.
fn line_item(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = f
        .required(report, "type", |r, p, v| {
            constant(r, p, v, &["TradeLineItem"])
        })
        .is_some();
    for key in [
        "name",
        "purchaseOrderNumber",
        "description",
        "freeTradeAgreement",
        "countryOfOrigin",
    ] {
        ok &= maybe(&mut f, report, key, |r, p, v| text(r, p, v).map(|_| ()));
    }
    for key in ["itemCount", "packageQuantity"] {
        ok &= maybe(&mut f, report, key, number);
    }
    ok &= maybe(&mut f, report, "product", product);
    for key in ["netWeight", "grossWeight"] {
        ok &= maybe(&mut f, report, key, quantity);
    }
    ok &= maybe(&mut f, report, "lineItemTotalPrice", price);
    ok &= maybe(&mut f, report, "shipToParty", ship_to);
    f.finish(report);
    ok.then_some(())
}

/// Manufacturer and seller of a product.
const PRODUCT_PARTY: OrgSpec = OrgSpec {
    strings: &[
        "id",
        "name",
        "url",
        "description",
        "globalLocationNumber",
        "email",
        "phoneNumber",
        "taxId",
    ],
    required: &[],
    // `logo` is the one URI-formatted field of these organizations.
    uris: &["logo"],
    location: false,
    territory: None,
};

fn product(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = f
        .required(report, "type", |r, p, v| constant(r, p, v, &["Product"]))
        .is_some();
    for key in [
        "id",
        "gtin",
        "name",
        "description",
        "category",
        "sku",
        "batchNumber",
    ] {
        ok &= maybe(&mut f, report, key, |r, p, v| text(r, p, v).map(|_| ()));
    }
    for key in ["manufacturer", "seller"] {
        ok &= maybe(&mut f, report, key, |r, p, v| {
            organization(r, p, v, &PRODUCT_PARTY)
        });
    }
    for key in ["weight", "depth", "width", "height"] {
        ok &= maybe(&mut f, report, key, quantity);
    }
    ok &= maybe(&mut f, report, "productPrice", price);
    ok &= maybe(&mut f, report, "commodity", commodity);
    ok &= maybe(&mut f, report, "images", |r, p, v| {
        array(r, p, v, 0, MAX_ITEMS, |r, p, v| text(r, p, v).map(|_| ()))
    });
    f.finish(report);
    ok.then_some(())
}

const CODE_TYPES: [(&str, ()); 2] = [("HS", ()), ("HTS", ())];

/// A `Commodity`: the HS code, where given, has at least 6 digits.
fn commodity(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = f
        .required(report, "type", |r, p, v| constant(r, p, v, &["Commodity"]))
        .is_some();
    ok &= f.optional(report, "commodityCode", hs_code).is_some();
    ok &= maybe(&mut f, report, "commodityCodeType", |r, p, v| {
        choice_as(r, p, v, &CODE_TYPES, "value.enum")
    });
    ok &= maybe(&mut f, report, "description", |r, p, v| {
        text(r, p, v).map(|_| ())
    });
    f.finish(report);
    ok.then_some(())
}

/// A `QuantitativeValue`: `type`, `unitCode` and `value` (a string) required.
fn quantity(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = f
        .required(report, "type", |r, p, v| {
            constant(r, p, v, &["QuantitativeValue"])
        })
        .is_some();
    ok &= f.required(report, "unitCode", text).is_some();
    ok &= f.required(report, "value", text).is_some();
    f.finish(report);
    ok.then_some(())
}

/// A `PriceSpecification`.
fn price(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = f
        .required(report, "type", |r, p, v| {
            constant(r, p, v, &["PriceSpecification"])
        })
        .is_some();
    ok &= maybe(&mut f, report, "price", number);
    ok &= maybe(&mut f, report, "priceCurrency", |r, p, v| {
        text(r, p, v).map(|_| ())
    });
    f.finish(report);
    ok.then_some(())
}

/// `shipToParty`, the vocabulary's `Organization`: its string fields are checked; its nested `address`,
/// `location`, `brand` and `contactPoint` only as objects (docs/formats.md).
fn ship_to(report: &mut Report, pointer: &str, value: &Value) -> Option<()> {
    let mut f = Fields::open(report, pointer, value)?;
    let mut ok = maybe(&mut f, report, "type", |r, p, v| {
        let one = v.as_str() == Some("Organization");
        let many = v
            .as_array()
            .is_some_and(|a| a.iter().all(|i| i.as_str() == Some("Organization")));
        if one || many {
            Some(())
        } else {
            r.add(
                p,
                "value.enum",
                "expected \"Organization\" or [\"Organization\"]",
            );
            None
        }
    });
    for key in [
        "name",
        "id",
        "legalName",
        "leiCode",
        "url",
        "description",
        "globalLocationNumber",
        "email",
        "phoneNumber",
        "faxNumber",
        "taxId",
        "iataCarrierCode",
    ] {
        ok &= maybe(&mut f, report, key, |r, p, v| text(r, p, v).map(|_| ()));
    }
    for key in ["address", "location", "brand", "contactPoint"] {
        ok &= maybe(&mut f, report, key, |r, p, v| {
            Fields::open(r, p, v).map(|_| ())
        });
    }
    f.finish(report);
    ok.then_some(())
}
