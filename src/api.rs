//! The JSON wire types of the HTTP API, shared by the server and the client.
//!
//! Binary values travel as standard base64 (RFC 4648 §4) in [`B64`]. Every request type denies unknown
//! fields, so a misspelt field is an error rather than silently ignored.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// The party id under which the log itself signs the entries it makes (entry 0, the operator's enrollment;
/// access receipts), with the log's key. No party can be enrolled under it.
pub const LOG_PARTY: &str = "log";

/// Bytes carried as standard base64 in JSON.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct B64(pub Vec<u8>);

impl std::fmt::Debug for B64 {
    // Ciphertexts and envelopes are large and opaque: print their size, not their bytes.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "B64({} bytes)", self.0.len())
    }
}

/// Canonical standard base64 with padding, as the decoder accepts it (unused bits of the last group zero).
pub const B64_PATTERN: &str =
    "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?$";

impl utoipa::PartialSchema for B64 {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_encoding("base64")
            .pattern(Some(B64_PATTERN))
            .description(Some("Bytes as standard base64 with padding (RFC 4648 §4)."))
            .into()
    }
}

impl ToSchema for B64 {}

impl Serialize for B64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Decoded straight from the string the parser has (in the body, or its scratch buffer when the JSON
        // string has escapes): serde's `Cow<str>` is always an owned copy, 12 KB per registration.
        d.deserialize_str(B64Visitor)
    }
}

struct B64Visitor;

impl serde::de::Visitor<'_> for B64Visitor {
    type Value = B64;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a base64 string")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<B64, E> {
        STANDARD
            .decode(text.as_bytes())
            .map(B64)
            .map_err(|_| E::custom("invalid base64"))
    }
}

/// `POST /v1/parties`, signed by the operator: enroll a party.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// An encoded `SignedEntry` of kind enrollment, signed by the operator.
    pub entry: B64,
}

/// The answer to a request that appended one entry to the log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Appended {
    /// Index of the appended entry.
    pub index: u64,
}

/// `GET /v1/parties/{id}`: a party's current enrollment, with what a client needs to verify it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PartyRecord {
    /// Index of the enrollment entry.
    pub index: u64,
    /// The encoded enrollment entry (a first enrollment, or the latest rotation).
    pub entry: B64,
    /// Indexes of the party's earlier enrollment entries, oldest first (empty unless it rotated its keys):
    /// a client checks the chain from the first enrollment to `index`.
    #[serde(default)]
    pub previous: Vec<u64>,
    /// Indexes of further first enrollments of the same party id, without a rotation between them (only a log
    /// written by a server that let two enrollments race holds any). A client refuses a party listed with any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicting: Vec<u64>,
}

/// One recipient's envelope as uploaded by the registrant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvelopeUpload {
    /// The recipient's party id.
    pub party: String,
    /// The HPKE envelope (data key + grant salt wrapped for the recipient).
    pub envelope: B64,
    /// The grant commitment of this recipient, as it appears on the log.
    pub grant: B64,
}

/// `POST /v1/certificates`, signed by the registrant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// An encoded `SignedEntry` of kind registration, signed by the registrant.
    pub entry: B64,
    /// The sealed certificate body.
    pub ciphertext: B64,
    /// One envelope per recipient, the registrant's own included; their grant commitments are those of the entry.
    pub envelopes: Vec<EnvelopeUpload>,
}

/// Prefix of the sealed digest ([`sealed_digest`]), separating it from every other use of SHA-256.
pub const SEALED_DIGEST_DOMAIN: &[u8] = b"tradeledger/sealed/v1\n";

/// The digest a registration entry of kind `0x08` carries, so that the entry's signature binds what the
/// request uploads (docs/formats.md, "Sealed digest"): SHA-256 over [`SEALED_DIGEST_DOMAIN`], the ciphertext,
/// the number of envelopes, and per envelope in request order its party id, grant commitment and envelope;
/// every byte string and the count prefixed with its length as a u64, big-endian.
pub fn sealed_digest(ciphertext: &[u8], envelopes: &[EnvelopeUpload]) -> [u8; 32] {
    use sha2::{Digest as _, Sha256};
    fn put(hash: &mut Sha256, bytes: &[u8]) {
        hash.update(u64::try_from(bytes.len()).unwrap_or(u64::MAX).to_be_bytes());
        hash.update(bytes);
    }
    let mut hash = Sha256::new();
    hash.update(SEALED_DIGEST_DOMAIN);
    put(&mut hash, ciphertext);
    hash.update(
        u64::try_from(envelopes.len())
            .unwrap_or(u64::MAX)
            .to_be_bytes(),
    );
    for e in envelopes {
        put(&mut hash, e.party.as_bytes());
        put(&mut hash, &e.grant.0);
        put(&mut hash, &e.envelope.0);
    }
    hash.finalize().into()
}

/// The answer to a registration.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Registered {
    /// The certificate id, 32 lowercase hex digits.
    pub cert_id: String,
    /// Index of the registration entry.
    pub index: u64,
}

/// `POST /v1/certificates/{id}/grants`, signed by the registrant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GrantRequest {
    /// An encoded `SignedEntry` of kind grant.
    pub entry: B64,
    /// The new recipient's envelope.
    pub envelope: EnvelopeUpload,
}

/// `POST /v1/certificates/{id}/revocations`, signed by the registrant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeRequest {
    /// An encoded `SignedEntry` of kind revocation.
    pub entry: B64,
    /// The party whose envelope is removed.
    pub party: String,
}

/// `POST /v1/certificates/{id}/purge`, signed by the registrant.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurgeRequest {
    /// An encoded `SignedEntry` of kind purge.
    pub entry: B64,
}

/// `GET /v1/certificates/{id}/sealed`, signed by a grantee: the ciphertext and the caller's own envelope.
/// Releasing it appends an access receipt to the log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Sealed {
    /// The sealed body.
    pub ciphertext: B64,
    /// The caller's envelope.
    pub envelope: B64,
    /// The caller's grant commitment.
    pub grant: B64,
    /// Index of the registration entry (the commitment to check the body against).
    pub registration_index: u64,
    /// Index of the access-receipt entry that logs this release (concurrent opens may share one entry).
    pub receipt_index: u64,
}

/// `GET /v1/certificates/{id}`: public facts about a certificate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CertificateInfo {
    /// The certificate id.
    pub cert_id: String,
    /// Index of its registration entry.
    pub registration_index: u64,
    /// Whether its body was purged.
    pub purged: bool,
    /// How many access receipts the log holds for it.
    pub accesses: u64,
}

/// `GET /v1/entries/{index}`: one log entry.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EntryRecord {
    /// Its index.
    pub index: u64,
    /// Its encoded bytes, exactly as hashed into the tree.
    pub entry: B64,
}

/// `GET /v1/proof/inclusion?index=I&size=S`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InclusionProof {
    /// The entry's index.
    pub index: u64,
    /// The tree size the proof is for.
    pub size: u64,
    /// The audit path, leaf's sibling first (RFC 9162 §2.1.3).
    pub proof: Vec<B64>,
}

/// `GET /v1/proof/consistency?old=M&new=N`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsistencyProof {
    /// The older tree size.
    pub old: u64,
    /// The newer tree size.
    pub new: u64,
    /// The proof (RFC 9162 §2.1.4).
    pub proof: Vec<B64>,
}

/// One holder of a grant, as `GET /v1/certificates/{id}/grants` lists it.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantRecord {
    /// The party holding the envelope (the registrant's own included).
    pub party: String,
    /// Its grant commitment, as on the log.
    pub grant: B64,
}

/// `GET /v1/certificates/{id}/grants`, signed by the registrant: the active grants.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct GrantList {
    /// The certificate id.
    pub cert_id: String,
    /// Who holds which grant commitment.
    pub grants: Vec<GrantRecord>,
}

/// `GET /v1/certificates/{id}/receipts`: where a certificate's access receipts are in the log.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptIndexes {
    /// The certificate id.
    pub cert_id: String,
    /// Log indexes of its access receipts, ascending.
    pub indexes: Vec<u64>,
}

/// `POST /v1/parties/{id}/rotations`, signed by the operator.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    /// An encoded `SignedEntry` of kind rotation, signed by the operator, carrying the party's consent.
    pub entry: B64,
}

/// `POST /v1/certificates/{id}/rewraps`, signed by the registrant: replace one reader's envelope.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RewrapRequest {
    /// An encoded `SignedEntry` of kind grant: the new envelope's grant commitment.
    pub grant: B64,
    /// An encoded `SignedEntry` of kind revocation: the reader's current grant commitment.
    pub revocation: B64,
    /// The reader's new envelope.
    pub envelope: EnvelopeUpload,
}

/// The answer to a re-wrap: the two entries, appended together.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Rewrapped {
    /// Index of the grant entry.
    pub grant_index: u64,
    /// Index of the revocation entry (`grant_index + 1`).
    pub revocation_index: u64,
}
