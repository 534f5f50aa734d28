//! Requests refused before any route sees them (too long a target, too large a head, bad bytes, ambiguous
//! framing) are answered with the documented JSON error like every other refusal; a request carrying both
//! Content-Length and Transfer-Encoding is refused and its connection closed (request smuggling).

use std::time::Duration;

use crate::accepted::Accepted;
use crate::spawned::{exchange, json_error};
use crate::support::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_before_routing_are_json_and_ambiguous_framing_is_refused() {
    let w = World::new().await;
    let before = Accepted::record(&w).await;
    let addr = w.server.url.trim_start_matches("http://").to_owned();
    let wait = Duration::from_secs(5);
    let many_headers: String = (0..150).map(|i| format!("X-H{i}: v\r\n")).collect();
    let cases: Vec<(Vec<u8>, u16, &str)> = vec![
        (
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(20_000)).into_bytes(),
            414,
            "uri_too_long",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "y".repeat(64 << 10))
                .into_bytes(),
            431,
            "headers_too_large",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n", "y".repeat(1 << 20))
                .into_bytes(),
            431,
            "headers_too_large",
        ),
        (
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n").into_bytes(),
            431,
            "headers_too_large",
        ),
        (
            b"POST /v1/certificates HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
                .to_vec(),
            400,
            "conflicting_length",
        ),
        (
            b"GET /v1/\x01 HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            b"GET /v1/certificates/\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
        (
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Header: v\r\n\r\n".to_vec(),
            400,
            "bad_request",
        ),
    ];
    for (request, status, code) in cases {
        let (answer, _) = exchange(&addr, &request, wait).await;
        assert_eq!(
            json_error(&answer),
            (status, code.to_owned()),
            "{:.120}: {answer:.300}",
            String::from_utf8_lossy(&request)
        );
    }

    // Both framings, in either order, with a second request pipelined behind: one 400, then the server closes
    // the connection; the smuggled request is never answered.
    for framing in [
        "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
        "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
    ] {
        let request = format!(
            "POST /v1/certificates HTTP/1.1\r\nHost: x\r\n{framing}\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        let (answer, closed) = exchange(&addr, request.as_bytes(), wait).await;
        assert_eq!(
            json_error(&answer),
            (400, "conflicting_length".to_owned()),
            "{answer:.300}"
        );
        assert!(closed, "the connection stayed open: {answer:.300}");
        assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer:.500}");
    }
    before.assert_intact(&w).await;
}
