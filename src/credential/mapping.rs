//! Native certificates as credentials of the CCG traceability vocabulary (docs/interop.md "Mapping"):
//! USMCA → `USMCACertificationOfOrigin`, CAFTA-DR and NAFTA 434 → `CertificationOfOrigin`.
//!
//! The mapping yields leaves (a credential JSON pointer, its value and the native fields it was computed from)
//! rather than a document, so that a verifier holding only some native fields (a selective disclosure) can
//! recompute exactly the credential claims those fields determine, and nothing else.

use serde_json::{Map, Value, json};

use super::source::{Lookup, Source};

/// The vocabulary's JSON-LD contexts (both schemas require exactly these).
pub const CONTEXTS: [&str; 2] = [
    "https://www.w3.org/ns/credentials/v2",
    "https://w3id.org/traceability/v1",
];

/// The credential type a native regime maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialType {
    /// `USMCACertificationOfOrigin` (native USMCA).
    Usmca,
    /// `CertificationOfOrigin` (native CAFTA-DR and NAFTA 434).
    Generic,
}

impl CredentialType {
    /// The type name, as in the credential's `type`.
    pub fn name(self) -> &'static str {
        match self {
            CredentialType::Usmca => "USMCACertificationOfOrigin",
            CredentialType::Generic => "CertificationOfOrigin",
        }
    }

    /// The SD-JWT VC `vct`: the vocabulary's IRI of the type.
    pub fn vct(self) -> String {
        format!("https://w3id.org/traceability#{}", self.name())
    }

    /// The type of a native body, from its `regime`.
    pub fn of_native(regime: Option<&str>) -> Option<CredentialType> {
        match regime? {
            "USMCA" => Some(CredentialType::Usmca),
            "CAFTA-DR" | "NAFTA-434" => Some(CredentialType::Generic),
            _ => None,
        }
    }
}

/// One credential claim, with the native fields (JSON pointers) it was computed from; constants have none.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// The claim's JSON pointer in the credential.
    pub pointer: String,
    /// Its value: a scalar, or a constant `type`/`@context` array.
    pub value: Value,
    /// The native fields it depends on.
    pub sources: Vec<String>,
}

/// The credential's identity outside the native body: who issues it and which registration it is.
#[derive(Debug, Clone)]
pub struct Issuance<'a> {
    /// The issuer's did:jwk (the registrant's enrolled key).
    pub issuer: &'a str,
    /// The certificate id on the log.
    pub cert_id: &'a str,
}

/// The credential id of a certificate: a URN naming the certificate on tradeledger.
pub fn credential_id(cert_id: &str) -> String {
    format!("urn:tradeledger:certificate:{cert_id}")
}

/// Every claim the source determines, for a credential of type `kind`.
pub(crate) fn leaves(kind: CredentialType, src: &dyn Source, issuance: &Issuance<'_>) -> Vec<Leaf> {
    let mut m = Mapper {
        src,
        leaves: Vec::new(),
    };
    m.constant("/@context", json!(CONTEXTS));
    m.constant("/type", json!(["VerifiableCredential", kind.name()]));
    m.constant("/id", json!(credential_id(issuance.cert_id)));
    m.constant("/issuer/type", json!(["Organization"]));
    m.constant("/issuer/id", json!(issuance.issuer));
    validity(&mut m, kind);
    match kind {
        CredentialType::Usmca => usmca(&mut m),
        CredentialType::Generic => generic(&mut m),
    }
    m.leaves
}

/// Builds the credential document from leaves (objects for names, arrays for numeric segments).
pub fn assemble(leaves: &[Leaf]) -> Value {
    let mut root = Value::Object(Map::new());
    for leaf in leaves {
        let mut at = &mut root;
        let segments: Vec<&str> = leaf.pointer.split('/').skip(1).collect();
        for (i, segment) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            let next_is_index = segments
                .get(i + 1)
                .is_some_and(|s| s.parse::<usize>().is_ok());
            let fresh = || {
                if next_is_index {
                    Value::Array(Vec::new())
                } else {
                    Value::Object(Map::new())
                }
            };
            at = match at {
                Value::Array(items) => {
                    let index: usize = segment.parse().unwrap_or(items.len());
                    while items.len() <= index {
                        items.push(fresh());
                    }
                    &mut items[index]
                }
                Value::Object(members) => members.entry(unescape(segment)).or_insert_with(fresh),
                _ => break,
            };
            if last {
                *at = leaf.value.clone();
            }
        }
    }
    root
}

fn unescape(segment: &str) -> String {
    segment.replace("~1", "/").replace("~0", "~")
}

struct Mapper<'s> {
    src: &'s dyn Source,
    leaves: Vec<Leaf>,
}

impl Mapper<'_> {
    fn constant(&mut self, pointer: &str, value: Value) {
        self.leaves.push(Leaf {
            pointer: pointer.to_owned(),
            value,
            sources: Vec::new(),
        });
    }

    fn text(&self, native: &str) -> Option<String> {
        match self.src.get(native) {
            Lookup::Present(Value::String(s)) => Some(s.clone()),
            Lookup::Present(Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        }
    }

    /// `pointer` = the native string at `native`, if present.
    fn copy(&mut self, pointer: &str, native: &str) {
        self.derive(pointer, native, |s| Some(Value::from(s)));
    }

    /// `pointer` = `f(native string)`, if present and `f` gives a value.
    fn derive(&mut self, pointer: &str, native: &str, f: impl FnOnce(String) -> Option<Value>) {
        if let Some(value) = self.text(native).and_then(f) {
            self.leaves.push(Leaf {
                pointer: pointer.to_owned(),
                value,
                sources: vec![native.to_owned()],
            });
        }
    }

    /// Adds `also` to the sources of the last leaf, when it was made from `native` (a decision read them too).
    fn also_from(&mut self, pointer: &str, also: &str) {
        if let Some(leaf) = self.leaves.last_mut().filter(|l| l.pointer == pointer) {
            leaf.sources.push(also.to_owned());
        }
    }

    /// Adds `decision` to the sources of every non-constant leaf made since `since` (a branch taken because
    /// `decision` was present).
    fn decided_by(&mut self, since: usize, decision: &str) {
        for leaf in self.leaves.iter_mut().skip(since) {
            if !leaf.sources.is_empty() && !leaf.sources.iter().any(|s| s == decision) {
                leaf.sources.push(decision.to_owned());
            }
        }
    }

    /// Whether `native` is known absent; `None` when the source cannot tell.
    fn absent(&self, native: &str) -> Option<bool> {
        match self.src.get(native) {
            Lookup::Present(_) => Some(false),
            Lookup::Absent => Some(true),
            Lookup::Unknown => None,
        }
    }

    /// A party (`name`, `address`, `phone`, `email`, `tax_id`) as an `Organization` of the vocabulary.
    fn organization(&mut self, at: &str, native: &str) {
        self.constant(&format!("{at}/type"), json!(["Organization"]));
        self.copy(&format!("{at}/name"), &format!("{native}/name"));
        self.copy(&format!("{at}/email"), &format!("{native}/email"));
        self.copy(&format!("{at}/phoneNumber"), &format!("{native}/phone"));
        self.copy(&format!("{at}/taxId"), &format!("{native}/tax_id/number"));
        self.place(&format!("{at}/location"), &format!("{native}/address"));
    }

    fn place(&mut self, at: &str, native: &str) {
        if self.absent(&format!("{native}/street")) == Some(true)
            && self.absent(&format!("{native}/country")) == Some(true)
        {
            return;
        }
        self.constant(&format!("{at}/type"), json!(["Place"]));
        let address = format!("{at}/address");
        self.constant(&format!("{address}/type"), json!(["PostalAddress"]));
        for (to, from) in [
            ("streetAddress", "street"),
            ("addressLocality", "city"),
            ("addressRegion", "region"),
            ("addressCountry", "country"),
            ("postalCode", "postal_code"),
        ] {
            self.copy(&format!("{address}/{to}"), &format!("{native}/{from}"));
        }
    }
}

/// `validFrom`/`validUntil`: the blanket period when there is one, else the signature date (and, for USMCA,
/// the four years a certification is valid for, USMCA Article 5.2).
fn validity(m: &mut Mapper<'_>, kind: CredentialType) {
    let start_of_day = |d: String| Some(Value::from(format!("{d}T00:00:00Z")));
    let end_of_day = |d: String| Some(Value::from(format!("{d}T23:59:59Z")));
    match m.absent("/blanket_period/from") {
        Some(false) => {
            m.derive("/validFrom", "/blanket_period/from", start_of_day);
            m.derive("/validUntil", "/blanket_period/to", end_of_day);
            // Which date stands for the end was decided by the presence of the period's start.
            m.also_from("/validUntil", "/blanket_period/from");
        }
        Some(true) => {
            m.derive("/validFrom", "/signature/date", start_of_day);
            if kind == CredentialType::Usmca {
                m.derive("/validUntil", "/signature/date", |d| {
                    let year: i32 = d.get(..4)?.parse().ok()?;
                    end_of_day(format!(
                        "{}{}",
                        year + 4,
                        d.get(4..)?.replace("-02-29", "-02-28")
                    ))
                });
            }
        }
        None => {}
    }
}

fn usmca(m: &mut Mapper<'_>) {
    // The issuer's employee is the certifier (a person); their name is split at its first space.
    m.constant("/issuer/employee/type", json!(["Person"]));
    m.derive("/issuer/employee/firstName", "/certifier/name", |n| {
        Some(Value::from(
            n.split_once(' ').map_or(n.as_str(), |(first, _)| first),
        ))
    });
    m.derive("/issuer/employee/lastName", "/certifier/name", |n| {
        Some(Value::from(
            n.split_once(' ').map_or(n.as_str(), |(_, last)| last),
        ))
    });
    m.copy("/issuer/employee/jobTitle", "/certifier/title");
    m.copy("/issuer/employee/email", "/certifier/email");
    m.copy("/issuer/employee/phoneNumber", "/certifier/phone");
    m.place("/issuer/location", "/certifier/address");

    let subject = "/credentialSubject";
    m.constant(&format!("{subject}/type"), json!(["USMCAClaims"]));
    // Exporter and producer are required by the vocabulary; a certification that leaves them out (as the
    // agreement allows) says so in their name.
    party_or_note(
        m,
        &format!("{subject}/exporterDetails"),
        "/exporter",
        "Not given on the certification",
    );
    match m.src.get("/producer") {
        Lookup::Present(Value::String(_)) => {
            m.constant(
                &format!("{subject}/producerDetails/type"),
                json!(["Organization"]),
            );
            m.copy(&format!("{subject}/producerDetails/name"), "/producer");
            m.derive(&format!("{subject}/variousProducers"), "/producer", |p| {
                Some(Value::Bool(p == "VARIOUS"))
            });
        }
        _ if !m.src.indices("/producer").is_empty() => {
            // Several producers: the vocabulary has room for one; it names the first, and says there are more.
            m.organization(&format!("{subject}/producerDetails"), "/producer/0");
            m.derive(
                &format!("{subject}/variousProducers"),
                "/producer/0/name",
                |_| Some(Value::Bool(true)),
            );
        }
        _ => party_or_note(
            m,
            &format!("{subject}/producerDetails"),
            "/producer",
            "Same as the certifier",
        ),
    }
    if m.absent("/importer/name") == Some(false) {
        let since = m.leaves.len();
        m.organization(&format!("{subject}/importerDetails/0"), "/importer");
        m.decided_by(since, "/importer/name");
    }
    for i in m.src.indices("/goods") {
        let good = format!("{subject}/goods/{i}");
        let native = format!("/goods/{i}");
        m.constant(&format!("{good}/type"), json!(["USMCAProduct"]));
        m.copy(
            &format!("{good}/description"),
            &format!("{native}/description"),
        );
        m.copy(
            &format!("{good}/commodityCode"),
            &format!("{native}/hs_code"),
        );
        m.derive(
            &format!("{good}/commodityCodeType"),
            &format!("{native}/hs_code"),
            |code| {
                // Beyond six digits the code is a national tariff line: HTS, not HS.
                let digits = code.chars().filter(char::is_ascii_digit).count();
                Some(Value::from(if digits > 6 { "HTS" } else { "HS" }))
            },
        );
        m.copy(
            &format!("{good}/originCriterion"),
            &format!("{native}/origin_criterion"),
        );
        m.copy(
            &format!("{good}/countryOfOrigin"),
            &format!("{native}/country_of_origin"),
        );
    }
    // The vocabulary has one invoice number per credential: the first good's.
    m.copy(
        &format!("{subject}/invoiceNumber"),
        "/goods/0/invoice_number",
    );
}

fn party_or_note(m: &mut Mapper<'_>, at: &str, native: &str, note: &str) {
    let name = format!("{native}/name");
    match m.absent(&name) {
        Some(false) => {
            let since = m.leaves.len();
            m.organization(at, native);
            m.decided_by(since, &name);
        }
        Some(true) if m.absent(native) == Some(true) => {
            m.constant(&format!("{at}/type"), json!(["Organization"]));
            m.constant(&format!("{at}/name"), json!(note));
        }
        _ => {}
    }
}

fn generic(m: &mut Mapper<'_>) {
    let subject = "/credentialSubject";
    m.copy("/issuer/name", "/signature/company");
    m.copy(
        &format!("{subject}/manufacturingCountry"),
        "/goods/0/country_of_origin",
    );
    // The native forms have no date of export; the signature date stands in for it.
    m.copy(&format!("{subject}/dateOfExport"), "/signature/date");
    let agreement = m.text("/regime");
    for i in m.src.indices("/goods") {
        let item = format!("{subject}/items/{i}");
        let native = format!("/goods/{i}");
        m.constant(&format!("{item}/type"), json!(["TradeLineItem"]));
        m.copy(
            &format!("{item}/description"),
            &format!("{native}/description"),
        );
        m.copy(
            &format!("{item}/countryOfOrigin"),
            &format!("{native}/country_of_origin"),
        );
        if let Some(agreement) = &agreement {
            // The item exists for a verifier only through one of its own fields: its HS code (required).
            let claim = format!("{item}/freeTradeAgreement");
            m.derive(&claim, &format!("{native}/hs_code"), |_| {
                Some(Value::from(agreement.as_str()))
            });
            m.also_from(&claim, "/regime");
        }
        m.constant(&format!("{item}/product/type"), json!(["Product"]));
        m.constant(
            &format!("{item}/product/commodity/type"),
            json!(["Commodity"]),
        );
        m.copy(
            &format!("{item}/product/commodity/commodityCode"),
            &format!("{native}/hs_code"),
        );
        m.derive(
            &format!("{item}/product/commodity/commodityCodeType"),
            &format!("{native}/hs_code"),
            |_| Some(Value::from("HS")),
        );
    }
}
