"""What a source package gives the local stack (``ledgerlink.local``) so it can play the vendor.

A package's ``local.py`` exports ``LOCAL = LocalSource(...)``: how to sign a request the way the vendor does
(``ledgerlink local sign``, the demo, tests), a fresh secret in the form the vendor issues it, and — for sources
whose API LedgerLink calls — fresh API credentials in the shape of its Secrets Manager secret. Its optional
``fake_api.py`` exports ``FAKE_API``, a factory of the routes the local HTTP fake answers for the vendor's API
(``ledgerlink.local.fake_apis``). Nothing here is imported by a Lambda: RSA signing needs the dev dependency
``cryptography``.
"""

from __future__ import annotations

import base64
import json
import secrets as random_secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from ledgerlink.model.json import JsonValue


@dataclass(frozen=True)
class Signed:
    """A request as the vendor sends it: the body (some vendors sign inside it or stamp the send time into it),
    the headers, the URL suffix (a token in the endpoint URL) and the content type."""

    body: bytes
    headers: dict[str, str]
    url_suffix: str = ""
    content_type: str = "application/json"
    extra: dict[str, str] = field(default_factory=dict)


# (body, secret, unix send time, the URL it is posted to) → the signed request
type Signer = Callable[[bytes, str, int, str], Signed]


def whsec_secret() -> str:
    """The default local secret: ``whsec_`` and random URL-safe characters."""
    return "whsec_" + random_secrets.token_urlsafe(24)


def same_value(secret: str) -> str:
    return secret


@dataclass(frozen=True, slots=True)
class LocalSource:
    """``sign``: None for a source that receives no webhooks. ``new_credentials(token)``: the API secret's JSON,
    built around a fresh random token (None: LedgerLink calls no API of this vendor). ``verification_value``: what
    the receiver stores for a local secret (the same value, except for a key pair: its public half)."""

    sign: Signer | None = None
    new_secret: Callable[[], str] = whsec_secret
    new_credentials: Callable[[str], dict[str, str]] | None = None
    verification_value: Callable[[str], str] = same_value


def stamp(body: bytes, field_name: str, timestamp: int) -> bytes:
    """The body with its signed send time ``field_name`` set to ``timestamp`` (as the vendor stamps it when it sends),
    re-serialized; unchanged when the body has no such field."""
    payload = json.loads(body)
    if isinstance(payload, dict) and field_name in payload:
        payload[field_name] = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")
        return json.dumps(payload, indent=2).encode()
    return body


# ---- RSA key pairs for vendors that sign with a private key (dev dependency `cryptography`) -------------------

def new_rsa_private_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def rsa_sign(private_pem: str, body: bytes) -> str:
    """Base64 of the PKCS#1 v1.5 SHA-256 signature of ``body``."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("not an RSA private key")
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def public_pem(private_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


# ---- the fake vendor APIs ----------------------------------------------------------------------------------

# status, body (bytes and str are sent as they are, anything else as JSON), content type
type Reply = tuple[int, bytes | str | JsonValue, str]
JSON_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class FakeRequest:
    method: str
    raw_path: str                 # with the query string
    path: str
    segments: tuple[str, ...]     # the path's non-empty segments
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str:
        """A header's value whatever its case, or ``""``."""
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), "")


class FakeHost(Protocol):
    """What the local HTTP fake (``ledgerlink.local.fake_apis.FakeSourceApis``) offers each vendor's routes."""

    fixtures: Path
    lock: threading.Lock

    def credentials_of(self, kind: str) -> Mapping[str, str]:
        """The API credentials the kind's source was given (empty when none)."""
        ...

    def issue_token(self, kind: str) -> dict[str, JsonValue]:
        """A fresh OAuth bearer token for ``kind`` (the token endpoint's JSON answer)."""
        ...

    def has_token(self, request: FakeRequest, kind: str) -> bool:
        """Whether the request's bearer token is one issued to ``kind``."""
        ...

    def basic_auth_is(self, request: FakeRequest, user: str | None, password: str | None) -> bool: ...

    def fixture(self, *parts: str) -> Reply:
        """The fixture file ``<fixtures>/<parts...>`` (404 when absent or when a part is not a plain name)."""
        ...


class FakeVendor(Protocol):
    """One vendor's fake API: ``route`` answers the requests it knows, None for any other.
    ``exposed``: attributes the fake shows as ``<kind>_<name>`` on ``FakeSourceApis`` (tests edit them)."""

    exposed: tuple[str, ...]

    def route(self, host: FakeHost, request: FakeRequest) -> Reply | None: ...


# what a package's fake_api.py exports as FAKE_API: the fixtures folder → a fresh fake of the vendor
type FakeVendorFactory = Callable[[Path], FakeVendor]
