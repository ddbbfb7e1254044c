"""The receivables subledger as the posting ledger stores it: an invoice item's claims and what is still open (D92).

An invoice's ledger item carries ``receivable_claims`` (claimant document id → signed amount) and
``receivable_version`` (bumped by every claim). These readers are what the ledger store needs to apply a claim
under optimistic concurrency; what claims, and how much, is the posting rule in ``pipeline/receivables.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

CLAIMS, VERSION = "receivable_claims", "receivable_version"


def _decimal(raw: object) -> Decimal | None:
    try:
        return Decimal(str(raw)) if raw is not None else None
    except (InvalidOperation, ValueError):
        return None


def claims_of(record: Mapping[str, object]) -> Mapping[str, object] | None:
    """The claims on an invoice's ledger item (claimant → amount), None when nothing claimed yet."""
    claims = record.get(CLAIMS)
    return claims if isinstance(claims, Mapping) else None


def claimed(record: Mapping[str, object], *, excluding: str | None = None) -> Decimal:
    """What the claims on an invoice's ledger item add up to (``excluding`` one claimant)."""
    claims = claims_of(record) or {}
    return sum((amount for key, raw in claims.items() if key != excluding
                if (amount := _decimal(raw)) is not None), Decimal(0))


def invoice_total(record: Mapping[str, object]) -> Decimal | None:
    """An invoice's total from its ledger item (what its receivable was booked at); None for anything else."""
    return _decimal(record.get("amount")) if record.get("document_type") == "invoice" else None


def open_amount(record: Mapping[str, object], *, excluding: str | None = None) -> Decimal | None:
    """What is still open on an invoice, from its ledger item; None when the item is not an invoice."""
    total = invoice_total(record)
    if total is None:
        return None
    return total - claimed(record, excluding=excluding)
