//! The auditor's page (issue 11): the static files of `src/web/`, embedded in the binary and served at `/` with a
//! strict Content-Security-Policy. The page verifies everything itself with WebCrypto against the log key its
//! user pins; the server only hands out the files.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

const HTML: &str = "text/html; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";

/// Only the page's own scripts and styles run; it may fetch only from this server (to check another log,
/// open `src/web/index.html` from a file or another host: the public reads send CORS headers); it cannot be
/// framed, post forms or load anything else.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The scripts under `/js/`, by file name, in the order `index.html` loads them.
const SCRIPTS: &[(&str, &str)] = &[
    ("bytes.js", include_str!("../web/js/bytes.js")),
    ("merkle.js", include_str!("../web/js/merkle.js")),
    ("note.js", include_str!("../web/js/note.js")),
    ("policy.js", include_str!("../web/js/policy.js")),
    ("json.js", include_str!("../web/js/json.js")),
    ("entry.js", include_str!("../web/js/entry.js")),
    ("disclosure.js", include_str!("../web/js/disclosure.js")),
    ("bundle.js", include_str!("../web/js/bundle.js")),
    ("receipt.js", include_str!("../web/js/receipt.js")),
    ("tiles.js", include_str!("../web/js/tiles.js")),
    ("logview.js", include_str!("../web/js/logview.js")),
    ("trust.js", include_str!("../web/js/trust.js")),
    ("chart.js", include_str!("../web/js/chart.js")),
    ("formats.js", include_str!("../web/js/formats.js")),
    ("app.js", include_str!("../web/js/app.js")),
];

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
            // A new binary may ship new files; never let a cached page outlive it unchecked.
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the page.
pub(super) async fn index() -> Response {
    asset(HTML, include_str!("../web/index.html"))
}

/// `GET /style.css`.
pub(super) async fn style() -> Response {
    asset(CSS, include_str!("../web/style.css"))
}

/// `GET /js/{file}`: one of the page's scripts.
pub(super) async fn script(Path(file): Path<String>) -> Result<Response, ApiError> {
    SCRIPTS
        .iter()
        .find(|(name, _)| *name == file)
        .map(|(_, body)| asset(JS, body))
        .ok_or_else(|| ApiError::not_found("no_such_asset", "the page has no such file"))
}

#[cfg(test)]
mod tests {
    use super::SCRIPTS;

    /// index.html loads exactly the embedded scripts, in their order: a script added to src/web/js/ but not
    /// here would be a 404 in the browser.
    #[test]
    fn index_loads_exactly_the_embedded_scripts() {
        let html = include_str!("../web/index.html");
        let loaded: Vec<&str> = html
            .match_indices("<script defer src=\"js/")
            .map(|(at, m)| {
                let rest = &html[at + m.len()..];
                &rest[..rest.find('"').unwrap_or(0)]
            })
            .collect();
        let embedded: Vec<&str> = SCRIPTS.iter().map(|(name, _)| *name).collect();
        assert_eq!(loaded, embedded);
    }
}
