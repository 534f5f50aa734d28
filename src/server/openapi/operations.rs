//! One `#[utoipa::path]` per route of `router()`: the path, its parameters, the request body type and the
//! success answer. Error answers and the signature headers are added from one table in the parent module.
//!
//! The functions only carry the attributes (the handlers live beside the stores they use); a test checks that
//! these paths are exactly the router's.
#![allow(dead_code)]

use crate::api::{
    Appended, CertificateInfo, ConsistencyProof, EnrollRequest, EntryRecord, GrantList,
    GrantRequest, InclusionProof, PartyRecord, PurgeRequest, ReceiptIndexes, RegisterRequest,
    Registered, RevokeRequest, RewrapRequest, Rewrapped, RotateRequest, Sealed,
};

const TEXT: &str = "text/plain; charset=utf-8";

#[utoipa::path(get, path = "/checkpoint", tag = "log",
    summary = "The published checkpoint",
    description = "The log's latest checkpoint (C2SP tlog-checkpoint in a C2SP signed note, signed by the log \
        key), or with a witness policy the latest one that met its quorum, cosignatures appended. With \
        `min_size`, waits up to 10 s for a checkpoint of at least that many entries, then answers with the \
        published one either way (the client checks its size).",
    params(("min_size" = Option<u64>, Query, description = "Wait for a checkpoint of at least this size.")),
    responses((status = 200, description = "The signed note.", body = String, content_type = TEXT)))]
fn checkpoint() {}

#[utoipa::path(get, path = "/v1/receipts/{index}", tag = "log",
    summary = "A C2SP tlog-proof of one entry",
    description = "The entry's inclusion under the published checkpoint as a C2SP tlog-proof; its `extra` \
        line carries the entry's bytes.",
    params(("index" = u64, Path, description = "The entry's index, decimal.")),
    responses((status = 200, description = "The tlog-proof.", body = String, content_type = TEXT)))]
fn receipt() {}

#[utoipa::path(get, path = "/tile/{level}/{index}", tag = "log",
    summary = "A hash tile or an entry bundle (C2SP tlog-tiles)",
    description = "`/tile/<L>/<N>[.p/<W>]` is a hash tile of level L; `/tile/entries/<N>[.p/<W>]` an entry \
        bundle (each entry a big-endian u16 length, then its bytes). N is the tile index in tlog-tiles \
        form (`x001/x234/067`: its slashes are path separators), `.p/<W>` a partial tile of width W. Full \
        tiles are immutable and cached as such.",
    params(
        ("level" = String, Path, description = "A tile level, 0 to 63, or `entries`.",
            pattern = "^(entries|[0-9]|[1-5][0-9]|6[0-3])$"),
        ("index" = String, Path, description = "The tile index in tlog-tiles form, then `.p/<width>` for \
            a partial tile.", pattern = "^(x[0-9]{3}/)*[0-9]{3}(\\.p/([1-9]|[1-9][0-9]|1[0-9][0-9]|2[0-4][0-9]|25[0-5]))?$"),
    ),
    responses((status = 200, description = "The tile's bytes.", body = String,
        content_type = "application/octet-stream")))]
fn tile() {}

#[utoipa::path(get, path = "/log.vkey", tag = "log",
    summary = "The log's verifier key",
    description = "The log's C2SP signed-note verifier key. Clients pin it out of band; this copy is a \
        convenience.",
    responses((status = 200, description = "The vkey, then a newline.", body = String, content_type = TEXT)))]
fn vkey() {}

#[utoipa::path(get, path = "/v1/entries/{index}", tag = "log",
    summary = "One log entry",
    params(("index" = u64, Path, description = "The entry's index, decimal.")),
    responses((status = 200, description = "The entry's encoded bytes.", body = EntryRecord)))]
fn entry() {}

#[utoipa::path(get, path = "/v1/proof/inclusion", tag = "log",
    summary = "An inclusion proof (RFC 9162 §2.1.3)",
    params(
        ("index" = u64, Query, description = "The entry's index; `index < size`."),
        ("size" = u64, Query, description = "The tree size; at most the current size."),
    ),
    responses((status = 200, description = "The audit path.", body = InclusionProof)))]
fn inclusion() {}

#[utoipa::path(get, path = "/v1/proof/consistency", tag = "log",
    summary = "A consistency proof (RFC 9162 §2.1.4)",
    params(
        ("old" = u64, Query, description = "The older tree size; `0 < old <= new`."),
        ("new" = u64, Query, description = "The newer tree size; at most the current size."),
    ),
    responses((status = 200, description = "The proof.", body = ConsistencyProof)))]
fn consistency() {}

#[utoipa::path(get, path = "/v1/parties/{party_id}", tag = "parties",
    summary = "A party's current enrollment",
    description = "The index and bytes of the party's current enrollment entry (its first Enrollment or \
        latest Rotation) and the indexes of its earlier ones. The id `log` is the log itself, never enrolled.",
    params(("party_id" = String, Path, description = "The party id.",
        pattern = "^[a-z0-9][a-z0-9._-]{0,63}$")),
    responses((status = 200, description = "The enrollment.", body = PartyRecord)))]
fn party() {}

#[utoipa::path(post, path = "/v1/parties", tag = "parties",
    summary = "Enroll a party (operator)",
    description = "Signed by the operator. The entry is a first Enrollment signed by the operator; the party \
        id `log` is reserved.",
    request_body = EnrollRequest,
    responses((status = 200, description = "Appended.", body = Appended)))]
fn enroll() {}

#[utoipa::path(post, path = "/v1/parties/{party_id}/rotations", tag = "parties",
    summary = "Rotate a party's keys (operator)",
    description = "Signed by the operator (asked as `enroll` of that party): a Rotation entry signed by the \
        operator, carrying the party's consent by its current key. The old key is refused from then on.",
    params(("party_id" = String, Path, description = "The party whose keys rotate.")),
    request_body = RotateRequest,
    responses((status = 200, description = "Appended.", body = Appended)))]
fn rotate() {}

#[utoipa::path(post, path = "/v1/certificates", tag = "certificates",
    summary = "Register a certificate",
    description = "Signed by an importer, exporter or producer, in its own name. The Registration entry's \
        grant commitments and the uploaded `envelopes` must match one to one **in the same order**; each \
        party appears once; the registrant's **own envelope is required** (so it can grant readers later); \
        every recipient must be enrolled; at least one recipient must be customs and none an auditor (the \
        policies). Stores the ciphertext and envelopes, then appends the entry.",
    request_body = RegisterRequest,
    responses((status = 200, description = "Registered.", body = Registered)))]
fn register() {}

#[utoipa::path(get, path = "/v1/certificates/{cert_id}", tag = "certificates",
    summary = "Public facts about a certificate",
    params(("cert_id" = String, Path, description = "32 lowercase hex digits.", pattern = "^[0-9a-f]{32}$")),
    responses((status = 200, description = "Registration index, purged, accesses.", body = CertificateInfo)))]
fn certificate() {}

#[utoipa::path(post, path = "/v1/certificates/{cert_id}/grants", tag = "certificates",
    summary = "Grant a reader (registrant)",
    description = "Signed by the registrant: a Grant entry whose commitment is the new envelope's.",
    params(("cert_id" = String, Path, description = "32 lowercase hex digits.", pattern = "^[0-9a-f]{32}$")),
    request_body = GrantRequest,
    responses((status = 200, description = "Appended.", body = Appended)))]
fn grant() {}

#[utoipa::path(get, path = "/v1/certificates/{cert_id}/grants", tag = "certificates",
    summary = "The active grants (registrant)",
    description = "Signed by the registrant: every envelope holder, its own included, with its grant \
        commitment; revoked grants are gone with their envelopes.",
    params(("cert_id" = String, Path, description = "32 lowercase hex digits.", pattern = "^[0-9a-f]{32}$")),
    responses((status = 200, description = "The grants.", body = GrantList)))]
fn list_grants() {}

#[utoipa::path(get, path = "/v1/certificates/{cert_id}/receipts", tag = "certificates",
    summary = "Where a certificate's access receipts are in the log",
    params(("cert_id" = String, Path, description = "32 lowercase hex digits.", pattern = "^[0-9a-f]{32}$")),
    responses((status = 200, description = "Log indexes, ascending.", body = ReceiptIndexes)))]
fn receipts() {}

#[utoipa::path(post, path = "/v1/certificates/{cert_id}/rewraps", tag = "certificates",
    summary = "Replace a reader's envelope for its new key (registrant)",
    description = "Signed by the registrant (asked as `grant` to that reader): a Grant entry with the new \
        commitment and a Revocation of the current one, appended together.",
    params(("cert_id" = String, Path, description = "32 lowercase hex digits.", pattern = "^[0-9a-f]{32}$")),
    request_body = RewrapRequest,
    responses((status = 200, description = "Both indexes.", body = Rewrapped)))]
fn rewrap() {}

#[utoipa::path(post, path = "/v1/certificates/{cert_id}/revocations", tag = "certificates",
    summary = "Revoke a reader (registrant)",
    description = "Signed by the registrant: removes the party's envelope, then appends the Revocation.",
    params(("cert_id" = String, Path, description = "32 lowercase hex digits.", pattern = "^[0-9a-f]{32}$")),
    request_body = RevokeRequest,
    responses((status = 200, description = "Appended.", body = Appended)))]
fn revoke() {}

#[utoipa::path(post, path = "/v1/certificates/{cert_id}/purge", tag = "certificates",
    summary = "Delete the body and every envelope (registrant)",
    params(("cert_id" = String, Path, description = "32 lowercase hex digits.", pattern = "^[0-9a-f]{32}$")),
    request_body = PurgeRequest,
    responses((status = 200, description = "Appended.", body = Appended)))]
fn purge() {}

#[utoipa::path(get, path = "/v1/certificates/{cert_id}/sealed", tag = "certificates",
    summary = "Fetch the ciphertext and the caller's envelope (grantee)",
    description = "Signed by a party with an active grant (never an auditor). Appends an access receipt, \
        signed by the log as party `log`, before answering.",
    params(("cert_id" = String, Path, description = "32 lowercase hex digits.", pattern = "^[0-9a-f]{32}$")),
    responses((status = 200, description = "Ciphertext, envelope, indexes.", body = Sealed)))]
fn sealed() {}

#[utoipa::path(get, path = "/healthz", tag = "service",
    summary = "Liveness",
    responses((status = 200, description = "`ok` and a newline.", body = String, content_type = TEXT)))]
fn healthz() {}

#[utoipa::path(get, path = "/metrics", tag = "service",
    summary = "Prometheus metrics",
    responses((status = 200, description = "Prometheus text format.", body = String,
        content_type = "text/plain; version=0.0.4")))]
fn metrics() {}

#[utoipa::path(get, path = "/openapi.json", tag = "service",
    summary = "This document",
    responses((status = 200, description = "OpenAPI 3.1.", body = serde_json::Value, content_type = "application/json")))]
fn openapi() {}

#[utoipa::path(get, path = "/", tag = "page",
    summary = "The auditor's page",
    description = "A static page that checks this log's checkpoint, growth (a failed consistency proof \
        between visits is shown as a fork), entries, a certificate's public history, disclosure bundles and \
        receipts in the browser with WebCrypto, against a log key the user pins. Sent with a strict \
        `Content-Security-Policy` (its own scripts and styles only; fetches only from this server).",
    responses((status = 200, description = "The page.", body = String, content_type = "text/html; charset=utf-8")))]
fn page() {}

#[utoipa::path(get, path = "/style.css", tag = "page",
    summary = "The page's style sheet",
    responses((status = 200, description = "CSS.", body = String, content_type = "text/css; charset=utf-8")))]
fn page_style() {}

#[utoipa::path(get, path = "/js/{file}", tag = "page",
    summary = "One of the page's scripts",
    params(("file" = String, Path, description = "A script of the page, e.g. `merkle.js`.",
        pattern = "^[a-z]+\\.js$")),
    responses((status = 200, description = "JavaScript (a classic script, so the page also works \
        opened from a file).", body = String, content_type = "text/javascript; charset=utf-8")))]
fn page_script() {}
