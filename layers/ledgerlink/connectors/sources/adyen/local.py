"""Adyen for the local stack: the HMAC goes inside each notification item; keys are 64 hex characters; the report
user's basic-auth credentials."""

from __future__ import annotations

import json
import secrets as random_secrets

from ledgerlink.connectors.sources.adyen.webhook import sign
from ledgerlink.connectors.sources.local_stack import LocalSource, Signed


def _sign(body: bytes, secret: str, timestamp: int, url: str) -> Signed:
    payload = json.loads(body)
    for wrapper in payload.get("notificationItems", []):
        item = wrapper["NotificationRequestItem"]
        item.setdefault("additionalData", {})["hmacSignature"] = sign(item, secret)
    return Signed(json.dumps(payload, indent=2).encode(), {})


LOCAL = LocalSource(sign=_sign, new_secret=lambda: random_secrets.token_hex(32).upper(),
                    new_credentials=lambda token: {"username": "report_ledgerlink@Company.LedgerLinkDemo",
                                                   "password": token})
