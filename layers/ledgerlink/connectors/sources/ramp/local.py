"""Ramp for the local stack: the signed ``created_at`` is the send time; OAuth client credentials."""

from __future__ import annotations

import secrets as random_secrets

from ledgerlink.connectors.sources.local_stack import LocalSource, Signed, stamp
from ledgerlink.connectors.sources.ramp.webhook import signature_header


def _sign(body: bytes, secret: str, timestamp: int, url: str) -> Signed:
    stamped = stamp(body, "created_at", timestamp)
    return Signed(stamped, signature_header(stamped, secret))


LOCAL = LocalSource(sign=_sign, new_secret=lambda: random_secrets.token_urlsafe(32),   # the subscription secret
                    new_credentials=lambda token: {"client_id": "ramp_id_" + token[:12],
                                                   "client_secret": "ramp_sec_" + token})
