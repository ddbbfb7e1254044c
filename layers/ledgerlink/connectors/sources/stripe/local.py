"""Stripe for the local stack: ``Stripe-Signature`` over the body; a ``whsec_`` secret; a restricted API key."""

from __future__ import annotations

from ledgerlink.connectors.sources.local_stack import LocalSource, Signed
from ledgerlink.connectors.sources.stripe.webhook import signature_header


def _sign(body: bytes, secret: str, timestamp: int, url: str) -> Signed:
    return Signed(body, signature_header(body, secret, timestamp))


LOCAL = LocalSource(sign=_sign, new_credentials=lambda token: {"api_key": "rk_test_" + token})
