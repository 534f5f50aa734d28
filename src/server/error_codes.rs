//! Every error code the service answers with, its statuses and when: the one list that docs/api.md's error
//! table and the OpenAPI document are rendered from (tests check both, and that every code in src/ is here).

use std::fmt::Write as _;

/// One error code of the HTTP API.
#[derive(Debug, Clone, Copy)]
pub struct ErrorCode {
    /// The stable machine-readable code, `error.code` of the answer.
    pub code: &'static str,
    /// The HTTP statuses it comes with; empty: any client error the framework refuses with.
    pub statuses: &'static [u16],
    /// When it is answered (Markdown).
    pub when: &'static str,
}

/// The error codes, in the order docs/api.md lists them.
pub const ERROR_CODES: &[ErrorCode] = &[
    ErrorCode {
        code: "missing_signature",
        statuses: &[401],
        when: "a signed endpoint got no `Signature` or no `Signature-Input`",
    },
    ErrorCode {
        code: "malformed_signature",
        statuses: &[401],
        when: "a signature field does not parse or does not follow the profile",
    },
    ErrorCode {
        code: "stale_request",
        statuses: &[401],
        when: "`created` is more than the allowed skew (default 300 s) from the server clock, or before the server started (so nothing signed before a restart is accepted after it)",
    },
    ErrorCode {
        code: "digest_mismatch",
        statuses: &[401],
        when: "`Content-Digest` missing, without `sha-256`, or not the body's digest",
    },
    ErrorCode {
        code: "unknown_party",
        statuses: &[401, 404],
        when: "401: `keyid` is not an enrolled party; 404: `GET /v1/parties/<id>` of a party that is not enrolled",
    },
    ErrorCode {
        code: "bad_signature",
        statuses: &[401],
        when: "the request signature does not verify with the party's enrolled key",
    },
    ErrorCode {
        code: "replayed_request",
        statuses: &[401],
        when: "this party already used this nonce (or, for a registration of kind `0x08`, sent this entry), before or after a restart",
    },
    ErrorCode {
        code: "replay_quota_exceeded",
        statuses: &[429],
        when: "this party holds its whole share of the replay memory (the total divided among enrolled parties); only its requests are refused, until its older nonces expire",
    },
    ErrorCode {
        code: "replay_cache_full",
        statuses: &[503],
        when: "the server's replay memory is full; retry later (only after a change in the number of parties: the shares add up to the total)",
    },
    ErrorCode {
        code: "forbidden",
        statuses: &[403],
        when: "the Cedar policies refuse the request; the message names the `forbid` rules that matched (e.g. `only-readers-fetch`, `auditors-never-fetch`, `register-with-customs`)",
    },
    ErrorCode {
        code: "body_too_large",
        statuses: &[413],
        when: "the request body exceeds the configured cap (`--max-body-bytes`, default 1 MiB)",
    },
    ErrorCode {
        code: "unreadable_body",
        statuses: &[400],
        when: "the request body could not be read",
    },
    ErrorCode {
        code: "malformed_json",
        statuses: &[400],
        when: "the body is not JSON, or JSON of the wrong shape (unknown field, missing field, wrong type, bad base64); the message names the field as a JSON pointer (e.g. `/envelopes/0/grant`), never its value",
    },
    ErrorCode {
        code: "malformed_entry",
        statuses: &[400],
        when: "the entry bytes do not decode",
    },
    ErrorCode {
        code: "bad_entry_signature",
        statuses: &[400],
        when: "the entry's signature does not verify with the requester's key",
    },
    ErrorCode {
        code: "entry_signer_mismatch",
        statuses: &[403],
        when: "the entry is signed by another party than the one signing the request",
    },
    ErrorCode {
        code: "sealed_digest_mismatch",
        statuses: &[400],
        when: "a registration entry's sealed digest (kind `0x08`) is not that of the uploaded ciphertext and envelopes",
    },
    ErrorCode {
        code: "stale_entry",
        statuses: &[400],
        when: "the entry's time is more than the allowed skew from the server clock (or, for a registration of kind `0x08`, before the server started)",
    },
    ErrorCode {
        code: "wrong_entry_kind",
        statuses: &[400],
        when: "the entry is not of the kind the endpoint takes (e.g. a grant sent to `/v1/certificates`)",
    },
    ErrorCode {
        code: "reserved_party_id",
        statuses: &[400],
        when: "an enrollment for the party id `log`",
    },
    ErrorCode {
        code: "bad_public_key",
        statuses: &[400],
        when: "an enrollment whose signing key is not a valid Ed25519 key",
    },
    ErrorCode {
        code: "already_enrolled",
        statuses: &[409],
        when: "that party id is already enrolled (checked and appended in one critical section: of two concurrent enrollments of one id, exactly one succeeds)",
    },
    ErrorCode {
        code: "party_mismatch",
        statuses: &[400],
        when: "a rotation whose entry names another party than the path",
    },
    ErrorCode {
        code: "operator_rotation_unsupported",
        statuses: &[403],
        when: "a rotation of the operator's own key (fixed by the log's first entry)",
    },
    ErrorCode {
        code: "role_mismatch",
        statuses: &[400],
        when: "a rotation that changes the party's role",
    },
    ErrorCode {
        code: "not_current_key",
        statuses: &[409],
        when: "a rotation whose `replaces` is not the party's current signing key",
    },
    ErrorCode {
        code: "bad_consent",
        statuses: &[400],
        when: "a rotation whose consent does not verify with the party's current key",
    },
    ErrorCode {
        code: "key_reused",
        statuses: &[400],
        when: "a rotation to the current signing key or one the party held before",
    },
    ErrorCode {
        code: "registrant_mismatch",
        statuses: &[403],
        when: "a registration naming another registrant than the requester",
    },
    ErrorCode {
        code: "grant_mismatch",
        statuses: &[400],
        when: "envelopes' grant commitments differ from the entry's, or a revocation names another grant than the party's",
    },
    ErrorCode {
        code: "duplicate_recipient",
        statuses: &[400],
        when: "a party appears twice among the envelopes",
    },
    ErrorCode {
        code: "bad_envelope",
        statuses: &[400],
        when: "an uploaded envelope is not exactly 113 bytes starting with version 1 (docs/formats.md \"Envelope\"); the message names the field, e.g. `envelopes[1].envelope` or `envelope.envelope`",
    },
    ErrorCode {
        code: "bad_ciphertext",
        statuses: &[400],
        when: "the body ciphertext is shorter than 61 bytes (version, nonce, master salt, tag) or does not start with version 1 (docs/formats.md \"Body ciphertext\")",
    },
    ErrorCode {
        code: "missing_own_envelope",
        statuses: &[400],
        when: "the registrant did not keep an envelope of its own",
    },
    ErrorCode {
        code: "unknown_recipient",
        statuses: &[400],
        when: "a recipient, grantee or revokee is not enrolled",
    },
    ErrorCode {
        code: "bad_party_id",
        statuses: &[400],
        when: "a party id is malformed",
    },
    ErrorCode {
        code: "already_registered",
        statuses: &[409],
        when: "a certificate with that id exists",
    },
    ErrorCode {
        code: "too_large",
        statuses: &[413],
        when: "a ciphertext or envelope exceeds the vault's limits",
    },
    ErrorCode {
        code: "cert_id_mismatch",
        statuses: &[400],
        when: "the entry names another certificate than the path",
    },
    ErrorCode {
        code: "already_granted",
        statuses: &[409],
        when: "that party already holds a grant for the certificate",
    },
    ErrorCode {
        code: "grant_reused",
        statuses: &[400],
        when: "a re-wrap whose new grant commitment equals the old one",
    },
    ErrorCode {
        code: "not_granted",
        statuses: &[403, 404],
        when: "403: the policies allow the fetch but the caller holds no envelope; 404: a revocation of a party that holds no grant",
    },
    ErrorCode {
        code: "purged",
        statuses: &[410],
        when: "the certificate body was purged",
    },
    ErrorCode {
        code: "unknown_certificate",
        statuses: &[404],
        when: "no certificate with that id",
    },
    ErrorCode {
        code: "bad_cert_id",
        statuses: &[400],
        when: "a certificate id is not 32 lowercase hex digits",
    },
    ErrorCode {
        code: "bad_number",
        statuses: &[400],
        when: "an entry index is not a decimal number",
    },
    ErrorCode {
        code: "bad_query",
        statuses: &[400],
        when: "a proof query is missing or not decimal",
    },
    ErrorCode {
        code: "bad_proof_range",
        statuses: &[400],
        when: "inclusion: not `index < size <= tree size`; consistency: not `0 < old <= new <= tree size`",
    },
    ErrorCode {
        code: "bad_tile_path",
        statuses: &[400],
        when: "a tile path does not follow C2SP tlog-tiles",
    },
    ErrorCode {
        code: "no_such_tile",
        statuses: &[404],
        when: "the tile is beyond the tree",
    },
    ErrorCode {
        code: "no_such_entry",
        statuses: &[404],
        when: "no entry at that index",
    },
    ErrorCode {
        code: "not_yet_published",
        statuses: &[404],
        when: "no published checkpoint covers that entry yet; retry shortly",
    },
    ErrorCode {
        code: "no_cosigned_checkpoint",
        statuses: &[503],
        when: "with a witness policy: no checkpoint has met the quorum yet; retry later",
    },
    ErrorCode {
        code: "no_such_asset",
        statuses: &[404],
        when: "`GET /js/<file>` of a file the auditor's page does not have",
    },
    ErrorCode {
        code: "no_such_route",
        statuses: &[404],
        when: "no such endpoint",
    },
    ErrorCode {
        code: "method_not_allowed",
        statuses: &[405],
        when: "the endpoint exists with another method (the `Allow` header lists it)",
    },
    ErrorCode {
        code: "bad_request",
        statuses: &[400],
        when: "the framework refused the request before a handler saw it (e.g. a path segment that is not UTF-8), or the request line or a header field is malformed (bytes outside the grammar in the target, a header line without a colon, a Content-Length that is not decimal, a Transfer-Encoding not ending in `chunked` or on HTTP/1.0); the connection is closed",
    },
    ErrorCode {
        code: "conflicting_length",
        statuses: &[400],
        when: "the request has both `Content-Length` and `Transfer-Encoding`, or more than one `Content-Length` (request smuggling, RFC 9112 §6.3); the connection is closed",
    },
    ErrorCode {
        code: "uri_too_long",
        statuses: &[414],
        when: "the request target exceeds `--max-uri-bytes` (default 8 KiB); the connection is closed",
    },
    ErrorCode {
        code: "headers_too_large",
        statuses: &[431],
        when: "the request head exceeds `--max-header-bytes` (default 16 KiB) or has more than 100 header fields; the connection is closed",
    },
    ErrorCode {
        code: "request_timeout",
        statuses: &[408],
        when: "the request head was begun but not completed within `--header-timeout-ms` (default 10 s); the connection is closed",
    },
    ErrorCode {
        code: "body_timeout",
        statuses: &[408],
        when: "a signed request's body did not arrive within `--body-timeout-ms` (default 30 s)",
    },
    ErrorCode {
        code: "server_busy",
        statuses: &[503],
        when: "too many connections (`--max-connections`), or the request bodies in flight would exceed `--body-budget-bytes` (default 64 MiB); retry after the `Retry-After` seconds",
    },
    ErrorCode {
        code: "not_found",
        statuses: &[404],
        when: "the framework found nothing to answer (normally `no_such_route` is answered instead)",
    },
    ErrorCode {
        code: "refused",
        statuses: &[],
        when: "any other refusal by the framework before a handler saw the request (the status says which)",
    },
    ErrorCode {
        code: "internal",
        statuses: &[500],
        when: "a bug or an unexpected state on the server; the detail is in its log",
    },
    ErrorCode {
        code: "unavailable",
        statuses: &[503],
        when: "storage is failing (including the replay journal, for a request dated ahead of the server clock; with `--postgres`, the database is unreachable or a decision's cross-frontend lock was not free within `--lock-wait-ms`); the request had no effect and may be retried",
    },
];

/// The codes answered with `status`, in list order.
pub(super) fn codes_with(status: u16) -> impl Iterator<Item = &'static ErrorCode> {
    ERROR_CODES
        .iter()
        .filter(move |c| c.statuses.contains(&status))
}

/// docs/api.md's error table, rendered from [`ERROR_CODES`].
pub fn error_code_table() -> String {
    let mut table = String::from("| code | status | when |\n|---|---|---|\n");
    for code in ERROR_CODES {
        let statuses = if code.statuses.is_empty() {
            "4xx".to_owned()
        } else {
            let statuses: Vec<String> = code.statuses.iter().map(u16::to_string).collect();
            statuses.join(", ")
        };
        writeln!(table, "| `{}` | {statuses} | {} |", code.code, code.when)
            .expect("writing to a String cannot fail");
    }
    table
}
