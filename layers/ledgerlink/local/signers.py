"""Sign a sample the way each provider does, with the local secret (demo, ``ledgerlink local sign``, tests).

Returns the body to send (Adyen signs inside the body; Ramp and SAP Concur put the signed event time in the body,
so the sample's is replaced by the send time, as the provider stamps it when it sends), the headers and the URL
suffix (Salesforce authenticates by a token in the endpoint URL). HubSpot signs the URL too: pass ``url``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ledgerlink.clock import epoch


@dataclass(frozen=True)
class Signed:
    body: bytes
    headers: dict[str, str]
    url_suffix: str = ""
    content_type: str = "application/json"
    extra: dict[str, str] = field(default_factory=dict)


def sign(kind: str, body: bytes, secret: str, *, now: int | None = None, url: str = "") -> Signed:
    timestamp = int(epoch()) if now is None else now
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
    if kind == "ramp":
        from ledgerlink.connectors.sources.ramp.webhook import signature_header as ramp_header

        stamped = _stamp(body, "created_at", timestamp)
        return Signed(stamped, ramp_header(stamped, secret))
    if kind == "hubspot":
        from ledgerlink.connectors.sources.hubspot.webhook import signature_headers as hubspot_headers

        return Signed(body, hubspot_headers(secret, "POST", url, body, timestamp * 1000))
    if kind == "concur":
        stamped = _stamp(body, "timeStamp", timestamp)
        return Signed(stamped, {"Concur-Signature": rsa_sign(secret, stamped)})
    raise KeyError(f"no local signer for source kind {kind!r}")


def _stamp(body: bytes, field_name: str, timestamp: int) -> bytes:
    payload = json.loads(body)
    if isinstance(payload, dict) and field_name in payload:
        payload[field_name] = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds").replace(
            "+00:00", "Z")
        return json.dumps(payload, indent=2).encode()
    return body


# ---- RSA for the SAP Concur stand-in key (dev dependency `cryptography`; never in the Lambda layer) ----------

def new_rsa_private_key() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def rsa_sign(private_pem: str, body: bytes) -> str:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()  # type: ignore[union-attr]


def public_pem(private_pem: str) -> str:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def verification_value(kind: str, secret: str) -> str:
    """What the *receiver* stores for a local secret: the same value, except an RSA private key (SAP Concur's
    stand-in) whose public half is what LedgerLink verifies with."""
    return public_pem(secret) if kind == "concur" and "PRIVATE KEY" in secret else secret
