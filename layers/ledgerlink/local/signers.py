"""Sign a sample the way its provider does, with the local secret (demo, ``ledgerlink local sign``, tests).

Each source package says how, in its ``local.py`` (``ledgerlink.connectors.sources.local_stack.LocalSource``):
the body to send (a provider may sign inside the body, or stamp the signed send time into it, replaced here by
the send time as the provider stamps it when it sends), the headers and the URL suffix (a token in the endpoint
URL). A provider may sign the URL too: pass ``url``.
"""

from __future__ import annotations

from ledgerlink.clock import epoch
from ledgerlink.connectors.sources import SOURCES, package_module
from ledgerlink.connectors.sources.local_stack import (
    LocalSource,
    Signed,
    new_rsa_private_key,
    public_pem,
    rsa_sign,
)

__all__ = ["Signed", "local_source", "new_rsa_private_key", "public_pem", "rsa_sign", "sign", "verification_value"]


def local_source(kind: str) -> LocalSource | None:
    """The kind's ``LOCAL`` (its package's ``local.py``), or None for an unknown kind or one without it."""
    if kind not in SOURCES:
        return None
    module = package_module(kind, "local")
    local = getattr(module, "LOCAL", None)
    return local if isinstance(local, LocalSource) else None


def sign(kind: str, body: bytes, secret: str, *, now: int | None = None, url: str = "") -> Signed:
    timestamp = int(epoch()) if now is None else now
    local = local_source(kind)
    if local is None or local.sign is None:
        raise KeyError(f"no local signer for source kind {kind!r}")
    return local.sign(body, secret, timestamp, url)


def verification_value(kind: str, secret: str) -> str:
    """What the *receiver* stores for a local secret: the same value, except a private key standing in for the
    provider's key pair, whose public half is what LedgerLink verifies with."""
    local = local_source(kind)
    return secret if local is None else local.verification_value(secret)
