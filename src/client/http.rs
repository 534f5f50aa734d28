//! The HTTP client of the tradeledger API: public reads and signed requests.
//!
//! Nothing it returns is trusted by itself: [`super::logview`] verifies every answer the client relies on.

use ed25519_dalek::SigningKey;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::api::{ConsistencyProof, EntryRecord, InclusionProof, PartyRecord};
use crate::tilepath::TileRef;

/// Largest answer the client reads, so a hostile server cannot exhaust memory.
const MAX_ANSWER_BYTES: usize = 64 << 20;

/// Why a request failed.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the server: {0}")]
    Transport(String),
    /// The server answered with an error (`{"error":{"code","message"}}`).
    #[error("server refused ({status}): {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The stable error code, e.g. `not_granted`.
        code: String,
        /// The server's short message.
        message: String,
    },
    /// The answer was not what the API documents.
    #[error("malformed answer from the server: {0}")]
    Malformed(String),
    /// A signed request was attempted without an identity, or could not be signed.
    #[error("cannot sign the request: {0}")]
    Signing(String),
}

impl ClientError {
    /// The server's error code, if the server refused the request.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Who signs requests: a party id and its Ed25519 signing key.
struct Identity {
    party: String,
    key: SigningKey,
}

/// A client of one tradeledger server.
pub struct Client {
    http: reqwest::Client,
    base: String,
    identity: Option<Identity>,
    /// The witness policy checkpoints must meet (`--policy`); `None`: the log key alone.
    policy: Option<std::sync::Arc<ledger::Policy>>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let party = self.identity.as_ref().map(|i| i.party.as_str());
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("party", &party)
            .finish()
    }
}

impl Client {
    /// A client for the server at `base` (e.g. `http://127.0.0.1:8080`), without an identity.
    pub fn new(base: &str) -> Result<Client, ClientError> {
        let base = base.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::Transport(format!(
                "server URL {base:?} must start with http://"
            )));
        }
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| ClientError::Transport(e.to_string()))?;
        Ok(Client {
            http,
            base,
            identity: None,
            policy: None,
        })
    }

    /// The same client, whose [`super::LogView`]s accept only checkpoints that `policy` accepts (log signature
    /// and witness quorum), besides the log key's own check.
    pub fn with_policy(mut self, policy: ledger::Policy) -> Client {
        self.policy = Some(std::sync::Arc::new(policy));
        self
    }

    /// The witness policy given with [`Client::with_policy`].
    pub fn policy(&self) -> Option<&ledger::Policy> {
        self.policy.as_deref()
    }

    /// The same client, signing its requests as `party` with `key`.
    pub fn with_identity(mut self, party: &vault::PartyId, key: &SigningKey) -> Client {
        self.identity = Some(Identity {
            party: party.as_str().to_owned(),
            key: key.clone(),
        });
        self
    }

    /// The server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `GET /checkpoint`: the latest signed checkpoint, unverified.
    pub async fn get_checkpoint(&self) -> Result<Vec<u8>, ClientError> {
        self.get_bytes("/checkpoint").await
    }

    /// `GET /checkpoint?min_size=N`: the published checkpoint, once it covers `min_size` entries or after the
    /// server's wait (10 s) ran out; unverified, and maybe still smaller.
    pub async fn get_checkpoint_covering(&self, min_size: u64) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("/checkpoint?min_size={min_size}"))
            .await
    }

    /// `GET /v1/receipts/<index>`: the entry's C2SP tlog-proof under the published checkpoint, unverified.
    pub async fn get_receipt(&self, index: u64) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("/v1/receipts/{index}")).await
    }

    /// `GET /v1/entries/<index>`: one entry's encoded bytes, unverified.
    pub async fn get_entry(&self, index: u64) -> Result<Vec<u8>, ClientError> {
        let record: EntryRecord = self.get_json(&format!("/v1/entries/{index}")).await?;
        if record.index != index {
            return Err(ClientError::Malformed(format!(
                "asked for entry {index}, got {}",
                record.index
            )));
        }
        Ok(record.entry.0)
    }

    /// `GET /v1/proof/inclusion`: the inclusion proof of entry `index` in the tree of `size` leaves.
    pub async fn get_inclusion(&self, index: u64, size: u64) -> Result<Vec<Vec<u8>>, ClientError> {
        let proof: InclusionProof = self
            .get_json(&format!("/v1/proof/inclusion?index={index}&size={size}"))
            .await?;
        if proof.index != index || proof.size != size {
            return Err(ClientError::Malformed(
                "inclusion proof for another index or size".into(),
            ));
        }
        Ok(proof.proof.into_iter().map(|h| h.0).collect())
    }

    /// `GET /v1/proof/consistency`: the consistency proof between tree sizes `old` and `new`.
    pub async fn get_consistency(&self, old: u64, new: u64) -> Result<Vec<Vec<u8>>, ClientError> {
        let proof: ConsistencyProof = self
            .get_json(&format!("/v1/proof/consistency?old={old}&new={new}"))
            .await?;
        if proof.old != old || proof.new != new {
            return Err(ClientError::Malformed(
                "consistency proof for other sizes".into(),
            ));
        }
        Ok(proof.proof.into_iter().map(|h| h.0).collect())
    }

    /// `GET /tile/...`: a hash tile or an entry bundle (C2SP tlog-tiles), unverified.
    pub async fn get_tile(&self, tile: TileRef) -> Result<Vec<u8>, ClientError> {
        self.get_bytes(&format!("/{}", tile.path())).await
    }

    /// `GET /v1/parties/<id>`: a party's current enrollment entry and its index, unverified.
    pub async fn get_party(&self, party: &vault::PartyId) -> Result<PartyRecord, ClientError> {
        self.get_json(&format!("/v1/parties/{party}")).await
    }

    /// `GET /v1/certificates/<id>`: public facts about a certificate.
    pub async fn get_certificate(
        &self,
        cert_id: &vault::CertId,
    ) -> Result<crate::api::CertificateInfo, ClientError> {
        self.get_json(&format!("/v1/certificates/{cert_id}")).await
    }

    /// `GET /v1/certificates/<id>/receipts`: the log indexes of a certificate's access receipts, unverified.
    pub async fn get_receipts(&self, cert_id: &vault::CertId) -> Result<Vec<u64>, ClientError> {
        let answer: crate::api::ReceiptIndexes = self
            .get_json(&format!("/v1/certificates/{cert_id}/receipts"))
            .await?;
        if answer.cert_id != cert_id.to_string() {
            return Err(ClientError::Malformed(
                "receipts of another certificate".into(),
            ));
        }
        Ok(answer.indexes)
    }

    /// A signed `POST` of a JSON body; answers the decoded JSON answer.
    pub async fn post_json<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        path: &str,
        body: &Req,
    ) -> Result<Resp, ClientError> {
        let body = serde_json::to_vec(body).map_err(|e| ClientError::Signing(e.to_string()))?;
        let request = self
            .http
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json");
        let request = self.sign(request, "POST", path, &body)?.body(body);
        decode_json(read_answer(request.send().await).await?)
    }

    /// A signed `GET`; answers the decoded JSON answer.
    pub async fn get_signed<Resp: DeserializeOwned>(
        &self,
        path: &str,
    ) -> Result<Resp, ClientError> {
        let request = self.http.get(format!("{}{path}", self.base));
        let request = self.sign(request, "GET", path, &[])?;
        decode_json(read_answer(request.send().await).await?)
    }

    fn sign(
        &self,
        mut request: reqwest::RequestBuilder,
        method: &str,
        target: &str,
        body: &[u8],
    ) -> Result<reqwest::RequestBuilder, ClientError> {
        let identity = self
            .identity
            .as_ref()
            .ok_or_else(|| ClientError::Signing("no key given (--key FILE)".into()))?;
        let headers = crate::httpsig::sign_request(
            method,
            target,
            body,
            &identity.party,
            &identity.key,
            crate::httpsig::unix_now(),
        )
        .map_err(|e| ClientError::Signing(e.to_string()))?;
        for (name, value) in headers {
            request = request.header(name, value);
        }
        Ok(request)
    }

    async fn get_bytes(&self, path: &str) -> Result<Vec<u8>, ClientError> {
        read_answer(self.http.get(format!("{}{path}", self.base)).send().await).await
    }

    async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ClientError> {
        decode_json(self.get_bytes(path).await?)
    }
}

fn decode_json<T: DeserializeOwned>(bytes: Vec<u8>) -> Result<T, ClientError> {
    serde_json::from_slice(&bytes).map_err(|e| ClientError::Malformed(e.to_string()))
}

/// Reads an answer (capped at [`MAX_ANSWER_BYTES`]); a non-2xx status becomes [`ClientError::Api`].
async fn read_answer(
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<Vec<u8>, ClientError> {
    let mut response = sent.map_err(|e| ClientError::Transport(e.without_url().to_string()))?;
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| ClientError::Transport(e.without_url().to_string()))?
    {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(ClientError::Malformed("answer too large".into()));
        }
        body.extend_from_slice(&chunk);
    }
    if status.is_success() {
        return Ok(body);
    }
    let (code, message) = match serde_json::from_slice::<ErrorBody>(&body) {
        Ok(ErrorBody { error }) => (error.code, error.message),
        Err(_) => (
            "http".to_owned(),
            status.canonical_reason().unwrap_or("error").to_owned(),
        ),
    };
    Err(ClientError::Api {
        status: status.as_u16(),
        code,
        message,
    })
}

/// `{"error": {"code", "message"}}`, as docs/api.md specifies (the server's own type is server-side).
#[derive(serde::Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(serde::Deserialize)]
struct ErrorDetail {
    code: String,
    message: String,
}
