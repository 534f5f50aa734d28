//! The officially assigned ISO 3166-1 alpha-2 country codes and the trade-agreement groups built on them.

/// Every officially assigned ISO 3166-1 alpha-2 code (249), sorted, as published by the ISO 3166
/// Maintenance Agency (checked against Debian's `iso-codes` package). User-assigned and reserved codes
/// (`XK`, `EU`, `UK`) are deliberately absent: customs documents use the assigned codes.
pub(crate) const ISO_3166_ALPHA2: [&str; 249] = [
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
];

/// USMCA (and NAFTA) parties: Canada, Mexico, the United States.
pub(crate) const USMCA: [&str; 3] = ["CA", "MX", "US"];

/// CAFTA-DR parties: Costa Rica, the Dominican Republic, El Salvador, Guatemala, Honduras, Nicaragua, the
/// United States.
pub(crate) const CAFTA_DR: [&str; 7] = ["CR", "DO", "GT", "HN", "NI", "SV", "US"];

/// Whether `code` is an assigned ISO 3166-1 alpha-2 code, upper case.
pub(crate) fn is_iso_alpha2(code: &str) -> bool {
    ISO_3166_ALPHA2.binary_search(&code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_sorted_unique_and_upper_case() {
        assert!(ISO_3166_ALPHA2.windows(2).all(|w| w[0] < w[1]));
        assert!(
            ISO_3166_ALPHA2
                .iter()
                .all(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
        assert!(
            USMCA
                .iter()
                .chain(CAFTA_DR.iter())
                .all(|c| is_iso_alpha2(c))
        );
    }

    #[test]
    fn known_and_unknown_codes() {
        for ok in ["MX", "CA", "US", "GT", "SV", "DE", "CN", "AX"] {
            assert!(is_iso_alpha2(ok), "{ok}");
        }
        for bad in ["mx", "Mx", "UK", "XK", "EU", "USA", "", "ZZ"] {
            assert!(!is_iso_alpha2(bad), "{bad}");
        }
    }
}
