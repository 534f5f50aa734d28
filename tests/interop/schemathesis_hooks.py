"""Schemathesis hooks for the bounded run of tests/e2e/schemathesis.rs.

Signing: with TRADELEDGER_SIGN_AS=OPERATOR_KEY,PARTY_KEY (tradeledger key files), every request that carries the
three signature headers is signed for real (docs/api.md "Request signatures": the Python signer given there),
by the operator for /v1/parties..., by the party otherwise; so generated bodies reach the handlers instead of
stopping at 401. A request from which schemathesis removed a signature header goes out unsigned.

`GET /checkpoint?min_size=N` is a long poll: for an N beyond the log it waits 10 s by design, which is documented
behaviour, not a fault, and would spend the run's time budget on waiting. Just before each request (in every
phase), a size the server would wait for is replaced by 1 (the log always holds entry 0), so every other value is
still sent and the answer comes at once.
"""

import base64
import hashlib
import os
import time
from urllib.parse import urlsplit

import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

SIGNATURE_HEADERS = ("Content-Digest", "Signature-Input", "Signature")


def _load(path):
    """(party id, Ed25519 key) from a `tradeledger-party-key/v1` file."""
    with open(path) as f:
        fields = dict(line.split(" ", 1) for line in f.read().splitlines()[1:] if " " in line)
    return fields["party"], Ed25519PrivateKey.from_private_bytes(bytes.fromhex(fields["signing"]))


SIGNERS = [_load(p) for p in os.environ.get("TRADELEDGER_SIGN_AS", "").split(",") if p]


class _Sign(requests.auth.AuthBase):
    """Signs the request exactly as sent (requests hands over the final method, URL and body bytes)."""

    def __call__(self, r):
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        url = urlsplit(r.url)
        party, key = SIGNERS[0] if url.path.startswith("/v1/parties") else SIGNERS[-1]
        digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
        nonce = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        params = ('("@method" "@path" "@query" "content-digest")'
                  f';created={int(time.time())};nonce="{nonce}";keyid="{party}";alg="ed25519"')
        base = "\n".join([f'"@method": {r.method}', f'"@path": {url.path or "/"}', f'"@query": ?{url.query}',
                          f'"content-digest": {digest}', f'"@signature-params": {params}'])
        signature = base64.b64encode(key.sign(base.encode())).decode()
        r.headers["Content-Digest"] = digest
        r.headers["Signature-Input"] = f"sig1={params}"
        r.headers["Signature"] = f"sig1=:{signature}:"
        return r


def _waits(value):
    """Whether the server would read `value` as a size to wait for (a decimal beyond 1)."""
    text = str(value)
    return text.isascii() and text.isdigit() and int(text) > 1


# `kwargs` without `**`: schemathesis then passes the very dict the request is sent with.
@schemathesis.hook
def before_call(context, case, kwargs):
    query = case.query
    if isinstance(query, dict) and _waits(query.get("min_size", "")):
        query["min_size"] = 1
    headers = case.headers or {}
    if SIGNERS and all(name in headers for name in SIGNATURE_HEADERS):
        kwargs["auth"] = _Sign()
