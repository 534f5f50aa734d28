"""Seals a tradeledger envelope with pyhpke.

Reads JSON from stdin:
  {"cert_id": hex16, "party": "id", "public_key": hex32 X25519 public key, "data_key": hex32, "grant_salt": hex32}
Writes JSON to stdout: {"envelope": hex}.
"""

import json
import sys

from envelope_format import seal


def main() -> int:
    req = json.load(sys.stdin)
    envelope = seal(
        bytes.fromhex(req["cert_id"]),
        req["party"],
        bytes.fromhex(req["public_key"]),
        bytes.fromhex(req["data_key"]),
        bytes.fromhex(req["grant_salt"]),
    )
    json.dump({"envelope": envelope.hex()}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
