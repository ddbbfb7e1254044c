"""Paddle for the local stack: ``Paddle-Signature`` with the send time; a ``pdl_ntfset_`` secret key."""

from __future__ import annotations

import secrets as random_secrets

from ledgerlink.connectors.sources.local_stack import LocalSource, Signed
from ledgerlink.connectors.sources.paddle.webhook import signature_header


def _sign(body: bytes, secret: str, timestamp: int, url: str) -> Signed:
    return Signed(body, signature_header(body, secret, timestamp))


LOCAL = LocalSource(sign=_sign, new_secret=lambda: "pdl_ntfset_" + random_secrets.token_urlsafe(24))
