//! The OpenAPI 3.1 document of the HTTP API, generated from the wire types of `crate::api` and the error
//! codes of `ERROR_CODES`, so it cannot drift from them. Served at `GET /openapi.json`; docs/openapi.json is a
//! copy that a test keeps current (`UPDATE_OPENAPI=1` rewrites it).

mod operations;

use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::path::{Operation, Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::{Content, Ref, RefOr, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};

use super::error::{ErrorBody, ErrorDetail};
use super::error_codes::{ERROR_CODES, codes_with};

/// What every implementer reads first; the details are in docs/api.md and docs/formats.md.
const OVERVIEW: &str = "A privacy-preserving ledger of trade certificates: a public, append-only RFC 6962 log \
of salted commitments (served as C2SP tlog-tiles) and a keyless vault of client-encrypted bodies.\n\n\
Binary values in JSON are standard base64 with padding (RFC 4648 §4). Every error answer is \
`{\"error\": {\"code\", \"message\"}}` (`ErrorBody`); the code is stable, the message short and never an echo \
of the request; a refused request has no effect. A `malformed_json` message names the offending field as a \
JSON pointer.\n\n\
Operations with the `Signature-Input`, `Signature` and `Content-Digest` headers are signed requests: HTTP \
Message Signatures (RFC 9421) with Ed25519 over `@method`, `@path`, `@query` and `content-digest` \
(RFC 9530, `sha-256`), parameters `created`, `nonce`, `keyid` (the enrolled party id) and `alg=\"ed25519\"`; \
docs/api.md \"Request signatures\" has the exact profile and a worked example. Without a valid signature they \
answer 401. The entry a signed request carries must be signed by the same party, name the certificate of the \
path and carry a current time. Entries the log itself makes (entry 0, the operator's enrollment; access \
receipts; retention purges) are signed by the log key under the reserved signer name `log`.";

#[derive(OpenApi)]
#[openapi(
    info(title = "tradeledger", description = OVERVIEW,
        license(name = "Apache-2.0", identifier = "Apache-2.0")),
    paths(
        operations::checkpoint, operations::receipt, operations::tile, operations::vkey,
        operations::entry, operations::inclusion, operations::consistency, operations::party,
        operations::enroll, operations::rotate, operations::register, operations::certificate,
        operations::grant, operations::list_grants, operations::receipts, operations::rewrap,
        operations::revoke, operations::purge, operations::sealed, operations::healthz,
        operations::metrics, operations::openapi, operations::page, operations::page_style,
        operations::page_script,
    ),
    components(schemas(ErrorBody)),
    modifiers(&Edges),
    tags(
        (name = "log", description = "The public read side of the log: no signature."),
        (name = "parties", description = "Enrollment and key rotation (key transparency)."),
        (name = "certificates", description = "Registration, readers, release of sealed bodies."),
        (name = "service", description = "Health, metrics and this document."),
        (name = "page", description = "The auditor's page: static files; it verifies everything itself \
            in the browser against the log key its user pins."),
    ),
)]
struct ApiDoc;

/// The document as pretty-printed JSON with a final newline, exactly as docs/openapi.json holds it.
pub fn openapi_json() -> String {
    let mut doc = serde_json::to_value(ApiDoc::openapi())
        .expect("the OpenAPI document is plain data and always serializes");
    unsigned_formats(&mut doc);
    let mut json = serde_json::to_string_pretty(&doc).expect("a JSON value always serializes");
    json.push('\n');
    json
}

/// utoipa writes a `u64` as `format: int64` (whose range stops at 2^63 - 1; its `non_strict_integers` feature
/// spells the format `u-int64`). Indexes and sizes are full u64 here, so integers with `minimum: 0` get the
/// format `uint64`: clients and testers must not assume the signed range.
fn unsigned_formats(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            if map.get("format").and_then(|f| f.as_str()) == Some("int64")
                && map.get("minimum").and_then(serde_json::Value::as_u64) == Some(0)
            {
                map.insert("format".to_owned(), "uint64".into());
            }
            map.values_mut().for_each(unsigned_formats);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(unsigned_formats),
        _ => {}
    }
}

/// `GET /openapi.json`.
pub(super) async fn serve() -> Response {
    static DOC: OnceLock<String> = OnceLock::new();
    let doc = DOC.get_or_init(openapi_json);
    ([(header::CONTENT_TYPE, "application/json")], doc.as_str()).into_response()
}

/// Every status an error answer of some operation has.
const ERROR_STATUSES: &[u16] = &[400, 401, 403, 404, 409, 410, 413, 503];
/// What a signed request that changes state can be refused with.
const SIGNED_ERRORS: &[u16] = &[400, 401, 403, 404, 409, 410, 413, 503];
/// The headers of a signed request, in the order docs/api.md gives them.
const SIGNATURE_HEADERS: [&str; 3] = ["Content-Digest", "Signature-Input", "Signature"];

/// Whether an operation is signed, and the statuses of its error answers.
fn edges(operation_id: &str) -> Option<(bool, &'static [u16])> {
    Some(match operation_id {
        "checkpoint" => (false, &[400, 503]),
        "receipt" => (false, &[400, 404, 503]),
        "tile" | "entry" | "party" | "certificate" | "receipts" => (false, &[400, 404]),
        "inclusion" | "consistency" => (false, &[400]),
        "vkey" | "healthz" | "metrics" | "openapi" | "page" | "page_style" => (false, &[]),
        "page_script" => (false, &[404]),
        "enroll" | "rotate" | "register" | "grant" | "rewrap" | "revoke" | "purge" => {
            (true, SIGNED_ERRORS)
        }
        "list_grants" | "sealed" => (true, &[400, 401, 403, 404, 410, 503]),
        _ => return None,
    })
}

/// Adds what the path attributes leave out: the signature headers and the error answers, each error status
/// once as a shared response listing the codes that come with it.
struct Edges;

impl Modify for Edges {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        for name in SIGNATURE_HEADERS {
            components
                .parameters
                .insert(name.to_owned(), RefOr::T(signature_header(name)));
        }
        for &status in ERROR_STATUSES {
            components
                .responses
                .insert(format!("Error{status}"), RefOr::T(error_response(status)));
        }
        for item in doc.paths.paths.values_mut() {
            for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
                add_edges(operation);
            }
        }
    }
}

fn add_edges(operation: &mut Operation) {
    let id = operation.operation_id.clone().unwrap_or_default();
    let (signed, errors) = edges(&id).unwrap_or((false, &[]));
    if signed {
        let parameters = operation.parameters.get_or_insert_with(Vec::new);
        for name in SIGNATURE_HEADERS {
            parameters.push(RefOr::Ref(Ref::new(format!(
                "#/components/parameters/{name}"
            ))));
        }
    }
    for status in errors {
        operation.responses.responses.insert(
            status.to_string(),
            RefOr::Ref(Ref::from_response_name(format!("Error{status}"))),
        );
    }
}

fn signature_header(name: &str) -> Parameter {
    let (description, example) = match name {
        "Content-Digest" => (
            "RFC 9530 digest of the body, always present and signed (also for an empty body): \
             `sha-256=:<base64 SHA-256>:`.",
            "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
        ),
        "Signature-Input" => (
            "RFC 9421: exactly one signature covering `(\"@method\" \"@path\" \"@query\" \"content-digest\")` \
             with `created` (Unix seconds, within the allowed skew), `nonce` (128 to 512 random bits, \
             base64url), `keyid` (the enrolled party id) and `alg=\"ed25519\"`.",
            "sig1=(\"@method\" \"@path\" \"@query\" \"content-digest\");created=1790000000;\
             nonce=\"dGVzdC1ub25jZS0xMjM0NQ\";keyid=\"acme-imports\";alg=\"ed25519\"",
        ),
        _ => (
            "RFC 9421: the Ed25519 signature over the signature base, same label as `Signature-Input`.",
            "sig1=:hKPYQejrW2dK4JPYzFThedQhAlPzMrNWb+jH+Gk3IDuKq4xw9oAMU8ZXjeKoTnet+VbGA1fqyLU8z2MFrN/TBA==:",
        ),
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .example(Some(example.into()))
        .build()
}

fn error_response(status: u16) -> utoipa::openapi::Response {
    let codes: Vec<String> = codes_with(status)
        .map(|c| format!("`{}`", c.code))
        .collect();
    ResponseBuilder::new()
        .description(format!("An error: {}.", codes.join(", ")))
        .content(
            "application/json",
            Content::new(Some(RefOr::Ref(Ref::from_schema_name("ErrorBody")))),
        )
        .build()
}

impl PartialSchema for ErrorDetail {
    fn schema() -> RefOr<Schema> {
        let code = ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(ERROR_CODES.iter().map(|c| c.code)))
            .description(Some(
                "Stable machine-readable code; docs/api.md \"Error codes\" says when each is answered.",
            ));
        let message = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "Short human-readable message; may change; never echoes the request.",
            ));
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .property("code", code)
            .required("code")
            .property("message", message)
            .required("message")
            .into()
    }
}

impl ToSchema for ErrorDetail {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_has_its_edges() {
        let doc = ApiDoc::openapi();
        for item in doc.paths.paths.values() {
            for operation in [&item.get, &item.post].into_iter().flatten() {
                let id = operation.operation_id.as_deref().unwrap_or_default();
                let (_, errors) = edges(id).unwrap_or_else(|| panic!("no edges for {id}"));
                assert!(errors.iter().all(|s| ERROR_STATUSES.contains(s)), "{id}");
            }
        }
        for &status in ERROR_STATUSES {
            assert!(codes_with(status).next().is_some(), "no code has {status}");
        }
    }
}
