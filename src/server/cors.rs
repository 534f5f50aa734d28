//! CORS for the public read endpoints, so the auditor's page works opened from a file or another host
//! against this log (issue 11). Only the unsigned reads get `Access-Control-Allow-Origin: *`, never with
//! credentials; signed endpoints send no CORS headers, so a browser on another origin cannot call them.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// How long a browser may cache a preflight answer, in seconds.
const PREFLIGHT_MAX_AGE: &str = "600";

/// Whether `path` is one of the public reads of docs/api.md (no signature, nothing secret).
pub(crate) fn is_public_read(path: &str) -> bool {
    let certificate = path.strip_prefix("/v1/certificates/").map(|rest| {
        let mut parts = rest.split('/');
        let _cert_id = parts.next();
        matches!(
            (parts.next(), parts.next()),
            (None, _) | (Some("receipts"), None)
        )
    });
    matches!(
        path,
        "/checkpoint" | "/log.vkey" | "/healthz" | "/openapi.json"
    ) || path.starts_with("/tile/")
        || path.starts_with("/v1/entries/")
        || path.starts_with("/v1/receipts/")
        || path.starts_with("/v1/proof/")
        || (path.starts_with("/v1/parties/") && path.matches('/').count() == 3)
        || certificate == Some(true)
}

/// Adds `Access-Control-Allow-Origin: *` to GET answers of public reads (errors included, so a page can read
/// a 404) and answers their preflight requests; everything else passes untouched.
pub(super) async fn public_reads(request: Request, next: Next) -> Response {
    if !is_public_read(request.uri().path()) {
        return next.run(request).await;
    }
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = if preflight {
        let mut r = StatusCode::NO_CONTENT.into_response();
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET"),
        );
        h.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            HeaderValue::from_static(PREFLIGHT_MAX_AGE),
        );
        r
    } else {
        next.run(request).await
    };
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::is_public_read;

    #[test]
    fn only_unsigned_reads_are_public() {
        for path in [
            "/checkpoint",
            "/log.vkey",
            "/tile/0/000",
            "/tile/entries/x001/002.p/7",
            "/v1/entries/3",
            "/v1/receipts/3",
            "/v1/proof/inclusion",
            "/v1/parties/acme",
            "/v1/certificates/00112233445566778899aabbccddeeff",
            "/v1/certificates/00112233445566778899aabbccddeeff/receipts",
        ] {
            assert!(is_public_read(path), "{path}");
        }
        for path in [
            "/v1/certificates/00112233445566778899aabbccddeeff/sealed",
            "/v1/certificates/00112233445566778899aabbccddeeff/grants",
            "/v1/certificates",
            "/v1/parties",
            "/v1/parties/acme/rotations",
            "/metrics",
            "/",
        ] {
            assert!(!is_public_read(path), "{path}");
        }
    }
}
