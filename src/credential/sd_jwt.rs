//! SD-JWT VC presentations (RFC 9901, draft-ietf-oauth-sd-jwt-vc): the issuer-signed JWT (`typ` `dc+sd-jwt`,
//! `iss` the registrant's did:jwk, `vct` the credential type, `_sd_alg` `sha-256`) followed by the
//! disclosures of exactly the chosen claims, and no key binding JWT.
//!
//! Every object member of the credential is selectively disclosable except constant `type` members; arrays
//! stay arrays (their elements are objects with their own `_sd`), so positions are stable and a verifier
//! sees how many goods there are but nothing about the ones not disclosed.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use rand::TryRng as _;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};

use super::mapping::{self, Leaf};
use super::source::Disclosed;
use super::{LogBinding, claims_of_binding, claims_of_body};
use crate::jose::{b64, did_jwk, jws};

/// The JWS `typ` of an SD-JWT VC.
pub const TYP: &str = "dc+sd-jwt";
/// The most disclosures a presentation may carry.
const MAX_DISCLOSURES: usize = 4096;
/// The longest presentation read, in bytes.
const MAX_LEN: usize = 4 << 20;
/// Payload members of the SD-JWT itself, not claims of the credential.
const JWT_MEMBERS: [&str; 5] = ["iss", "vct", "_sd_alg", "iat", "cnf"];

/// The native fields (JSON pointers) that the claims under `chosen` (credential pointers) are computed from,
/// with `/regime` always: what the presentation's log binding must disclose.
pub fn native_fields(
    body: &Value,
    issuer: &str,
    cert_id: &str,
    chosen: &[String],
) -> anyhow::Result<Vec<String>> {
    let (_, claims) = claims_of_body(body, issuer, cert_id)?;
    let selected = select(&claims, chosen)?;
    let mut fields: BTreeSet<String> = selected
        .iter()
        .flat_map(|l| l.sources.iter().cloned())
        .collect();
    fields.insert("/regime".into());
    Ok(fields.into_iter().collect())
}

/// The claims under the chosen pointers (constants excepted); each pointer must name at least one claim.
fn select<'c>(claims: &'c [Leaf], chosen: &[String]) -> anyhow::Result<Vec<&'c Leaf>> {
    let mut selected = Vec::new();
    for pointer in chosen {
        let before = selected.len();
        selected.extend(
            claims
                .iter()
                .filter(|l| !l.sources.is_empty() && under(&l.pointer, pointer)),
        );
        anyhow::ensure!(
            selected.len() > before,
            "{pointer} names no claim of the credential (claims are addressed by their pointer in the \
             credential, e.g. /credentialSubject/goods/0/commodityCode; see docs/interop.md)"
        );
    }
    Ok(selected)
}

fn under(pointer: &str, prefix: &str) -> bool {
    prefix.is_empty()
        || pointer == prefix
        || pointer
            .strip_prefix(prefix)
            .is_some_and(|r| r.starts_with('/'))
}

/// Writes the presentation of the claims under `chosen`, signed with the registrant's key and bound to the
/// registration by `binding` (whose bundle must disclose the fields [`native_fields`] named).
pub fn present(
    body: &Value,
    chosen: &[String],
    binding: &LogBinding,
    key: &SigningKey,
    issued_at: u64,
) -> anyhow::Result<String> {
    let issuer = did_jwk::encode(&key.verifying_key());
    let (kind, claims) = claims_of_body(body, &issuer, &binding.cert_id)?;
    let selected = select(&claims, chosen)?;
    // A claim computed from a field's absence cannot be checked against a selective disclosure: refuse it
    // here rather than write a presentation that no verifier can back.
    let partial = Disclosed {
        disclosure: &binding.bundle.disclosure,
        complete: false,
    };
    let issuance = mapping::Issuance {
        issuer: &issuer,
        cert_id: &binding.cert_id,
    };
    let backed = mapping::leaves(kind, &partial, &issuance);
    for leaf in &selected {
        anyhow::ensure!(
            backed.contains(leaf),
            "{} cannot be disclosed selectively: it is computed from a field the certificate leaves out, which \
             only the whole certificate shows (export it with --format vc-jose instead)",
            leaf.pointer
        );
    }
    let mut document = mapping::assemble(&claims);
    if let Value::Object(members) = &mut document {
        members.remove("@context");
        members.remove("type");
    }
    let mut concealer = Concealer {
        claims: &claims,
        selected: &selected,
        disclosures: Vec::new(),
    };
    let Value::Object(concealed) = concealer.conceal(&document, "")? else {
        anyhow::bail!("the credential is not a JSON object");
    };
    let mut payload = Map::new();
    payload.insert("iss".into(), json!(issuer));
    payload.insert("vct".into(), json!(kind.vct()));
    payload.insert("_sd_alg".into(), json!("sha-256"));
    payload.insert("iat".into(), json!(issued_at));
    payload.extend(concealed);
    let header = super::vc_jose::header(TYP, key, binding)?;
    let jwt = jws::sign(header, &serde_json::to_vec(&Value::Object(payload))?, key);
    let mut out = jwt;
    for disclosure in concealer.disclosures {
        out.push('~');
        out.push_str(&disclosure);
    }
    out.push('~');
    Ok(out)
}

struct Concealer<'a> {
    claims: &'a [Leaf],
    selected: &'a [&'a Leaf],
    /// The encoded disclosures to present, in document order.
    disclosures: Vec<String>,
}

impl Concealer<'_> {
    fn conceal(&mut self, value: &Value, path: &str) -> anyhow::Result<Value> {
        match value {
            Value::Object(members) => {
                let mut out = Map::new();
                let mut digests = Vec::new();
                for (name, member) in members {
                    let child = format!("{path}/{}", name.replace('~', "~0").replace('/', "~1"));
                    let constant = !self
                        .claims
                        .iter()
                        .any(|l| !l.sources.is_empty() && under(&l.pointer, &child));
                    if name == "type" || constant {
                        out.insert(name.clone(), member.clone());
                        continue;
                    }
                    let position = self.disclosures.len();
                    let inner = self.conceal(member, &child)?;
                    let disclosure =
                        b64::encode(serde_json::to_vec(&json!([salt()?, name, inner]))?);
                    digests.push(digest(&disclosure));
                    if self.selected.iter().any(|l| under(&l.pointer, &child)) {
                        // Parents before children, as a reader of the presentation expects.
                        self.disclosures.insert(position, disclosure);
                    }
                }
                if !digests.is_empty() {
                    digests.sort();
                    out.insert("_sd".into(), json!(digests));
                }
                Ok(Value::Object(out))
            }
            Value::Array(items) => Ok(Value::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.conceal(item, &format!("{path}/{i}")))
                    .collect::<anyhow::Result<_>>()?,
            )),
            scalar => Ok(scalar.clone()),
        }
    }
}

/// A 128-bit disclosure salt from the operating system's CSPRNG (RFC 9901 §9.3).
fn salt() -> anyhow::Result<String> {
    let mut bytes = [0u8; 16];
    rand::rngs::SysRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| anyhow::anyhow!("the system random number generator failed: {e}"))?;
    Ok(b64::encode(bytes))
}

/// The digest of an encoded disclosure: base64url(SHA-256(its ASCII)) (RFC 9901 §4.2.3).
fn digest(encoded: &str) -> String {
    b64::encode(Sha256::digest(encoded.as_bytes()))
}

/// What verifying a presentation established.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedPresentation {
    /// The credential type.
    pub credential_type: &'static str,
    /// The `vct`.
    pub vct: String,
    /// The issuer's did:jwk.
    pub issuer: String,
    /// The registrant the log names for that key.
    pub registrant: String,
    /// The certificate id.
    pub cert_id: String,
    /// The registration's log index.
    pub registration_index: u64,
    /// The size of the checkpoint the binding proves it under.
    pub checkpoint_size: u64,
    /// The log's origin.
    pub origin: String,
    /// The disclosed claims (credential pointer and value), constants left out.
    pub disclosed: Vec<(String, Value)>,
}

/// Verifies a presentation offline: the issuer-signed JWT (`typ` `dc+sd-jwt`, `EdDSA`, key from the did:jwk
/// `kid`, `iss` that same DID, `_sd_alg` `sha-256`), every disclosure referenced exactly once (RFC 9901 §7.1:
/// an unreferenced or repeated disclosure is refused), the log binding, that the key is the registrant's
/// enrolled key, and that every disclosed claim is what the bound native fields say.
pub fn verify(
    text: &str,
    vkey: &str,
    policy: Option<&ledger::Policy>,
) -> anyhow::Result<VerifiedPresentation> {
    let text = text.trim();
    anyhow::ensure!(
        text.len() <= MAX_LEN,
        "the presentation is longer than {MAX_LEN} bytes"
    );
    let mut parts: Vec<&str> = text.split('~').collect();
    anyhow::ensure!(parts.len() >= 2, "not an SD-JWT (no '~' separator)");
    anyhow::ensure!(
        parts.pop() == Some(""),
        "the presentation ends in a key binding JWT, which tradeledger presentations do not use"
    );
    anyhow::ensure!(
        parts.len() <= MAX_DISCLOSURES + 1,
        "more than {MAX_DISCLOSURES} disclosures"
    );
    let jwt = parts.remove(0);
    let verified =
        jws::verify(jwt, &jws::Limits::with_typ(TYP)).context("the SD-JWT's issuer-signed JWT")?;
    let payload: Value =
        serde_json::from_slice(&verified.payload).context("the SD-JWT payload is not JSON")?;
    let issuer = did_jwk::encode(&verified.key);
    anyhow::ensure!(
        payload.get("iss") == Some(&json!(issuer)),
        "iss is not the did:jwk of the signing key"
    );
    anyhow::ensure!(
        payload.get("_sd_alg") == Some(&json!("sha-256")),
        "_sd_alg must be \"sha-256\""
    );
    let disclosures = decode_disclosures(&parts)?;
    let mut used = vec![false; disclosures.len()];
    let mut claims = reveal(&payload, &disclosures, &mut used)?;
    if let Some(unused) = used.iter().position(|u| !u) {
        anyhow::bail!(
            "disclosure {} is not referenced by the signed payload (RFC 9901 §7.1): refused",
            unused + 1
        );
    }
    if let Value::Object(members) = &mut claims {
        for member in JWT_MEMBERS {
            members.remove(member);
        }
    }
    let binding = LogBinding::from_header(&verified.header)?;
    let facts = binding.verify(vkey, policy)?;
    let (kind, expected) = claims_of_binding(&facts, &binding.bundle.disclosure, &verified.key)?;
    anyhow::ensure!(
        payload.get("vct") == Some(&json!(kind.vct())),
        "vct is not {} (the type of the registered certificate)",
        kind.vct()
    );
    let expected: BTreeMap<&str, &Leaf> =
        expected.iter().map(|l| (l.pointer.as_str(), l)).collect();
    let constants = constant_patterns(kind, &issuer, &facts.registration.cert_id);
    let mut disclosed = Vec::new();
    let mut flat = Vec::new();
    flatten(&claims, String::new(), &mut flat);
    for (pointer, value) in flat {
        let Some(leaf) = expected.get(pointer.as_str()) else {
            // The constant `type` of an array element none of whose claims is disclosed: the disclosure says
            // nothing about that element, but its type must still be the one the mapping gives it.
            anyhow::ensure!(
                constants.get(&pattern(&pointer)) == Some(&value),
                "claim {pointer} is not backed by the certificate fields the log binding discloses"
            );
            continue;
        };
        anyhow::ensure!(
            leaf.value == value,
            "claim {pointer} differs from what the registered certificate says"
        );
        if !leaf.sources.is_empty() {
            disclosed.push((pointer, value));
        }
    }
    let registration = facts.registration;
    Ok(VerifiedPresentation {
        credential_type: kind.name(),
        vct: kind.vct(),
        issuer,
        registrant: registration.registrant,
        cert_id: registration.cert_id,
        registration_index: registration.registration_index,
        checkpoint_size: registration.checkpoint_size,
        origin: registration.origin,
        disclosed,
    })
}

/// Every constant claim of the type, by pointer pattern (array indices as `*`).
fn constant_patterns(
    kind: mapping::CredentialType,
    issuer: &str,
    cert_id: &str,
) -> BTreeMap<String, Value> {
    let issuance = mapping::Issuance { issuer, cert_id };
    mapping::leaves(kind, &super::source::Wildcard::new(), &issuance)
        .into_iter()
        .filter(|l| l.sources.is_empty())
        .map(|l| (pattern(&l.pointer), l.value))
        .collect()
}

/// A pointer with its array indices replaced by `*`.
fn pattern(pointer: &str) -> String {
    pointer
        .split('/')
        .map(|s| {
            if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                "*"
            } else {
                s
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// A decoded object-member disclosure: its digest, name and value.
struct Disclosure {
    digest: String,
    name: String,
    value: Value,
}

fn decode_disclosures(parts: &[&str]) -> anyhow::Result<Vec<Disclosure>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(parts.len());
    for (i, encoded) in parts.iter().enumerate() {
        let n = i + 1;
        let bytes =
            b64::decode(encoded, "disclosure").with_context(|| format!("disclosure {n}"))?;
        let array: Vec<Value> = serde_json::from_slice(&bytes)
            .with_context(|| format!("disclosure {n} is not a JSON array"))?;
        let [salt, name, value] = <[Value; 3]>::try_from(array).map_err(|_| {
            anyhow::anyhow!(
                "disclosure {n} is not [salt, name, value] (array element disclosures are not used)"
            )
        })?;
        anyhow::ensure!(salt.is_string(), "disclosure {n}: the salt is not a string");
        let Value::String(name) = name else {
            anyhow::bail!("disclosure {n}: the claim name is not a string");
        };
        anyhow::ensure!(
            !["_sd", "...", "_sd_alg"].contains(&name.as_str()),
            "disclosure {n}: the claim name {name:?} is reserved (RFC 9901 §7.1)"
        );
        let digest = digest(encoded);
        anyhow::ensure!(
            seen.insert(digest.clone()),
            "disclosure {n} is a repeat of an earlier one: refused"
        );
        out.push(Disclosure {
            digest,
            name,
            value,
        });
    }
    Ok(out)
}

/// Replaces every referenced digest by its disclosed member (RFC 9901 §7.1 step 3), recursively.
fn reveal(value: &Value, disclosures: &[Disclosure], used: &mut [bool]) -> anyhow::Result<Value> {
    match value {
        Value::Object(members) => {
            let mut out = Map::new();
            for (name, member) in members {
                if name == "_sd" {
                    continue;
                }
                out.insert(name.clone(), reveal(member, disclosures, used)?);
            }
            if let Some(digests) = members.get("_sd") {
                let digests = digests.as_array().context("_sd is not an array")?;
                let mut listed = BTreeSet::new();
                for d in digests {
                    let d = d.as_str().context("an _sd digest is not a string")?;
                    anyhow::ensure!(
                        listed.insert(d),
                        "the digest {d} appears twice in the signed payload"
                    );
                    let Some(i) = disclosures.iter().position(|x| x.digest == d) else {
                        continue; // not disclosed (or a decoy)
                    };
                    let slot = used.get_mut(i).context("disclosure index")?;
                    anyhow::ensure!(!*slot, "disclosure {} is referenced twice: refused", i + 1);
                    *slot = true;
                    let disclosure = &disclosures[i];
                    anyhow::ensure!(
                        !out.contains_key(&disclosure.name),
                        "disclosure {} repeats the claim {:?} already in the payload",
                        i + 1,
                        disclosure.name
                    );
                    let revealed = reveal(&disclosure.value, disclosures, used)?;
                    out.insert(disclosure.name.clone(), revealed);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(items) => Ok(Value::Array(
            items
                .iter()
                .map(|item| reveal(item, disclosures, used))
                .collect::<anyhow::Result<_>>()?,
        )),
        scalar => Ok(scalar.clone()),
    }
}

/// The claims as (pointer, value) leaves: scalars, and arrays of scalars (the `type` arrays) whole.
fn flatten(value: &Value, path: String, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                let child = format!("{path}/{}", name.replace('~', "~0").replace('/', "~1"));
                flatten(member, child, out);
            }
        }
        Value::Array(items) if items.iter().any(|i| i.is_object() || i.is_array()) => {
            for (i, item) in items.iter().enumerate() {
                flatten(item, format!("{path}/{i}"), out);
            }
        }
        leaf => out.push((path, leaf.clone())),
    }
}
