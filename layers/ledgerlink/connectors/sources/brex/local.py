"""Brex for the local stack: Standard Webhooks headers; a ``whsec_`` + base64 key, as Brex issues it."""

from __future__ import annotations

import base64
import hashlib
import secrets as random_secrets

from ledgerlink.connectors.sources.brex.webhook import signature_headers
from ledgerlink.connectors.sources.local_stack import LocalSource, Signed


def _sign(body: bytes, secret: str, timestamp: int, url: str) -> Signed:
    # one message id per payload, as Brex keeps the id of an event across its retries
    msg_id = "msg_" + hashlib.sha256(body).hexdigest()[:24]
    return Signed(body, signature_headers(body, secret, msg_id, timestamp))


def _secret() -> str:
    """Standard Webhooks: ``whsec_`` + base64 of the key bytes."""
    return "whsec_" + base64.b64encode(random_secrets.token_bytes(24)).decode()


LOCAL = LocalSource(sign=_sign, new_secret=_secret)
