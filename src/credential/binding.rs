//! The log binding every exported credential carries in its JWS protected header, parameter
//! [`HEADER_PARAM`] (docs/interop.md "Log binding"): the log origin, the registration's index, the certificate
//! id, its document commitment, a C2SP tlog-proof receipt of the registration, and a disclosure bundle that
//! proves the issuer's key was the one enrolled for the registrant and discloses the native fields the
//! credential's claims are computed from.
//!
//! It lives in the header because the vocabulary's schemas forbid properties they do not list in the payload.

use anyhow::Context as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::client::ops::{self, Bundle, VerifiedDisclosure, VerifiedReceipt};

/// The protected header parameter holding the binding.
pub const HEADER_PARAM: &str = "tradeledger_log";

/// The binding, as written in the header.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogBinding {
    /// The log's origin (its checkpoints' first line).
    pub origin: String,
    /// The registration entry's index.
    pub index: u64,
    /// The certificate id.
    pub cert_id: String,
    /// The registered document commitment, hex.
    pub commitment: String,
    /// The C2SP tlog-proof of the registration entry (as `tradeledger receipt` writes it).
    pub receipt: String,
    /// The disclosure bundle (`tradeledger-disclosure-bundle/v1`) of the native fields behind the claims.
    pub bundle: Bundle,
}

/// What verifying a binding established.
#[derive(Debug, Clone)]
pub struct VerifiedBinding {
    /// The bundle's findings: registrant, its enrolled key, commitment, disclosed fields.
    pub registration: VerifiedDisclosure,
    /// The receipt's findings.
    pub receipt: VerifiedReceipt,
}

impl LogBinding {
    /// The binding of a registration, from its bundle and receipt.
    pub fn new(
        bundle: Bundle,
        receipt: String,
        vkey: &str,
        policy: Option<&ledger::Policy>,
    ) -> anyhow::Result<LogBinding> {
        let facts = ops::verify_bundle_under(&bundle, vkey, policy)?;
        Ok(LogBinding {
            origin: facts.origin,
            index: facts.registration_index,
            cert_id: facts.cert_id,
            commitment: facts.commitment,
            receipt,
            bundle,
        })
    }

    /// Reads the binding out of a protected header.
    pub fn from_header(header: &Map<String, Value>) -> anyhow::Result<LogBinding> {
        let value = header
            .get(HEADER_PARAM)
            .with_context(|| format!("the protected header has no log binding ({HEADER_PARAM})"))?;
        serde_json::from_value(value.clone())
            .with_context(|| format!("the log binding ({HEADER_PARAM}) is malformed"))
    }

    /// Verifies the binding offline with the log key (and witness policy): the bundle (checkpoint, inclusion of
    /// the operator's and registrant's enrollments and the registration, the chain of signatures, the disclosed
    /// fields against the commitment), the receipt, and that both and the named facts are the same
    /// registration.
    pub fn verify(
        &self,
        vkey: &str,
        policy: Option<&ledger::Policy>,
    ) -> anyhow::Result<VerifiedBinding> {
        let registration = ops::verify_bundle_under(&self.bundle, vkey, policy)
            .context("the log binding's bundle does not verify")?;
        let receipt = ops::verify_receipt(self.receipt.as_bytes(), vkey, policy)
            .context("the log binding's receipt does not verify")?;
        let same = |what: &str, ok: bool| -> anyhow::Result<()> {
            anyhow::ensure!(
                ok,
                "the log binding's {what} does not match the registration it proves"
            );
            Ok(())
        };
        same("index", self.index == registration.registration_index)?;
        same("receipt index", receipt.index == self.index)?;
        same(
            "origin",
            self.origin == registration.origin && receipt.origin == self.origin,
        )?;
        same("certificate id", self.cert_id == registration.cert_id)?;
        same(
            "receipt certificate id",
            receipt.cert_id.as_deref() == Some(self.cert_id.as_str()),
        )?;
        same("receipt entry kind", receipt.kind == "registration")?;
        same("commitment", self.commitment == registration.commitment)?;
        same(
            "receipt entry",
            receipt.leaf_hash == hex::encode(ledger::leaf_hash(&self.bundle.registration.entry.0)),
        )?;
        Ok(VerifiedBinding {
            registration,
            receipt,
        })
    }
}
