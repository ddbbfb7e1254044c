"""Salesforce for the local stack: outbound messages carry no signature, the endpoint URL holds the token."""

from __future__ import annotations

import secrets as random_secrets
from urllib.parse import quote

from ledgerlink.connectors.sources.local_stack import LocalSource, Signed
from ledgerlink.connectors.sources.salesforce.webhook import TOKEN_PARAMETER


def _sign(body: bytes, secret: str, timestamp: int, url: str) -> Signed:
    return Signed(body, {"SOAPAction": '""'}, url_suffix=f"?{TOKEN_PARAMETER}={quote(secret, safe='')}",
                  content_type="text/xml; charset=utf-8")


LOCAL = LocalSource(sign=_sign, new_secret=lambda: random_secrets.token_urlsafe(24))
