//! What an outside implementer works from: the OpenAPI document (served, kept in docs/, covering every route
//! and error code) and error messages that say which field of a JSON body is wrong.

use serde_json::{Value, json};

use crate::support::*;

const DOC_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");

/// The document as the server generates it, pretty-printed as docs/openapi.json keeps it.
fn generated() -> String {
    tradeledger::server::openapi_json()
}

/// docs/openapi.json is the generated document. `UPDATE_OPENAPI=1` rewrites it (and the error table of
/// docs/api.md) instead of failing.
#[test]
fn docs_openapi_json_is_current() {
    let fresh = generated();
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(DOC_PATH, &fresh).unwrap();
        return;
    }
    let kept = std::fs::read_to_string(DOC_PATH).unwrap_or_default();
    assert!(
        kept == fresh,
        "docs/openapi.json is stale: run `UPDATE_OPENAPI=1 cargo test -p tradeledger --test e2e documents` \
         and commit the result"
    );
}

/// The error table of docs/api.md is rendered from `ERROR_CODES`, the one list the spec also uses.
#[test]
fn docs_api_error_table_is_current() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md");
    let api = std::fs::read_to_string(path).unwrap();
    let table = tradeledger::server::error_code_table();
    let (head, rest) = api
        .split_once("| code | status | when |\n")
        .expect("docs/api.md has the error code table");
    let end = rest.find("\n\n").map_or(rest.len(), |i| i + 1);
    let kept = format!("| code | status | when |\n{}", &rest[..end]);
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(path, format!("{head}{table}{}", &rest[end..])).unwrap();
        return;
    }
    assert!(
        kept == table,
        "docs/api.md's error code table differs from ERROR_CODES (src/server/error_codes.rs): edit the list \
         there, then run `UPDATE_OPENAPI=1 cargo test -p tradeledger --test e2e documents`"
    );
}

/// Every code the server can answer is in `ERROR_CODES`: the constructors of `ApiError` in src/ and the
/// signature and policy errors, scanned from the source so a new code cannot be forgotten.
#[test]
fn every_error_code_in_the_source_is_listed() {
    let listed: Vec<&str> = tradeledger::server::ERROR_CODES
        .iter()
        .map(|c| c.code)
        .collect();
    let mut files = Vec::new();
    rust_files(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    let mut missing = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for code in codes_in(&text) {
            if !listed.contains(&code.as_str()) {
                missing.push(format!("{code} ({})", file.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "error codes used but not in ERROR_CODES: {missing:?}"
    );
}

fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The string literals that stand as an error code: the first argument of `ApiError::bad_request(`,
/// `forbidden(`, `not_found(`, `conflict(`, the second of `ApiError::new(`, and `code()` arms (`=> "..."`)
/// of the error types the edge maps to answers.
fn codes_in(text: &str) -> Vec<String> {
    let mut codes = Vec::new();
    for ctor in ["bad_request(", "forbidden(", "not_found(", "conflict("] {
        for (at, _) in text.match_indices(&format!("ApiError::{ctor}")) {
            codes.extend(literal_at(&text[at + "ApiError::".len() + ctor.len()..]));
        }
    }
    for (at, _) in text.match_indices("ApiError::new(") {
        let args = &text[at + "ApiError::new(".len()..];
        if let Some(comma) = args.find(',') {
            codes.extend(literal_at(&args[comma + 1..]));
        }
    }
    let is_code_fn = |t: &str| t.contains("fn code(&self) -> &'static str");
    if is_code_fn(text) || text.contains("async fn json_errors") {
        for (at, _) in text.match_indices("=> \"") {
            codes.extend(literal_at(&text[at + 3..]));
        }
    }
    codes.retain(|c| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit())
    });
    codes
}

/// The string literal that starts `text` after whitespace, if any.
fn literal_at(text: &str) -> Option<String> {
    let text = text.trim_start().strip_prefix('"')?;
    Some(text[..text.find('"')?].to_owned())
}

/// The router's routes, read from `router()` in src/server/mod.rs: (path with parameters as `{}`, method).
fn router_routes() -> Vec<(String, String)> {
    let source = include_str!("../../src/server/mod.rs");
    let router = &source[source
        .find("pub fn router(")
        .expect("router() in src/server/mod.rs")..];
    let mut routes = Vec::new();
    for (at, _) in router.match_indices(".route(") {
        let call = &router[at + ".route(".len()..];
        // The call's arguments end at the parenthesis that closes `.route(`.
        let mut depth = 1;
        let end = call
            .char_indices()
            .find(|&(_, c)| {
                depth += match c {
                    '(' => 1,
                    ')' => -1,
                    _ => 0,
                };
                depth == 0
            })
            .map(|(i, _)| i)
            .unwrap();
        let call = &call[..end];
        let path = literal_at(call).unwrap();
        for method in ["get", "post", "put", "delete", "patch"] {
            let called = call.match_indices(&format!("{method}(")).any(|(i, _)| {
                i == 0
                    || !call[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':')
            });
            if called {
                routes.push((template(&path), method.to_owned()));
            }
        }
    }
    routes.sort();
    routes
}

/// A path with each `{param}` (or `{*param}`) written `{}`; the tile wildcard stands for the documented
/// `/tile/{level}/{index}`.
fn template(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').unwrap() + open;
        out.push_str(if rest[open..close].starts_with("{*") {
            "{}/{}"
        } else {
            "{}"
        });
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

fn spec_routes(spec: &Value) -> Vec<(String, String)> {
    let mut routes = Vec::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if method != "parameters" {
                routes.push((template(path), method.clone()));
            }
        }
    }
    routes.sort();
    routes
}

/// Every route of the router is documented, and nothing else is.
#[test]
fn the_document_covers_exactly_the_routes() {
    let spec: Value = serde_json::from_str(&generated()).unwrap();
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(spec_routes(&spec), router_routes());
}

/// The document's operations all exist on a live server, it is served at /openapi.json as generated, and
/// the error codes it declares are the listed ones.
#[tokio::test]
async fn the_document_is_served_and_describes_the_live_routes() {
    let w = World::new().await;
    let url = &w.server.url;
    let response = reqwest::get(format!("{url}/openapi.json")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let served: Value = response.json().await.unwrap();
    let spec: Value = serde_json::from_str(&generated()).unwrap();
    assert_eq!(served, spec);

    for (path, method) in spec_routes(&spec) {
        let target = path.replacen("{}", "0", 1).replace("{}", "000");
        let answer = send(url, &method.to_uppercase(), &target, &[], Vec::new()).await;
        assert!(
            !["no_such_route", "method_not_allowed"].contains(&answer.code.as_str()),
            "{method} {target}: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }

    let codes = &spec["components"]["schemas"]["ErrorDetail"]["properties"]["code"]["enum"];
    let listed: Vec<&str> = tradeledger::server::ERROR_CODES
        .iter()
        .map(|c| c.code)
        .collect();
    assert_eq!(codes, &json!(listed));
}

/// A body of the wrong shape is refused with `malformed_json` naming the field (as a JSON pointer), never
/// its value.
#[tokio::test]
async fn malformed_json_names_the_offending_field() {
    let w = World::new().await;
    let url = &w.server.url;
    let secret = "c2VjcmV0LXZhbHVlLXRoYXQtbXVzdC1ub3QtYmUtZWNob2Vk";
    let cases = [
        (
            json!({"entry": "AA==", "ciphertext": "AA==",
                   "envelopes": [{"party": "cbp", "envelope": "AA==", "grant": 5}]}),
            "/envelopes/0/grant",
        ),
        (
            json!({"entry": "AA==", "ciphertext": "AA==",
                   "envelopes": [{"party": "cbp", "envelope": "AA==", "grant": "AA=="},
                                 {"party": 7, "envelope": secret, "grant": "AA=="}]}),
            "/envelopes/1/party",
        ),
        (
            json!({"entry": "AA==", "ciphertext": "AA==",
                   "envelopes": [{"party": "cbp", "envelope": "AA==", "grant": "AA=="}, {"party": "x", "grant": "AA=="}]}),
            "/envelopes/1/envelope",
        ),
        (
            json!({"entry": "AA==", "ciphertext": "not base64!", "envelopes": []}),
            "/ciphertext",
        ),
        (json!({"entry": "AA==", "ciphertext": "AA=="}), "/envelopes"),
        (
            json!({"entry": "AA==", "ciphertext": "AA==", "envelopes": [], "x-extra": secret}),
            "/x-extra",
        ),
    ];
    for (body, field) in cases {
        let answer = send_signed(
            url,
            &w.importer,
            "POST",
            "/v1/certificates",
            body.to_string().into_bytes(),
        )
        .await;
        answer.assert_error(400, "malformed_json", field);
        assert!(
            !answer.message.contains("c2VjcmV0") && !answer.message.contains("not base64"),
            "the message echoes a value: {}",
            answer.message
        );
    }
    // A missing field is named by its full pointer.
    let answer = send_signed(
        url,
        &w.importer,
        "POST",
        "/v1/certificates",
        json!({"entry": "AA==", "ciphertext": "AA==", "envelopes": [{"party": "cbp", "envelope": "AA=="}]})
            .to_string()
            .into_bytes(),
    )
    .await;
    answer.assert_error(400, "malformed_json", "/envelopes/0/grant");
}
