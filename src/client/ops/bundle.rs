//! Disclosure bundles: everything an auditor needs to check disclosed fields offline, with only the log key.
//!
//! Format (JSON, docs/cli.md "Disclosure bundle"): the checkpoint note; entry 0 (the operator's enrollment),
//! the registrant's enrollment and the registration entry, each with its index and inclusion proof under that
//! checkpoint; and the vault disclosure (fields, salts, proofs against the registered commitment).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::api::B64;
use crate::client::entries;
use crate::client::logview::{
    VerifiedEntry, VerifyError, operator_of, parse_log_key, party_of, verify_checkpoint_under,
    verify_included,
};

/// The bundle format tag.
pub(crate) const BUNDLE_FORMAT: &str = "tradeledger-disclosure-bundle/v1";

/// A log entry with its inclusion proof.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundledEntry {
    /// Index in the log.
    pub index: u64,
    /// The encoded entry.
    pub entry: B64,
    /// Its inclusion proof under the bundle's checkpoint.
    pub proof: Vec<B64>,
}

impl From<&VerifiedEntry> for BundledEntry {
    fn from(e: &VerifiedEntry) -> Self {
        BundledEntry {
            index: e.index,
            entry: B64(e.bytes.clone()),
            proof: e.proof.iter().cloned().map(B64).collect(),
        }
    }
}

/// A disclosure bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bundle {
    /// Always `tradeledger-disclosure-bundle/v1`.
    pub format: String,
    /// The signed checkpoint note every proof refers to.
    pub checkpoint: String,
    /// Entry 0: the operator's enrollment, signed by the log key.
    pub operator: BundledEntry,
    /// The registrant's enrollment, signed by the operator.
    pub registrant: BundledEntry,
    /// The registration entry, signed by the registrant.
    pub registration: BundledEntry,
    /// The disclosed fields.
    pub disclosure: vault::Disclosure,
}

/// What an offline verification established.
#[derive(Debug, Clone, Serialize)]
pub struct VerifiedDisclosure {
    /// The certificate id.
    pub cert_id: String,
    /// The registrant's party id.
    pub registrant: String,
    /// The registration entry's index.
    pub registration_index: u64,
    /// The checkpoint's tree size.
    pub checkpoint_size: u64,
    /// The disclosed fields, pointer and value.
    pub fields: Vec<(String, Value)>,
    /// The log's origin (from the checkpoint).
    pub origin: String,
    /// The registered document commitment, hex.
    pub commitment: String,
    /// The registrant's signing key enrolled on the log when it registered (what signed the registration).
    #[serde(skip)]
    pub registrant_key: ed25519_dalek::VerifyingKey,
}

fn included(
    e: &BundledEntry,
    checkpoint: &crate::client::logview::TrustedCheckpoint,
) -> Result<VerifiedEntry, VerifyError> {
    verify_included(
        e.index,
        e.entry.0.clone(),
        e.proof.iter().map(|p| p.0.clone()).collect(),
        checkpoint,
    )
}

/// Verifies a bundle with nothing but the log key: checkpoint signature, three inclusions, the chain of
/// signatures (log key → operator → registrant → registration) and the disclosure against the commitment.
pub fn verify_bundle(bundle: &Bundle, vkey: &str) -> anyhow::Result<VerifiedDisclosure> {
    verify_bundle_under(bundle, vkey, None)
}

/// [`verify_bundle`], and with a witness policy the bundle's checkpoint must also meet its quorum.
pub fn verify_bundle_under(
    bundle: &Bundle,
    vkey: &str,
    policy: Option<&ledger::Policy>,
) -> anyhow::Result<VerifiedDisclosure> {
    if bundle.format != BUNDLE_FORMAT {
        anyhow::bail!("not a {BUNDLE_FORMAT} bundle");
    }
    let (verifier, log_key) = parse_log_key(vkey)?;
    let checkpoint = verify_checkpoint_under(bundle.checkpoint.as_bytes(), &verifier, policy)?;
    let operator = operator_of(&included(&bundle.operator, &checkpoint)?, &log_key)?;
    let registrant_entry = included(&bundle.registrant, &checkpoint)?;
    let registrant = party_of(&registrant_entry, &operator)?;
    let registration = included(&bundle.registration, &checkpoint)?;
    if entries::signer(&registration.signed).as_ref() != Some(&registrant.id) {
        return Err(VerifyError::Unexpected {
            index: registration.index,
            expected: format!("signed by {}", registrant.id),
        }
        .into());
    }
    registration
        .signed
        .verify(&registrant.signing_key)
        .map_err(|_| VerifyError::BadSignature {
            index: registration.index,
            signer: registrant.id.to_string(),
        })?;
    let facts = entries::registration_facts(registration.signed.entry()).ok_or_else(|| {
        VerifyError::Unexpected {
            index: registration.index,
            expected: "a registration".into(),
        }
    })?;
    if facts.registrant != registrant.id {
        anyhow::bail!("the registration names another registrant than its signer");
    }
    if facts.cert_id != bundle.disclosure.cert_id {
        anyhow::bail!("the disclosure is for another certificate than the registration");
    }
    bundle.disclosure.verify(&facts.commitment)?;
    Ok(VerifiedDisclosure {
        cert_id: facts.cert_id.to_string(),
        registrant: registrant.id.to_string(),
        registration_index: registration.index,
        checkpoint_size: checkpoint.size,
        origin: checkpoint.origin.clone(),
        commitment: hex::encode(facts.commitment),
        registrant_key: registrant.signing_key,
        fields: bundle
            .disclosure
            .fields
            .iter()
            .map(|f| (f.pointer.clone(), f.value.clone()))
            .collect(),
    })
}
