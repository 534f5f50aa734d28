//! Tax identification numbers (personal data: a US one can be a Social Security Number).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::violation::Report;
use super::walk::{Fields, choice, string};

/// Kind of a tax identification number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TaxScheme {
    /// United States Employer Identification Number (IRS number).
    #[serde(rename = "EIN")]
    Ein,
    /// United States Social Security Number (sole proprietors).
    #[serde(rename = "SSN")]
    Ssn,
    /// Canada Business Number.
    #[serde(rename = "BN")]
    Bn,
    /// Mexico Registro Federal de Contribuyentes.
    #[serde(rename = "RFC")]
    Rfc,
    /// Número de Identificación Tributaria (El Salvador, Guatemala).
    #[serde(rename = "NIT")]
    Nit,
    /// Registro Tributario Nacional (Honduras).
    #[serde(rename = "RTN")]
    Rtn,
    /// Registro Único de Contribuyente (Nicaragua).
    #[serde(rename = "RUC")]
    Ruc,
    /// Registro Nacional de Contribuyentes (Dominican Republic).
    #[serde(rename = "RNC")]
    Rnc,
    /// Cédula jurídica (Costa Rica).
    #[serde(rename = "CEDULA-JURIDICA")]
    CedulaJuridica,
    /// Any other national scheme.
    #[serde(rename = "OTHER")]
    Other,
}

const TAX_SCHEMES: [(&str, TaxScheme); 10] = [
    ("EIN", TaxScheme::Ein),
    ("SSN", TaxScheme::Ssn),
    ("BN", TaxScheme::Bn),
    ("RFC", TaxScheme::Rfc),
    ("NIT", TaxScheme::Nit),
    ("RTN", TaxScheme::Rtn),
    ("RUC", TaxScheme::Ruc),
    ("RNC", TaxScheme::Rnc),
    ("CEDULA-JURIDICA", TaxScheme::CedulaJuridica),
    ("OTHER", TaxScheme::Other),
];

/// A tax identification number (personal data: a US one can be a Social Security Number).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaxId {
    /// The national scheme.
    pub scheme: TaxScheme,
    /// The number as written, 1-30 letters, digits and the separators `-`, `.`, `/`, space.
    pub number: String,
}

/// `{ "scheme": ..., "number": ... }`.
pub(crate) fn tax_id(report: &mut Report, pointer: &str, value: &Value) -> Option<TaxId> {
    let mut f = Fields::open(report, pointer, value)?;
    let scheme = f.required(report, "scheme", |r, p, v| choice(r, p, v, &TAX_SCHEMES));
    let number = f.required(report, "number", |r, p, v| {
        let s = string(r, p, v)?;
        let ok = (1..=30).contains(&s.chars().count())
            && s.chars().any(|c| c.is_ascii_alphanumeric())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '/' | ' '));
        if !ok {
            r.add(
                p,
                "tax-id.format",
                "expected 1-30 letters, digits, '-', '.', '/' or spaces",
            );
        }
        ok.then(|| s.to_owned())
    });
    f.finish(report);
    Some(TaxId {
        scheme: scheme?,
        number: number?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn rules(value: Value) -> Vec<&'static str> {
        let mut report = Report::default();
        let out = tax_id(&mut report, "/x", &value);
        let rules: Vec<_> = report
            .into_violations()
            .into_iter()
            .map(|v| v.rule)
            .collect();
        assert_eq!(out.is_some(), rules.is_empty());
        rules
    }

    #[test]
    fn tax_ids() {
        assert!(rules(json!({"scheme": "RFC", "number": "BAU990312KX4"})).is_empty());
        assert_eq!(
            rules(json!({"scheme": "RFC", "number": "---"})),
            ["tax-id.format"]
        );
        assert_eq!(
            rules(json!({"scheme": "VAT", "number": "1".repeat(31)})),
            ["value.enum", "tax-id.format"]
        );
        assert_eq!(rules(json!("123-45-6789")), ["type"]);
    }
}
