//! VC-JOSE (W3C "Securing Verifiable Credentials using JOSE and COSE" §3.1.1): the credential is the JWS
//! payload, `typ` `vc+jwt`, `cty` `vc`, `alg` `EdDSA`, `kid` the issuer's did:jwk verification method.

use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::mapping::{self, CredentialType};
use super::{HEADER_PARAM, LogBinding, claims_of_binding, claims_of_body};
use crate::cert::{self, vc::envelope};
use crate::jose::{did_jwk, jws};

/// The JWS `typ` of a VC-JOSE credential.
pub const TYP: &str = "vc+jwt";

/// Signs the credential of a certificate body with the registrant's key, bound to its registration: a native
/// body is mapped (docs/interop.md "Mapping"); a credential registered as plain JSON is signed as it is, when
/// its issuer is the registrant's did:jwk (tradeledger signs only as the registrant). A credential registered
/// as a token is returned by the caller as that token instead ([`registered_token`]).
pub fn export(body: &Value, binding: &LogBinding, key: &SigningKey) -> anyhow::Result<String> {
    let issuer = did_jwk::encode(&key.verifying_key());
    let payload = if cert::is_credential(body) {
        let credential = envelope::credential_of(body);
        let named = credential
            .get("issuer")
            .and_then(|i| i.get("id").or(Some(i)))
            .and_then(Value::as_str);
        anyhow::ensure!(
            named == Some(issuer.as_str()),
            "the credential names issuer {}, not your did:jwk {issuer}: tradeledger signs only as the registrant \
             (register the credential as its issuer's VC-JOSE token to export it as such)",
            named.unwrap_or("(none)")
        );
        credential
    } else {
        let (_, claims) = claims_of_body(body, &issuer, &binding.cert_id)?;
        mapping::assemble(&claims)
    };
    Ok(jws::sign(
        header(TYP, key, binding)?,
        &serde_json::to_vec(&payload)?,
        key,
    ))
}

/// The token a credential registered as VC-JOSE was registered as: what `export` returns for it, unchanged (its
/// issuer's signature; it carries no log binding, the registration's receipt proves that).
pub fn registered_token(body: &Value) -> Option<&str> {
    envelope::token_of(body)
}

/// The protected header of an exported token.
pub(super) fn header(
    typ: &str,
    key: &SigningKey,
    binding: &LogBinding,
) -> anyhow::Result<Map<String, Value>> {
    let mut header = Map::new();
    header.insert("typ".into(), json!(typ));
    if typ == TYP {
        header.insert("cty".into(), json!("vc"));
    }
    header.insert(
        "kid".into(),
        json!(did_jwk::verification_method(&key.verifying_key())),
    );
    header.insert(HEADER_PARAM.into(), serde_json::to_value(binding)?);
    Ok(header)
}

/// What verifying a VC-JOSE credential established.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedCredential {
    /// The credential type.
    pub credential_type: &'static str,
    /// The issuer's did:jwk.
    pub issuer: String,
    /// The registrant the log names for that key.
    pub registrant: String,
    /// The certificate id.
    pub cert_id: String,
    /// The registration's log index.
    pub registration_index: u64,
    /// The size of the checkpoint the binding's bundle proves it under.
    pub checkpoint_size: u64,
    /// The log's origin.
    pub origin: String,
    /// The credential.
    pub credential: Value,
}

/// Verifies a VC-JOSE token offline: the JWS (`typ` `vc+jwt`, `EdDSA`, key from the did:jwk `kid`), the log
/// binding (receipt, bundle, commitment), that the key is the registrant's enrolled key, and that the payload
/// is exactly the credential of the certificate registered (recomputed from the bundle's full disclosure).
pub fn verify(
    token: &str,
    vkey: &str,
    policy: Option<&ledger::Policy>,
) -> anyhow::Result<VerifiedCredential> {
    let verified =
        jws::verify(token.trim(), &jws::Limits::with_typ(TYP)).context("the VC-JOSE token")?;
    let binding = LogBinding::from_header(&verified.header)?;
    let facts = binding.verify(vkey, policy)?;
    let payload: Value =
        serde_json::from_slice(&verified.payload).context("the payload is not JSON")?;
    let disclosure = &binding.bundle.disclosure;
    let (type_name, expected) =
        if disclosure.get("/regime").is_none() && disclosure.get("/@context/0").is_some() {
            // A credential registered as plain JSON: the payload is the registered body itself.
            super::check_signer(&facts, &verified.key)?;
            anyhow::ensure!(
                u64::try_from(disclosure.fields.len()).ok() == Some(disclosure.tree_size),
                "the log binding does not disclose the whole registered credential"
            );
            let fields: Vec<mapping::Leaf> = disclosure
                .fields
                .iter()
                .map(|f| mapping::Leaf {
                    pointer: f.pointer.clone(),
                    value: f.value.clone(),
                    sources: vec![f.pointer.clone()],
                })
                .collect();
            let body = envelope::credential_of(&mapping::assemble(&fields));
            let name = [CredentialType::Usmca, CredentialType::Generic]
                .into_iter()
                .map(CredentialType::name)
                .find(|n| body.pointer("/type/1").and_then(Value::as_str) == Some(n))
                .unwrap_or("VerifiableCredential");
            (name, body)
        } else {
            let (kind, claims) = claims_of_binding(&facts, disclosure, &verified.key)?;
            (kind.name(), mapping::assemble(&claims))
        };
    anyhow::ensure!(
        payload == expected,
        "the credential is not the {type_name} of the certificate registered at log index {} (its content \
         differs from what the log binding proves)",
        facts.registration.registration_index
    );
    Ok(VerifiedCredential {
        credential_type: type_name,
        issuer: did_jwk::encode(&verified.key),
        registrant: facts.registration.registrant.clone(),
        cert_id: facts.registration.cert_id.clone(),
        registration_index: facts.registration.registration_index,
        checkpoint_size: facts.registration.checkpoint_size,
        origin: facts.registration.origin,
        credential: payload,
    })
}

/// Whether a credential type name is one this module exports.
pub fn is_exported_type(name: &str) -> bool {
    [CredentialType::Usmca, CredentialType::Generic]
        .iter()
        .any(|k| k.name() == name)
}
