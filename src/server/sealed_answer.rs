//! The answer to an open (`GET /v1/certificates/{id}/sealed`), written straight into its body.
//!
//! Through `Json<Sealed>`, serde_json base64-encoded the 8 KiB ciphertext into a string and then scanned that
//! string byte by byte for characters to escape, of which base64 has none: 11 % of the server's instructions
//! per open (callgrind, docs/performance.md). Here each value is encoded once, into the body itself. The bytes
//! are exactly what `Json<Sealed>` sent (a test compares them), so clients see no change.

use std::fmt::Write as _;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::api::Sealed;

/// An encoded [`Sealed`], ready to send.
pub(super) struct SealedAnswer(String);

impl SealedAnswer {
    /// Encodes `sealed` as the JSON object `Json<Sealed>` would send.
    pub(super) fn new(sealed: &Sealed) -> Self {
        let b64_len = |bytes: &[u8]| bytes.len().div_ceil(3) * 4;
        let mut out = String::with_capacity(
            b64_len(&sealed.ciphertext.0)
                + b64_len(&sealed.envelope.0)
                + b64_len(&sealed.grant.0)
                + 128,
        );
        // Field names and order as in `Sealed`; base64's alphabet needs no JSON escaping.
        for (name, bytes) in [
            ("{\"ciphertext\":\"", &sealed.ciphertext.0),
            ("\",\"envelope\":\"", &sealed.envelope.0),
            ("\",\"grant\":\"", &sealed.grant.0),
        ] {
            out.push_str(name);
            STANDARD.encode_string(bytes, &mut out);
        }
        // Writing into a String cannot fail.
        let _ = write!(
            out,
            "\",\"registration_index\":{},\"receipt_index\":{}}}",
            sealed.registration_index, sealed.receipt_index
        );
        SealedAnswer(out)
    }
}

impl IntoResponse for SealedAnswer {
    fn into_response(self) -> Response {
        ([(header::CONTENT_TYPE, "application/json")], self.0).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::B64;

    #[test]
    fn the_body_is_what_serde_json_writes() {
        for len in [0usize, 1, 2, 3, 61, 8_599, 8_600] {
            let sealed = Sealed {
                ciphertext: B64((0..len)
                    .map(|i| u8::try_from(i % 251).unwrap_or_default())
                    .collect()),
                envelope: B64(vec![0xfb; 113]),
                grant: B64(vec![0xff; 32]),
                registration_index: u64::try_from(len).unwrap_or_default(),
                receipt_index: u64::MAX,
            };
            let expected = serde_json::to_string(&sealed).expect("Sealed serializes");
            assert_eq!(
                SealedAnswer::new(&sealed).0,
                expected,
                "ciphertext of {len} bytes"
            );
        }
    }

    #[tokio::test]
    async fn it_is_sent_as_json() {
        let sealed = Sealed {
            ciphertext: B64(vec![1, 2, 3]),
            envelope: B64(vec![4]),
            grant: B64(vec![5; 32]),
            registration_index: 1,
            receipt_index: 2,
        };
        let expected = axum::Json(sealed.clone()).into_response();
        let answer = SealedAnswer::new(&sealed).into_response();
        assert_eq!(
            answer.headers().get(header::CONTENT_TYPE),
            expected.headers().get(header::CONTENT_TYPE)
        );
        let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
            .await
            .expect("body");
        let parsed: Sealed = serde_json::from_slice(&body).expect("parses as Sealed");
        assert_eq!(parsed.ciphertext, sealed.ciphertext);
        assert_eq!(parsed.receipt_index, 2);
    }
}
