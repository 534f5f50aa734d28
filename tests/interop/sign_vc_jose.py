"""Secures a credential as VC-JOSE with software nobody here wrote: PyPI `cryptography` signs, this file builds
the compact JWS (RFC 7515 §7.1) by hand from the standard library.

Usage: sign_vc_jose.py CREDENTIAL.json [--kid KID]
Prints the compact JWS (header {"alg": "EdDSA", "typ": "vc+jwt", "kid": ...}) to stdout. A fresh Ed25519 key
signs. Without --kid, the key's did:jwk is the credential's issuer.id and `kid` its verification method #0;
with --kid, `kid` is KID as given (a did:web, say) and the issuer is left as it is.
"""

import base64
import json
import pathlib
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def main():
    credential = json.loads(pathlib.Path(sys.argv[1]).read_text())
    key = Ed25519PrivateKey.generate()
    x = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": b64url(x)}
    did = "did:jwk:" + b64url(json.dumps(jwk, separators=(",", ":")).encode())
    if "--kid" in sys.argv:
        kid = sys.argv[sys.argv.index("--kid") + 1]
    else:
        kid = did + "#0"
        credential["issuer"]["id"] = did
    header = {"alg": "EdDSA", "typ": "vc+jwt", "kid": kid}
    signing_input = b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(credential, indent=1).encode())
    print(signing_input + "." + b64url(key.sign(signing_input.encode("ascii"))))


if __name__ == "__main__":
    main()
