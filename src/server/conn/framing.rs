//! Where each request on a connection begins and ends, checked before hyper parses it: the head against our
//! limits (RFC 9112 §2-§6), the body by its Content-Length or its chunked framing (RFC 9112 §7.1).
//!
//! hyper answers its own parse errors with an empty body; checking every head here first lets each refusal be
//! the documented JSON error, and refuses what hyper would let through (Content-Length together with
//! Transfer-Encoding, repeated Content-Length: request smuggling, RFC 9112 §6.3).

use axum::http::StatusCode;

use super::super::error::{ErrorBody, ErrorDetail};

/// Limits on a request head.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadLimits {
    /// Longest request head (request line and header fields), in bytes.
    pub(crate) max_head_bytes: usize,
    /// Longest request target, in bytes.
    pub(crate) max_uri_bytes: usize,
    /// Most header fields.
    pub(crate) max_headers: usize,
}

/// What follows the bytes checked so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Framing {
    /// A request head.
    Head,
    /// This many more body bytes.
    Body(u64),
    /// A chunked body, at this point of its framing.
    Chunked(Chunk),
    /// Bytes we no longer follow (a chunked body hyper will refuse): passed through as they come.
    Opaque,
}

/// A refusal: status, code and message of the JSON error written before the connection closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: &'static str,
}

impl Refusal {
    pub(super) const fn new(status: StatusCode, code: &'static str, message: &'static str) -> Self {
        Refusal {
            status,
            code,
            message,
        }
    }

    /// The whole HTTP/1.1 answer: the JSON error, `Connection: close`, and `Retry-After` on a 503.
    pub(super) fn response(&self) -> Vec<u8> {
        let body = serde_json::to_vec(&ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message.to_owned(),
            },
        })
        .unwrap_or_default();
        let retry = if self.status == StatusCode::SERVICE_UNAVAILABLE {
            "retry-after: 1\r\n"
        } else {
            ""
        };
        let mut out = format!(
            "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{retry}\r\n",
            self.status.as_u16(),
            self.status.canonical_reason().unwrap_or(""),
            body.len()
        )
        .into_bytes();
        out.extend_from_slice(&body);
        out
    }
}

const BAD_REQUEST: Refusal = Refusal::new(
    StatusCode::BAD_REQUEST,
    "bad_request",
    "malformed request line or header field",
);
const BAD_TARGET: Refusal = Refusal::new(
    StatusCode::BAD_REQUEST,
    "bad_request",
    "the request target is not a valid origin-form URI",
);
const HEAD_TOO_LARGE: Refusal = Refusal::new(
    StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
    "headers_too_large",
    "request header fields exceed the configured limit",
);
const URI_TOO_LONG: Refusal = Refusal::new(
    StatusCode::URI_TOO_LONG,
    "uri_too_long",
    "request target exceeds the configured limit",
);
const CONFLICTING_LENGTH: Refusal = Refusal::new(
    StatusCode::BAD_REQUEST,
    "conflicting_length",
    "Content-Length repeated or combined with Transfer-Encoding",
);
const BAD_LENGTH: Refusal = Refusal::new(
    StatusCode::BAD_REQUEST,
    "bad_request",
    "Content-Length is not a decimal number",
);
const BAD_TRANSFER_CODING: Refusal = Refusal::new(
    StatusCode::BAD_REQUEST,
    "bad_request",
    "Transfer-Encoding must end with chunked, on HTTP/1.1 only",
);

/// Checks a head known to be incomplete (no empty line yet) against the limits, without parsing it: a client
/// trickling a head byte by byte must not make us parse it again for every byte.
pub(super) fn check_partial(buf: &[u8], limits: &HeadLimits) -> Result<(), Refusal> {
    if request_line_len(buf) > limits.max_uri_bytes + 32 {
        Err(URI_TOO_LONG)
    } else if buf.len() > limits.max_head_bytes {
        Err(HEAD_TOO_LARGE)
    } else {
        Ok(())
    }
}

/// Checks the head at the start of `buf`. `Ok(None)`: incomplete, and still within the limits;
/// `Ok(Some((len, next)))`: a head of `len` bytes, followed by a body framed as `next`.
pub(super) fn check_head(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(usize, Framing)>, Refusal> {
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut request = httparse::Request::new(&mut headers);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if request_line_len(buf) > limits.max_uri_bytes + 32 => {
            return Err(URI_TOO_LONG);
        }
        Ok(httparse::Status::Partial) if buf.len() > limits.max_head_bytes => {
            return Err(HEAD_TOO_LARGE);
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(HEAD_TOO_LARGE),
        Err(_) if buf.len() > limits.max_head_bytes => return Err(HEAD_TOO_LARGE),
        Err(_) => return Err(BAD_REQUEST),
    };
    if len > limits.max_head_bytes {
        return Err(HEAD_TOO_LARGE);
    }
    let target = request.path.unwrap_or("");
    if target.len() > limits.max_uri_bytes {
        return Err(URI_TOO_LONG);
    }
    // What hyper would refuse after httparse (the target as an http::Uri, header names and values), we
    // refuse here, so that its empty-bodied 400 is never sent.
    if axum::http::Uri::try_from(target).is_err() {
        return Err(BAD_TARGET);
    }
    let mut lengths = 0usize;
    let mut length = 0u64;
    let mut transfer_coding: Option<Vec<u8>> = None;
    for header in request.headers.iter() {
        if axum::http::HeaderName::from_bytes(header.name.as_bytes()).is_err()
            || axum::http::HeaderValue::from_bytes(header.value).is_err()
        {
            return Err(BAD_REQUEST);
        }
        if header.name.eq_ignore_ascii_case("content-length") {
            lengths += 1;
            length = decimal(header.value).ok_or(BAD_LENGTH)?;
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            let coding = transfer_coding.get_or_insert_with(Vec::new);
            if !coding.is_empty() {
                coding.push(b',');
            }
            coding.extend_from_slice(header.value);
        }
    }
    let next = match (transfer_coding, lengths) {
        (Some(_), 1..) | (None, 2..) => return Err(CONFLICTING_LENGTH),
        (Some(coding), 0) => {
            let last = coding
                .rsplit(|b| *b == b',')
                .next()
                .map(<[u8]>::trim_ascii)
                .unwrap_or_default();
            if request.version != Some(1) || !last.eq_ignore_ascii_case(b"chunked") {
                return Err(BAD_TRANSFER_CODING);
            }
            Framing::Chunked(Chunk::Size {
                value: 0,
                digits: 0,
            })
        }
        (None, _) if length > 0 => Framing::Body(length),
        (None, _) => Framing::Head,
    };
    Ok(Some((len, next)))
}

/// The length of the request line received so far (leading empty lines skipped, as httparse does): longer
/// than any target we accept plus method and version means the target is too long, whether or not it ended.
fn request_line_len(buf: &[u8]) -> usize {
    let start = buf
        .iter()
        .position(|b| !matches!(b, b'\r' | b'\n'))
        .unwrap_or(buf.len());
    let line = buf.get(start..).unwrap_or_default();
    line.iter().position(|b| *b == b'\n').unwrap_or(line.len())
}

/// A Content-Length value: 1 to 19 ASCII digits (RFC 9110 §8.6), nothing else.
fn decimal(value: &[u8]) -> Option<u64> {
    let value = value.trim_ascii();
    if value.is_empty() || value.len() > 19 || !value.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(value).ok()?.parse().ok()
}

/// Where a chunked body's framing is (RFC 9112 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Chunk {
    /// In a chunk-size line's hex digits.
    Size {
        value: u64,
        digits: u8,
    },
    /// In a chunk extension, this many bytes long so far.
    Extension {
        value: u64,
        len: usize,
    },
    /// After the size line's CR.
    SizeLf {
        value: u64,
    },
    /// This many data bytes to go.
    Data(u64),
    /// After the data: CR, then LF.
    DataCr,
    DataLf,
    /// In the trailer section: a field line this long so far.
    Trailer {
        line: usize,
        total: usize,
    },
    /// After a trailer line's CR.
    TrailerLf {
        line: usize,
        total: usize,
    },
}

/// Longest chunk extension and trailer section we follow; hyper refuses longer ones anyway.
const MAX_CHUNK_META: usize = 16 * 1024;

/// Follows a chunked body through `buf`: how many bytes belong to it and what comes after them. Framing
/// that does not follow RFC 9112 §7.1 turns [`Framing::Opaque`]: hyper refuses the body and the connection.
pub(super) fn follow_chunked(mut state: Chunk, buf: &[u8]) -> (usize, Framing) {
    let mut used = 0;
    while used < buf.len() {
        if let Chunk::Data(left) = state {
            let take = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .min(buf.len() - used);
            used += take;
            let left = left - take as u64;
            state = if left == 0 {
                Chunk::DataCr
            } else {
                Chunk::Data(left)
            };
            continue;
        }
        let byte = buf[used];
        used += 1;
        state = match (state, byte) {
            (Chunk::Size { value, digits }, b) if b.is_ascii_hexdigit() && digits < 16 => {
                let digit = u64::from(char::from(b).to_digit(16).unwrap_or(0));
                Chunk::Size {
                    value: value * 16 + digit,
                    digits: digits + 1,
                }
            }
            (Chunk::Size { value, digits: 1.. }, b';' | b' ' | b'\t') => {
                Chunk::Extension { value, len: 0 }
            }
            (Chunk::Size { value, digits: 1.. }, b'\r') => Chunk::SizeLf { value },
            (Chunk::Extension { value, .. }, b'\r') => Chunk::SizeLf { value },
            (Chunk::Extension { value, len }, _) if len < MAX_CHUNK_META => Chunk::Extension {
                value,
                len: len + 1,
            },
            (Chunk::SizeLf { value: 0 }, b'\n') => Chunk::Trailer { line: 0, total: 0 },
            (Chunk::SizeLf { value }, b'\n') => Chunk::Data(value),
            (Chunk::DataCr, b'\r') => Chunk::DataLf,
            (Chunk::DataLf, b'\n') => Chunk::Size {
                value: 0,
                digits: 0,
            },
            (Chunk::Trailer { line, total }, b'\r') => Chunk::TrailerLf { line, total },
            (Chunk::Trailer { line, total }, _) if total < MAX_CHUNK_META => Chunk::Trailer {
                line: line + 1,
                total: total + 1,
            },
            (Chunk::TrailerLf { line: 0, .. }, b'\n') => return (used, Framing::Head),
            (Chunk::TrailerLf { total, .. }, b'\n') => Chunk::Trailer { line: 0, total },
            _ => return (used, Framing::Opaque),
        };
    }
    (used, Framing::Chunked(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_head_bytes: 1024,
        max_uri_bytes: 64,
        max_headers: 8,
    };

    #[test]
    fn heads_are_framed_or_refused() {
        let ok = b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(
            check_head(ok, &LIMITS),
            Ok(Some((ok.len() - 3, Framing::Body(3))))
        );
        assert_eq!(check_head(&ok[..20], &LIMITS), Ok(None));
        let chunked = b"POST /x HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n";
        assert!(matches!(
            check_head(chunked, &LIMITS),
            Ok(Some((_, Framing::Chunked(_))))
        ));
        for (bad, code) in [
            (
                &b"POST /x HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
                "conflicting_length",
            ),
            (
                b"POST /x HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
                "conflicting_length",
            ),
            (
                b"POST /x HTTP/1.1\r\nContent-Length: +3\r\n\r\n",
                "bad_request",
            ),
            (
                b"POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                "bad_request",
            ),
            (
                b"POST /x HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
                "bad_request",
            ),
            (b"GET /\xff HTTP/1.1\r\n\r\n", "bad_request"),
            (b"GET /a b HTTP/1.1\r\n\r\n", "bad_request"),
        ] {
            assert_eq!(
                check_head(bad, &LIMITS).map_err(|r| r.code),
                Err(code),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(100));
        assert_eq!(
            check_head(long.as_bytes(), &LIMITS).map_err(|r| r.code),
            Err("uri_too_long")
        );
        let unfinished = format!("GET /{}", "a".repeat(2000));
        assert_eq!(
            check_head(unfinished.as_bytes(), &LIMITS).map_err(|r| r.code),
            Err("uri_too_long")
        );
        let many: String = (0..9).map(|i| format!("X-{i}: v\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\n{many}\r\n");
        assert_eq!(
            check_head(many.as_bytes(), &LIMITS).map_err(|r| r.code),
            Err("headers_too_large")
        );
        let big = format!("GET / HTTP/1.1\r\nX: {}", "v".repeat(2000));
        assert_eq!(
            check_head(big.as_bytes(), &LIMITS).map_err(|r| r.code),
            Err("headers_too_large")
        );
    }

    #[test]
    fn chunked_bodies_are_followed_to_their_end() {
        let start = Chunk::Size {
            value: 0,
            digits: 0,
        };
        let body = b"5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\nGET";
        assert_eq!(follow_chunked(start, body), (body.len() - 3, Framing::Head));
        // Byte by byte, the same.
        let mut state = Framing::Chunked(start);
        let mut used = 0;
        for byte in &body[..body.len() - 3] {
            let Framing::Chunked(chunk) = state else {
                panic!("ended early at {used}")
            };
            let (n, next) = follow_chunked(chunk, std::slice::from_ref(byte));
            used += n;
            state = next;
        }
        assert_eq!(state, Framing::Head);
        assert_eq!(follow_chunked(start, b"zz\r\n").1, Framing::Opaque);
        assert_eq!(follow_chunked(start, b"\r\n").1, Framing::Opaque);
    }
}
