"""Verify a Cognito ID token (a JWT signed RS256) without a crypto library: the signature check is RSA public-key
arithmetic (``pow``) and a byte-for-byte comparison with the PKCS #1 v1.5 encoding of the SHA-256 digest (RFC 8017
§8.2.2: re-encode and compare, never parse the decrypted block). Then the claims: issuer, audience, ``token_use``
and expiry against ``ledgerlink.clock``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass

from ledgerlink.clock import epoch

# DER of DigestInfo{sha256, NULL} before the 32 digest bytes (RFC 8017 §9.2, note 1)
_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")
CLOCK_SKEW_SECONDS = 60


class TokenInvalid(Exception):
    """A token that does not authenticate anybody; ``reason`` is machine-readable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RsaKey:
    kid: str
    n: int
    e: int

    @classmethod
    def from_jwk(cls, jwk: Mapping[str, object]) -> RsaKey:
        if jwk.get("kty") != "RSA":
            raise TokenInvalid("bad_key", "the key set holds a key that is not RSA")
        return cls(kid=str(jwk.get("kid", "")), n=_int(jwk.get("n")), e=_int(jwk.get("e")))


def keys_from_jwks(document: object) -> dict[str, RsaKey]:
    if not isinstance(document, Mapping) or not isinstance(document.get("keys"), list):
        raise TokenInvalid("bad_key_set", "the key set is not a JWKS document")
    keys = [RsaKey.from_jwk(key) for key in document["keys"] if isinstance(key, Mapping) and key.get("kty") == "RSA"]
    return {key.kid: key for key in keys}


def b64url(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise TokenInvalid("malformed", "a token part is not base64url") from None


def _int(value: object) -> int:
    if not isinstance(value, str) or not value:
        raise TokenInvalid("bad_key", "an RSA key lacks n or e")
    return int.from_bytes(b64url(value), "big")


def header_of(token: str) -> dict[str, object]:
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenInvalid("malformed", "a JWT has three parts")
    return _json(parts[0])


def _json(part: str) -> dict[str, object]:
    try:
        value = json.loads(b64url(part))
    except ValueError:
        raise TokenInvalid("malformed", "a token part is not JSON") from None
    if not isinstance(value, dict):
        raise TokenInvalid("malformed", "a token part is not a JSON object")
    return value


def verify_signature(token: str, key: RsaKey) -> None:
    head, body, signature = token.split(".")
    sig = b64url(signature)
    size = (key.n.bit_length() + 7) // 8
    if len(sig) != size or size < 256:   # RS256 with at least a 2048-bit key
        raise TokenInvalid("bad_signature", "the signature does not have the key's length")
    digest = hashlib.sha256(f"{head}.{body}".encode("ascii")).digest()
    padding = size - 3 - len(_SHA256_PREFIX) - len(digest)
    expected = b"\x00\x01" + b"\xff" * padding + b"\x00" + _SHA256_PREFIX + digest
    decoded = pow(int.from_bytes(sig, "big"), key.e, key.n).to_bytes(size, "big")
    if not hmac.compare_digest(decoded, expected):
        raise TokenInvalid("bad_signature", "the signature does not verify")


def verify(token: str, keys: Mapping[str, RsaKey], *, issuer: str, audience: str) -> dict[str, object]:
    """The claims of a valid ID token for ``audience`` issued by ``issuer``; else ``TokenInvalid``."""
    header = header_of(token)
    if header.get("alg") != "RS256":
        raise TokenInvalid("bad_algorithm", "only RS256 tokens are accepted")
    key = keys.get(str(header.get("kid", "")))
    if key is None:
        raise TokenInvalid("unknown_key", "the token names a key the user pool does not publish")
    verify_signature(token, key)
    claims = _json(token.split(".")[1])
    if claims.get("iss") != issuer:
        raise TokenInvalid("wrong_issuer", "the token was issued by another user pool")
    if claims.get("aud") != audience:
        raise TokenInvalid("wrong_audience", "the token was issued to another client")
    if claims.get("token_use") != "id":
        raise TokenInvalid("wrong_token_use", "an ID token is required")
    expires = claims.get("exp")
    if not isinstance(expires, int) or expires + CLOCK_SKEW_SECONDS < epoch():
        raise TokenInvalid("expired", "the session has expired: sign in again")
    return claims
