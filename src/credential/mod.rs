//! Certificates as W3C Verifiable Credentials going out: VC-JOSE export, SD-JWT VC selective disclosure, and
//! their offline verification against the log (docs/interop.md).
//!
//! The public interface is:
//! - [`mapping`]: native certificate → credential claims of the CCG traceability vocabulary;
//! - [`LogBinding`]: the protected header parameter binding a token to its registration on the log;
//! - [`vc_jose`]: `export` and `verify` of a VC 2.0 credential secured as a compact JWS (`typ` `vc+jwt`);
//! - [`sd_jwt`]: `present` and `verify` of an SD-JWT VC presentation (RFC 9901, `typ` `dc+sd-jwt`).

mod binding;
pub mod mapping;
pub mod sd_jwt;
mod source;
#[cfg(test)]
mod tests;
pub mod vc_jose;

pub use binding::{HEADER_PARAM, LogBinding, VerifiedBinding};

use anyhow::Context as _;
use serde_json::Value;

use crate::jose::did_jwk;
use mapping::{CredentialType, Issuance, Leaf};
use source::{Body, Disclosed};

/// The credential type of a native body.
fn native_type(body: &Value) -> anyhow::Result<CredentialType> {
    anyhow::ensure!(
        !crate::cert::is_credential(body),
        "this certificate was registered as a credential: export returns it (--format vc-jose), and its fields \
         are disclosed with the native bundle (--format bundle), whose pointers address the credential's own \
         fields; SD-JWT presentations of registered credentials are not written"
    );
    CredentialType::of_native(body.get("regime").and_then(Value::as_str)).context(
        "only native USMCA, CAFTA-DR and NAFTA-434 certificates map to credentials of the traceability vocabulary",
    )
}

/// Every claim of the credential of a whole native body, issued by `issuer` (a did:jwk).
fn claims_of_body(
    body: &Value,
    issuer: &str,
    cert_id: &str,
) -> anyhow::Result<(CredentialType, Vec<Leaf>)> {
    let kind = native_type(body)?;
    let issuance = Issuance { issuer, cert_id };
    Ok((kind, mapping::leaves(kind, &Body(body), &issuance)))
}

/// Key transparency: the token's key must be the one the log says the registrant held when it registered.
fn check_signer(
    binding: &VerifiedBinding,
    signer: &ed25519_dalek::VerifyingKey,
) -> anyhow::Result<()> {
    let registration = &binding.registration;
    anyhow::ensure!(
        *signer == registration.registrant_key,
        "the issuer's key is not the key enrolled on the log for {}, the registrant of certificate {}",
        registration.registrant,
        registration.cert_id
    );
    Ok(())
}

/// The claims a verified binding's disclosed native fields determine, issued by the key that signed.
fn claims_of_binding(
    binding: &VerifiedBinding,
    bundle_disclosure: &vault::Disclosure,
    signer: &ed25519_dalek::VerifyingKey,
) -> anyhow::Result<(CredentialType, Vec<Leaf>)> {
    check_signer(binding, signer)?;
    let registration = &binding.registration;
    let regime = bundle_disclosure
        .get("/regime")
        .and_then(Value::as_str)
        .context("the log binding does not disclose the certificate's /regime")?;
    let kind = CredentialType::of_native(Some(regime))
        .with_context(|| format!("regime {regime:?} has no credential mapping"))?;
    let complete =
        u64::try_from(bundle_disclosure.fields.len()).ok() == Some(bundle_disclosure.tree_size);
    let source = Disclosed {
        disclosure: bundle_disclosure,
        complete,
    };
    let issuer = did_jwk::encode(signer);
    let issuance = Issuance {
        issuer: &issuer,
        cert_id: &registration.cert_id,
    };
    Ok((kind, mapping::leaves(kind, &source, &issuance)))
}
