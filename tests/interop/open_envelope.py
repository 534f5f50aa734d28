"""Opens a tradeledger envelope with pyhpke.

Reads JSON from stdin (secrets never go on the command line):
  {"cert_id": hex16, "party": "id", "secret_key": hex32 X25519 secret, "envelope": hex}
With "commitment" (hex32) and "ciphertext" (hex) also present, decrypts the body too.
Writes JSON to stdout: {"data_key": hex32, "grant_salt": hex32[, "master_salt": hex32, "body": text]}. Exits 1 with "decryption failed" otherwise.
"""

import json
import sys

from envelope_format import open_, open_body


def main() -> int:
    req = json.load(sys.stdin)
    try:
        data_key, grant_salt = open_(
            bytes.fromhex(req["cert_id"]),
            req["party"],
            bytes.fromhex(req["secret_key"]),
            bytes.fromhex(req["envelope"]),
        )
        out = {"data_key": data_key.hex(), "grant_salt": grant_salt.hex()}
        if "ciphertext" in req:
            master_salt, body = open_body(
                bytes.fromhex(req["cert_id"]),
                bytes.fromhex(req["commitment"]),
                data_key,
                bytes.fromhex(req["ciphertext"]),
            )
            out["master_salt"] = master_salt.hex()
            out["body"] = body.decode("utf-8")
    except Exception:  # noqa: BLE001 - coarse on purpose, like the vault
        print("decryption failed", file=sys.stderr)
        return 1
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
