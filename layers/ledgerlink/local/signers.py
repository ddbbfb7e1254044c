"""Sign a sample the way each provider does, with the local secret (demo, ``ledgerlink local sign``, tests).

Returns the body to send (Adyen signs inside the body), the headers and the URL suffix (Salesforce
authenticates by a token in the endpoint URL).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Signed:
    body: bytes
    headers: dict[str, str]
    url_suffix: str = ""
    content_type: str = "application/json"
    extra: dict[str, str] = field(default_factory=dict)


def sign(kind: str, body: bytes, secret: str, *, now: int | None = None) -> Signed:
    timestamp = int(time.time()) if now is None else now
    if kind == "stripe":
        from ledgerlink.connectors.sources.stripe.webhook import signature_header

        return Signed(body, signature_header(body, secret, timestamp))
    if kind == "brex":
        from ledgerlink.connectors.sources.brex.webhook import signature_headers

        # one message id per payload, as Brex keeps the id of an event across its retries
        msg_id = "msg_" + hashlib.sha256(body).hexdigest()[:24]
        return Signed(body, signature_headers(body, secret, msg_id, timestamp))
    if kind == "adyen":
        from ledgerlink.connectors.sources.adyen.webhook import sign as adyen_sign

        payload = json.loads(body)
        for wrapper in payload.get("notificationItems", []):
            item = wrapper["NotificationRequestItem"]
            item.setdefault("additionalData", {})["hmacSignature"] = adyen_sign(item, secret)
        return Signed(json.dumps(payload, indent=2).encode(), {})
    if kind == "salesforce":
        from urllib.parse import quote

        return Signed(body, {"SOAPAction": '""'}, url_suffix=f"?token={quote(secret, safe='')}",
                      content_type="text/xml; charset=utf-8")
    raise KeyError(f"no local signer for source kind {kind!r}")
