"""What a Stripe payout settled, from its balance transactions (D83): fees per fee type, and the movements no
Stripe event LedgerLink posts (adjustments), checked against the payout amount.

Each balance transaction has ``amount`` (gross), ``fee`` (with ``fee_details[].type``: ``stripe_fee``,
``application_fee``, ``tax``, ``payment_method_passthrough_fee``), ``net`` = amount − fee, and a
``reporting_category`` (Stripe's "Reporting categories": ``charge``, ``refund``, ``dispute``,
``dispute_reversal``, ``payout``, ``fee``, ``other_adjustment``, ...). How each reaches the deposit journal:

- charges and refunds: their event booked the gross to ``cash_clearing``; the deposit books the fees Stripe kept
  (recognized at the payout, D83) and relieves clearing of the gross;
- disputes and their reversals: the dispute event already booked the dispute fee (from the dispute's own
  balance transactions), so clearing holds the net: relieved of the net, no fee booked twice;
- the payout's own transaction (``type: payout``) is the payout: its fee (instant payouts) is ``fees.payout``;
- anything else (Stripe billing fees, manual adjustments, top-ups, transfers ...) was never booked: its net goes
  to ``adjustments.<reporting category>``, which the mapping must name (else a ``mapping_missing`` case).

The payout must equal the sum of the nets it settled, and every transaction is in the payout's currency. A charge
or refund booked in another currency (``exchange_rate`` set; the list is read with ``expand[]=data.source``, so its
charge or refund object gives the amount as booked) is a conversion: it leaves clearing in its own currency and
``fx_realized`` (a currency trading account) takes its settled value. A converted dispute, or a converted item whose
source object is missing, is a case (``settlement_currency_differs``), never a guess.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from ledgerlink.connectors.sources.reading import get, items, obj, objects
from ledgerlink.errors import NormalizationError
from ledgerlink.model.documents import Adjustment, Fee, SettlementConversion
from ledgerlink.model.json import JsonArray, JsonObject, JsonValue
from ledgerlink.model.money import Money

# fee_details[].type → the fee's mapping role suffix (fees.<kind>)
FEE_KINDS = {"stripe_fee": "processing", "application_fee": "application", "tax": "tax_on_fees",
             "payment_method_passthrough_fee": "passthrough"}
FEE_DESCRIPTIONS = {"processing": "Stripe processing fees", "application": "Connect application fees",
                    "tax_on_fees": "tax on Stripe fees", "passthrough": "payment method pass-through fees",
                    "payout": "Stripe payout fee"}
GROSS_CATEGORIES = frozenset({"charge", "refund", "partial_capture_reversal", "refund_failure"})
NET_CATEGORIES = frozenset({"dispute", "dispute_reversal"})   # their fees were booked by the dispute event


@dataclass
class Settlement:
    fees: list[Fee] = field(default_factory=list)
    adjustments: list[Adjustment] = field(default_factory=list)
    conversions: list[SettlementConversion] = field(default_factory=list)
    count: int = 0
    sources: list[str] = field(default_factory=list)   # ch_/re_/du_ ids cleared from cash_clearing


def _int(txn: JsonObject, key: str, where: str) -> int:
    value = txn.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise NormalizationError(f"{where}.{key} is not an integer amount", reason="invalid_amount",
                                 field=f"{where}.{key}")
    return value


def _category(txn: JsonObject) -> str:
    category = txn.get("reporting_category")
    if isinstance(category, str) and category:
        return category
    kind = txn.get("type")   # older objects without a reporting category: the type says it
    return {"payment": "charge", "payment_refund": "refund", "adjustment": "other_adjustment"}.get(
        str(kind), str(kind or "other_adjustment"))


def _conversion(payout_id: str, txn: JsonObject, category: str, gross: int, currency: str,
                money: Callable[[int, str], Money]) -> SettlementConversion:
    """A charge or refund booked in its own currency and settled in the payout's: its booked amount comes from the
    expanded source object (Stripe's balance transaction holds only the settled amount and the rate)."""
    source = txn.get("source")
    booked, booked_currency = get(source, "amount"), get(source, "currency")
    if category not in GROSS_CATEGORIES or not isinstance(booked, int) or not isinstance(booked_currency, str):
        raise NormalizationError(
            f"payout {payout_id} settles {txn.get('id')} ({category}) booked in another currency and its booked "
            "amount is not known (expected an expanded charge or refund)", reason="settlement_currency_differs",
            balance_transaction=str(txn.get("id")))
    sign = -1 if gross < 0 else 1
    original = money(sign * abs(booked), booked_currency)
    rate = txn.get("exchange_rate")
    return SettlementConversion(original=original, settled=money(gross, currency), reference=str(txn.get("id")),
                                rate=Decimal(str(rate)) if isinstance(rate, int | float | str) else None)


@dataclass
class _Totals:
    """What a payout's transactions add up to, per fee kind and per adjustment category, while they are read."""

    fees: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    adjustments: dict[str, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))
    settled_net: int = 0


def _checked(payout_id: str, currency: str, txn: JsonValue, where: str) -> tuple[JsonObject, int, int, int]:
    """The transaction, its gross, fee and net: in the payout's currency and adding up (gross − fee = net)."""
    found = obj(txn)
    if str(found.get("currency", "")).lower() != currency.lower():
        raise NormalizationError(f"payout {payout_id} in {currency} lists {found.get('id')} in "
                                 f"{found.get('currency')}", reason="settlement_currency_differs",
                                 balance_transaction=str(found.get("id")))
    gross, fee, net = _int(found, "amount", where), _int(found, "fee", where), _int(found, "net", where)
    if gross - fee != net:
        raise NormalizationError(f"{where}: amount {gross} − fee {fee} ≠ net {net}", reason="amounts_inconsistent")
    return found, gross, fee, net


def _gross_fees(txn: JsonObject, fee: int, where: str, totals: _Totals) -> None:
    """A charge's or refund's fees per fee type (``fee_details``), which must add up to its fee."""
    details = objects(items(txn, "fee_details", where))
    for detail in details:
        totals.fees[FEE_KINDS.get(str(detail.get("type")), "other")] += _int(detail, "amount", f"{where}.fee_details")
    if sum(_int(detail, "amount", where) for detail in details) != fee:
        raise NormalizationError(f"{where}: fee_details do not add up to the fee {fee}",
                                 reason="amounts_inconsistent")


def _settle_one(payout_id: str, currency: str, txn: JsonObject, amounts: tuple[int, int, int], where: str,
                money: Callable[[int, str], Money], totals: _Totals, result: Settlement) -> None:
    gross, fee, net = amounts
    category = _category(txn)
    if txn.get("type") == "payout":
        if txn.get("source") not in (None, payout_id):
            raise NormalizationError(f"{where} is another payout ({txn.get('source')})", reason="amounts_inconsistent")
        totals.fees["payout"] += fee
        return
    result.count += 1
    totals.settled_net += net
    if txn.get("exchange_rate") not in (None, 1):
        result.conversions.append(_conversion(payout_id, txn, category, gross, currency, money))
    if category in GROSS_CATEGORIES:
        _gross_fees(txn, fee, where, totals)
    elif category not in NET_CATEGORIES:
        totals.adjustments[category][0] += net
        totals.adjustments[category][1] += 1
        return
    source = txn.get("source")
    source_id = source.get("id") if isinstance(source, dict) else source
    if isinstance(source_id, str):
        result.sources.append(source_id)


def settle(payout_id: str, currency: str, amount_minor: int, transactions: JsonArray,
           money: Callable[[int, str], Money]) -> Settlement:
    """Fees and adjustments of a payout from its balance transactions; raises ``amounts_inconsistent`` /
    ``settlement_currency_differs`` when they do not add up to it."""
    totals = _Totals()
    result = Settlement()
    for position, raw in enumerate(transactions):
        where = f"balance_transactions[{position}]"
        txn, gross, fee, net = _checked(payout_id, currency, raw, where)
        _settle_one(payout_id, currency, txn, (gross, fee, net), where, money, totals, result)
    if totals.settled_net != amount_minor:
        raise NormalizationError(f"payout {payout_id} of {amount_minor} settles balance transactions netting "
                                 f"{totals.settled_net}", reason="amounts_inconsistent", payout=payout_id)
    result.fees = [Fee(kind=kind, amount=money(total, currency), description=FEE_DESCRIPTIONS.get(kind, "Stripe fees"))
                   for kind, total in sorted(totals.fees.items()) if total]
    result.adjustments = [Adjustment(kind=kind, amount=money(total, currency), count=count)
                          for kind, (total, count) in sorted(totals.adjustments.items()) if total]
    # in the provider's order the document would differ between two listings of the same payout
    result.conversions.sort(key=lambda conversion: conversion.reference or "")
    return result
