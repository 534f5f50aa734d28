//! Whose signature a VC-JOSE credential carries: the issuer's signature is verified offline when the token's
//! `kid` is a did:jwk (the key is in the identifier), and compared with the key the registrant enrolled on the
//! log. Any other key reference (did:web, did:key, an https URL) cannot be resolved offline: it is reported as
//! unverifiable, never passed over.

use std::fmt;

use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use serde_json::Value;

use crate::cert::vc::envelope::{parse_compact, token_of};
use crate::jose::{did_jwk, jws};

/// What could be established about the issuer's signature on a credential body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum IssuerSignature {
    /// The body carries no VC-JOSE token (a native certificate, or a credential registered as plain JSON).
    NotSecured,
    /// The signature verifies under the did:jwk key `kid` names.
    Verified {
        /// The verification method that signed (`did:jwk:...#0`).
        kid: String,
        /// The credential's `issuer.id`.
        issuer: Option<String>,
        /// Whether `kid` is a verification method of the issuer's DID; when not, the key verified but nothing
        /// offline ties it to the issuer.
        issuer_key: bool,
        /// Whether the key is the one the registrant enrolled on the log (`None`: not compared).
        enrolled: Option<bool>,
    },
    /// The signature cannot be checked here: the key is not named by a did:jwk, or the algorithm is not EdDSA.
    Unverifiable {
        /// The credential's `issuer.id`.
        issuer: Option<String>,
        /// Why.
        reason: String,
    },
    /// The token is signed with a did:jwk key, and the signature (or the token) is wrong.
    Failed {
        /// What was wrong.
        reason: String,
    },
}

impl IssuerSignature {
    /// Whether a reader must treat the credential as not what its issuer signed.
    pub fn failed(&self) -> bool {
        matches!(self, IssuerSignature::Failed { .. })
    }
}

impl fmt::Display for IssuerSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IssuerSignature::NotSecured => {
                f.write_str("the credential carries no issuer signature (plain JSON)")
            }
            IssuerSignature::Verified {
                kid,
                issuer,
                issuer_key,
                enrolled,
            } => {
                write!(f, "the issuer's signature verified with key {kid}")?;
                if !issuer_key {
                    write!(
                        f,
                        ", which is not a key of the credential's issuer {} (nothing offline ties them)",
                        issuer.as_deref().unwrap_or("(none named)")
                    )?;
                }
                match enrolled {
                    Some(true) => f.write_str("; it is the registrant's key enrolled on the log"),
                    Some(false) => {
                        f.write_str("; it is NOT the registrant's key enrolled on the log")
                    }
                    None => Ok(()),
                }
            }
            IssuerSignature::Unverifiable { issuer, reason } => write!(
                f,
                "the issuer's signature was NOT verified (issuer {}): {reason}",
                issuer.as_deref().unwrap_or("(none named)")
            ),
            IssuerSignature::Failed { reason } => {
                write!(f, "the issuer's signature does NOT verify: {reason}")
            }
        }
    }
}

/// Checks the issuer's signature on `body`; `enrolled` is the registrant's signing key on the log, if known.
pub fn issuer_signature(body: &Value, enrolled: Option<&VerifyingKey>) -> IssuerSignature {
    let Some(token) = token_of(body) else {
        return IssuerSignature::NotSecured;
    };
    let issuer = body
        .get("issuer")
        .and_then(|i| i.get("id").or(Some(i)))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let header = match parse_compact(token) {
        Ok(jws) => jws.header,
        Err(why) => {
            return IssuerSignature::Failed {
                reason: why.to_owned(),
            };
        }
    };
    let kid = header.get("kid").and_then(Value::as_str);
    let alg = header.get("alg").and_then(Value::as_str);
    if alg != Some(jws::ALG) {
        return IssuerSignature::Unverifiable {
            issuer,
            reason: "the token's alg is not EdDSA, the only algorithm verified here".into(),
        };
    }
    let Some(kid) = kid.filter(|k| k.starts_with(did_jwk::PREFIX)) else {
        return IssuerSignature::Unverifiable {
            reason: format!(
                "the signing key is named by {}, which cannot be resolved offline (only did:jwk keys are)",
                kid.map_or_else(|| "no kid".to_owned(), |k| format!("kid {k}"))
            ),
            issuer,
        };
    };
    match jws::verify(token, &jws::Limits::DEFAULT) {
        Ok(verified) => {
            let did = kid.split_once('#').map_or(kid, |(did, _)| did);
            IssuerSignature::Verified {
                kid: kid.to_owned(),
                issuer_key: issuer.as_deref() == Some(did),
                issuer,
                enrolled: enrolled.map(|key| *key == verified.key),
            }
        }
        Err(e) => IssuerSignature::Failed {
            reason: e.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use ed25519_dalek::SigningKey;
    use serde_json::{Map, json};

    use super::*;
    use crate::cert::vc::envelope::envelop;

    fn credential(issuer: &str) -> Value {
        json!({"type": ["VerifiableCredential", "CertificationOfOrigin"], "issuer": {"type": ["Organization"], "id": issuer}})
    }

    fn signed(payload: &Value, key: &SigningKey, kid: &str) -> Value {
        let mut header = Map::new();
        header.insert("kid".into(), json!(kid));
        header.insert("typ".into(), json!("vc+jwt"));
        envelop(&jws::sign(
            header,
            &serde_json::to_vec(payload).unwrap(),
            key,
        ))
        .unwrap()
    }

    #[test]
    fn did_jwk_issuers_verify_and_are_compared_with_the_enrolled_key() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let did = did_jwk::encode(&key.verifying_key());
        let kid = did_jwk::verification_method(&key.verifying_key());
        let body = signed(&credential(&did), &key, &kid);
        assert_eq!(
            issuer_signature(&body, Some(&key.verifying_key())),
            IssuerSignature::Verified {
                kid: kid.clone(),
                issuer: Some(did.clone()),
                issuer_key: true,
                enrolled: Some(true)
            }
        );
        let verdict = issuer_signature(&body, Some(&other.verifying_key()));
        assert!(
            verdict.to_string().contains("NOT the registrant's key"),
            "{verdict}"
        );

        // A did:jwk key that is not the issuer's verifies, and says so.
        let body = signed(&credential("did:web:example.com"), &key, &kid);
        let verdict = issuer_signature(&body, None);
        assert!(matches!(
            verdict,
            IssuerSignature::Verified {
                issuer_key: false,
                ..
            }
        ));
        assert!(
            verdict
                .to_string()
                .contains("not a key of the credential's issuer")
        );
    }

    #[test]
    fn a_wrong_signature_fails_and_unresolvable_keys_are_reported() {
        let key = SigningKey::from_bytes(&[7; 32]);
        let other = SigningKey::from_bytes(&[8; 32]);
        let did = did_jwk::encode(&key.verifying_key());
        // Signed by another key than the one kid names.
        let body = signed(
            &credential(&did),
            &other,
            &did_jwk::verification_method(&key.verifying_key()),
        );
        assert!(issuer_signature(&body, None).failed());

        let body = signed(
            &credential("did:web:example.com"),
            &key,
            "did:web:example.com#key-1",
        );
        let verdict = issuer_signature(&body, None);
        assert!(matches!(verdict, IssuerSignature::Unverifiable { .. }));
        assert!(
            verdict.to_string().contains("did:web:example.com#key-1"),
            "{verdict}"
        );
        assert!(verdict.to_string().contains("NOT verified"), "{verdict}");

        assert_eq!(
            issuer_signature(&credential(&did), None),
            IssuerSignature::NotSecured
        );
    }
}
