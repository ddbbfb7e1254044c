"""HubSpot for the local stack: signature v3 covers the URL (millisecond timestamps); the app's client secret is a
UUID; a private-app access token."""

from __future__ import annotations

import uuid

from ledgerlink.connectors.sources.hubspot.webhook import signature_headers
from ledgerlink.connectors.sources.local_stack import LocalSource, Signed


def _sign(body: bytes, secret: str, timestamp: int, url: str) -> Signed:
    return Signed(body, signature_headers(secret, "POST", url, body, timestamp * 1000))


LOCAL = LocalSource(sign=_sign, new_secret=lambda: str(uuid.uuid4()),
                    new_credentials=lambda token: {"access_token": "pat-na1-" + token})
