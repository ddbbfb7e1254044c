"""RSASSA-PKCS1-v1_5 / SHA-256 signature verification in the standard library (RFC 8017 §8.2.2).

The ingest Lambda ships no ``cryptography`` wheel (cold start, and a compiled dependency per architecture), and
verifying needs only a modular exponentiation: ``s^e mod n`` must equal the EMSA-PKCS1-v1_5 encoding of the
SHA-256 digest. Public keys are read from PEM: ``BEGIN PUBLIC KEY`` (SubjectPublicKeyInfo, rsaEncryption) or
``BEGIN RSA PUBLIC KEY`` (PKCS#1). Only verification lives here — there is no private-key code path at all.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

RSA_ENCRYPTION_OID = bytes.fromhex("2a864886f70d010101")   # 1.2.840.113549.1.1.1
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")  # DigestInfo prefix (RFC 8017 §9.2)
MIN_MODULUS_BITS = 2048
_PEM = re.compile(r"-----BEGIN (RSA )?PUBLIC KEY-----(.+?)-----END (RSA )?PUBLIC KEY-----", re.S)


class PublicKeyError(ValueError):
    """The configured text is not an RSA public key this module accepts."""


@dataclass(frozen=True, slots=True)
class RsaPublicKey:
    n: int
    e: int

    @property
    def size(self) -> int:
        return (self.n.bit_length() + 7) // 8


def _der(data: bytes, offset: int, expected_tag: int) -> tuple[bytes, int]:
    """(contents, next offset) of the DER element at ``offset`` with tag ``expected_tag``."""
    if offset + 2 > len(data) or data[offset] != expected_tag:
        raise PublicKeyError("unexpected DER structure")
    length, offset = data[offset + 1], offset + 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or offset + count > len(data):
            raise PublicKeyError("bad DER length")
        length, offset = int.from_bytes(data[offset:offset + count], "big"), offset + count
    if offset + length > len(data):
        raise PublicKeyError("truncated DER element")
    return data[offset:offset + length], offset + length


def _rsa_public_key(der: bytes) -> RsaPublicKey:
    sequence, _ = _der(der, 0, 0x30)
    n_bytes, offset = _der(sequence, 0, 0x02)
    e_bytes, _ = _der(sequence, offset, 0x02)
    return RsaPublicKey(int.from_bytes(n_bytes, "big"), int.from_bytes(e_bytes, "big"))


def load_public_key(pem: str) -> RsaPublicKey:
    match = _PEM.search(pem)
    if not match:
        raise PublicKeyError("not a PEM public key")
    try:
        der = base64.b64decode("".join(match.group(2).split()), validate=True)
    except (binascii.Error, ValueError):
        raise PublicKeyError("PEM body is not base64") from None
    if match.group(1):  # PKCS#1 RSAPublicKey
        key = _rsa_public_key(der)
    else:               # SubjectPublicKeyInfo
        spki, _ = _der(der, 0, 0x30)
        algorithm, offset = _der(spki, 0, 0x30)
        oid, _ = _der(algorithm, 0, 0x06)
        if oid != RSA_ENCRYPTION_OID:
            raise PublicKeyError("the public key is not an RSA key")
        bit_string, _ = _der(spki, offset, 0x03)
        if not bit_string or bit_string[0] != 0:
            raise PublicKeyError("bad public key bit string")
        key = _rsa_public_key(bit_string[1:])
    if key.n.bit_length() < MIN_MODULUS_BITS or key.e < 3 or key.e % 2 == 0:
        raise PublicKeyError(f"RSA keys under {MIN_MODULUS_BITS} bits or with an unusual exponent are refused")
    return key


def verify_sha256(key: RsaPublicKey, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a PKCS#1 v1.5 SHA-256 signature of ``message`` under ``key``."""
    k = key.size
    if len(signature) != k:
        return False
    s = int.from_bytes(signature, "big")
    if s >= key.n:
        return False
    encoded = pow(s, key.e, key.n).to_bytes(k, "big")
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    padding = k - len(digest_info) - 3
    if padding < 8:
        return False
    expected = b"\x00\x01" + b"\xff" * padding + b"\x00" + digest_info
    return hmac.compare_digest(encoded, expected)
