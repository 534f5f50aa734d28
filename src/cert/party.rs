//! Parties to a certificate (exporter, producer, importer): name, address, contact details, tax id.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::rules::{country, email, phone};
use super::taxid::{TaxId, tax_id};
use super::violation::Report;
use super::walk::{Fields, short};

/// A postal address.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Address {
    /// Street and number, possibly several lines.
    pub street: String,
    /// City or municipality.
    pub city: String,
    /// State, province or department.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2 code, upper case.
    pub country: String,
}

/// A named party. Which of the optional fields are present is guaranteed per regime by the validator (USMCA:
/// phone and e-mail; CAFTA-DR: phone; NAFTA 434: tax id).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Party {
    /// Legal name.
    pub name: String,
    /// Postal address.
    pub address: Address,
    /// Telephone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Tax identification number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_id: Option<TaxId>,
}

/// Countries an address must be in, with the rule code and the wording used in messages.
#[derive(Clone, Copy)]
pub(crate) struct Territory {
    pub(crate) codes: &'static [&'static str],
    pub(crate) rule: &'static str,
    pub(crate) name: &'static str,
}

/// Which party fields a regime requires, and where the address must be.
#[derive(Clone, Copy)]
pub(crate) struct PartySpec {
    pub(crate) phone: bool,
    pub(crate) email: bool,
    pub(crate) tax_id: bool,
    pub(crate) territory: Option<Territory>,
}

/// Reads an address; with a territory, also reports the territory rule on `/country`.
pub(crate) fn address(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    territory: Option<Territory>,
) -> Option<Address> {
    let mut f = Fields::open(report, pointer, value)?;
    let street = f.required(report, "street", short);
    let city = f.required(report, "city", short);
    let region = f.optional(report, "region", short);
    let postal_code = f.optional(report, "postal_code", short);
    let country_pointer = f.pointer("country");
    let country = f.required(report, "country", country);
    f.finish(report);
    let country = country?;
    if let Some(t) = territory
        && !t.codes.contains(&country.as_str())
    {
        report.add(
            &country_pointer,
            t.rule,
            format!("the address must be in {}", t.name),
        );
        return None;
    }
    Some(Address {
        street: street?,
        city: city?,
        region: region?,
        postal_code: postal_code?,
        country,
    })
}

/// Reads a party according to `spec`.
pub(crate) fn party(
    report: &mut Report,
    pointer: &str,
    value: &Value,
    spec: PartySpec,
) -> Option<Party> {
    let mut f = Fields::open(report, pointer, value)?;
    let name = f.required(report, "name", short);
    let address = f.required(report, "address", |r, p, v| {
        address(r, p, v, spec.territory)
    });
    let phone = need(&mut f, report, "phone", spec.phone, phone);
    let email = need(&mut f, report, "email", spec.email, email);
    let tax_id = need(&mut f, report, "tax_id", spec.tax_id, tax_id);
    f.finish(report);
    Some(Party {
        name: name?,
        address: address?,
        phone: phone?,
        email: email?,
        tax_id: tax_id?,
    })
}

/// Reads `key` as required or optional; either way the result is `Option<T>` for the struct.
pub(crate) fn need<'v, T>(
    f: &mut Fields<'v>,
    report: &mut Report,
    key: &'static str,
    required: bool,
    read: impl FnOnce(&mut Report, &str, &'v Value) -> Option<T>,
) -> Option<Option<T>> {
    if required {
        f.required(report, key, read).map(Some)
    } else {
        f.optional(report, key, read)
    }
}
