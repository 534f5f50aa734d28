//! HTTP abuse below the client library: bodies over the cap (chunked, or declared and never sent), garbage,
//! malformed and huge headers. Each is answered or dropped, and the server serves on.

use crate::accepted::Accepted;
use crate::support::{MAX_BODY, World};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raw_http_abuse_is_answered_and_survived() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let w = World::new().await;
    let before = Accepted::record(&w).await;
    let addr = w.server.url.trim_start_matches("http://").to_owned();
    let exchange = |request: Vec<u8>| {
        let addr = addr.clone();
        async move {
            let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
            // The server may answer and close before it read everything we send: ignore write errors.
            let _ = stream.write_all(&request).await;
            let mut answer = Vec::new();
            let _ = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                stream.read_to_end(&mut answer),
            )
            .await;
            String::from_utf8_lossy(&answer).into_owned()
        }
    };

    // A chunked body with no Content-Length, larger than the cap: refused once the cap is crossed. Signed by
    // an enrolled party, since an unsigned request is refused before its body is read (tests/e2e/netbounds.rs).
    let chunk = vec![b'a'; 64 * 1024];
    let whole = chunk.repeat(MAX_BODY / chunk.len() + 2);
    let mut request = b"POST /v1/certificates HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n".to_vec();
    for (name, value) in crate::support::sign(
        "POST",
        "/v1/certificates",
        &whole,
        w.importer.name(),
        w.importer.signing_key(),
        tradeledger::httpsig::unix_now(),
    ) {
        request.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    request.extend_from_slice(b"\r\n");
    for _ in 0..(MAX_BODY / chunk.len() + 2) {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    let answer = exchange(request).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:.300}");
    assert!(
        answer.contains(r#""code":"body_too_large""#),
        "{answer:.300}"
    );

    // A Content-Length beyond the cap is refused without reading the body.
    let answer = exchange(
        format!(
            "POST /v1/certificates HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            1u64 << 40
        )
        .into_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer:.300}");

    // Garbage instead of HTTP, a header line without a colon, a huge header: refused, nothing breaks.
    for request in [
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n".to_vec(),
        b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n".to_vec(),
        format!(
            "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "y".repeat(1 << 20)
        )
        .into_bytes(),
    ] {
        let answer = exchange(request).await;
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 4"),
            "{answer:.300}"
        );
    }
    before.assert_intact(&w).await;
}
