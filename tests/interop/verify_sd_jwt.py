"""Verifies an SD-JWT VC presentation with PyPI `sd-jwt` (SDJWTVerifier), the issuer key taken from the
did:jwk `kid` with jwcrypto; prints {"ok": true, "claims": ...} or exits non-zero. Run by
tests/e2e/credentials.rs: python verify_sd_jwt.py PRESENTATION_FILE"""
import base64
import json
import sys

from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier


def issuer_key(issuer, header):
    kid = header.get("kid", "")
    if not (kid.startswith("did:jwk:") and kid.endswith("#0")):
        raise ValueError(f"kid is not a did:jwk verification method: {kid}")
    did = kid[:-2]
    if issuer != did:
        raise ValueError(f"iss {issuer} is not the kid's DID")
    encoded = did[len("did:jwk:"):]
    jwk = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    return JWK(**jwk)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        presentation = f.read().strip()
    try:
        verifier = SDJWTVerifier(presentation, issuer_key)
        claims = verifier.get_verified_payload()
    except Exception as e:  # every refusal, whatever the library raises
        print(f"refused: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print(json.dumps({"ok": True, "claims": claims}))


main()
