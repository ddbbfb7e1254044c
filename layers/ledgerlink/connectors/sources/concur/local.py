"""SAP Concur for the local stack: a stand-in RSA key pair (we keep the private key to sign locally; Secrets Manager
gets the public key, as it holds Concur's published one); the signed ``timeStamp`` is the send time; a
company-level refresh token."""

from __future__ import annotations

import secrets as random_secrets

from ledgerlink.connectors.sources.local_stack import (
    LocalSource,
    Signed,
    new_rsa_private_key,
    public_pem,
    rsa_sign,
    stamp,
)


def _sign(body: bytes, secret: str, timestamp: int, url: str) -> Signed:
    stamped = stamp(body, "timeStamp", timestamp)
    return Signed(stamped, {"Concur-Signature": rsa_sign(secret, stamped)})


def _verification_value(secret: str) -> str:
    return public_pem(secret) if "PRIVATE KEY" in secret else secret


def _credentials(token: str) -> dict[str, str]:
    return {"client_id": "concur-app-" + token[:8], "client_secret": token,
            "refresh_token": "refresh-" + random_secrets.token_urlsafe(12)}


LOCAL = LocalSource(sign=_sign, new_secret=new_rsa_private_key, new_credentials=_credentials,
                    verification_value=_verification_value)
