"""The tradeledger envelope format (docs/formats.md, "Envelope"), written from the spec alone.

envelope = 0x01 || enc (32) || HPKE ciphertext (80)
HPKE: RFC 9180 base mode, DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-256-GCM
info = b"tradeledger/envelope/v1" || cert id (16 bytes)
aad  = b"tradeledger/recipient/v1" || recipient party id (UTF-8)
plaintext = data key (32) || grant salt (32)

and the body ciphertext (docs/formats.md, "Body ciphertext"):
body = 0x01 || nonce (12) || AES-256-GCM(data key, master salt (32) || canonical JSON body) || tag (16)
aad  = b"tradeledger/body/v1" || cert id (16) || document commitment (32)
"""

import sys

try:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from pyhpke import AEADId, CipherSuite, KDFId, KEMId
except ImportError:
    sys.exit("pyhpke is not installed: pip install -r tests/interop/requirements.txt")

VERSION = 0x01
ENC_LEN = 32
ENVELOPE_LEN = 1 + ENC_LEN + 64 + 16

SUITE = CipherSuite.new(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM)


def info(cert_id: bytes) -> bytes:
    if len(cert_id) != 16:
        raise ValueError("a certificate id is 16 bytes")
    return b"tradeledger/envelope/v1" + cert_id


def aad(party: str) -> bytes:
    return b"tradeledger/recipient/v1" + party.encode("utf-8")


def seal(cert_id: bytes, party: str, recipient_public: bytes, data_key: bytes, grant_salt: bytes) -> bytes:
    if len(data_key) != 32 or len(grant_salt) != 32:
        raise ValueError("data key and grant salt are 32 bytes each")
    pkr = SUITE.kem.deserialize_public_key(recipient_public)
    enc, sender = SUITE.create_sender_context(pkr, info(cert_id))
    return bytes([VERSION]) + enc + sender.seal(data_key + grant_salt, aad(party))


def open_(cert_id: bytes, party: str, secret_key: bytes, envelope: bytes) -> tuple[bytes, bytes]:
    if len(envelope) != ENVELOPE_LEN or envelope[0] != VERSION:
        raise ValueError("decryption failed")
    enc, ct = envelope[1 : 1 + ENC_LEN], envelope[1 + ENC_LEN :]
    skr = SUITE.kem.deserialize_private_key(secret_key)
    recipient = SUITE.create_recipient_context(enc, skr, info(cert_id))
    pt = recipient.open(ct, aad(party))
    return pt[:32], pt[32:]


def open_body(cert_id: bytes, commitment: bytes, data_key: bytes, ciphertext: bytes) -> tuple[bytes, bytes]:
    if len(ciphertext) < 1 + 12 + 32 + 16 or ciphertext[0] != VERSION:
        raise ValueError("decryption failed")
    nonce, sealed = ciphertext[1:13], ciphertext[13:]
    pt = AESGCM(data_key).decrypt(nonce, sealed, b"tradeledger/body/v1" + cert_id + commitment)
    return pt[:32], pt[32:]
