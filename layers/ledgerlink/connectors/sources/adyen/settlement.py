"""Adyen Settlement details report (CSV) → one settlement summary per (merchant account, batch, net currency).

Columns are read by header name (Adyen lets accounts add and reorder columns): ``Merchant Account``, ``Type``,
``Creation Date``, ``Gross Currency``, ``Gross Debit (GC)``, ``Gross Credit (GC)``, ``Net Currency``,
``Net Debit (NC)``, ``Net Credit (NC)``, ``Commission (NC)``, ``Markup (NC)``, ``Scheme Fees (NC)``,
``Interchange (NC)``, ``Batch Number``. Amounts are decimal strings in major units.

For a row with gross amounts (Settled, Refunded, Chargeback, ...): net = gross − costs for credits and
gross + costs for debits, the costs being commission + markup + scheme fees + interchange. Rows without gross
amounts (Fee, MiscCosts, InvoiceDeduction, DepositCorrection ...) move the balance by their net alone, and
``MerchantPayout`` is the amount paid to the bank. A batch nets to zero: Σ(net credit − net debit) of every other
row equals the payout — otherwise the report is an ``amounts_inconsistent`` exception. Hence

    payout + transaction costs + other costs = Σ gross (what the notifications cleared through cash_clearing).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ledgerlink.errors import NormalizationError
from ledgerlink.model.money import CurrencyError, Money

REQUIRED = ("Merchant Account", "Type", "Creation Date", "Gross Currency", "Gross Debit (GC)", "Gross Credit (GC)",
            "Net Currency", "Net Debit (NC)", "Net Credit (NC)", "Batch Number")
COST_COLUMNS = ("Commission (NC)", "Markup (NC)", "Scheme Fees (NC)", "Interchange (NC)")
PAYOUT_TYPES = frozenset({"MerchantPayout"})


@dataclass
class SettlementBatch:
    merchant_account: str
    batch_number: str
    currency: str
    payout: Decimal = Decimal(0)
    transaction_costs: Decimal = Decimal(0)
    other_costs: Decimal = Decimal(0)
    gross: Decimal = Decimal(0)
    net_movement: Decimal = Decimal(0)
    payout_created: str | None = None
    rows: int = 0
    types: dict[str, int] = field(default_factory=dict)


def _decimal(raw: str | None, currency: str, *, row: int, column: str) -> Decimal:
    text = (raw or "").strip()
    if not text:
        return Decimal(0)
    try:
        amount = Money.of(Decimal(text), currency)
        amount.to_minor()  # more decimals than the currency has: refuse, never round
    except (InvalidOperation, ValueError, CurrencyError) as exc:
        raise NormalizationError(f"settlement report row {row}, {column}: {text!r} is not an amount in {currency}: "
                                 f"{exc}", reason="invalid_amount", row=row, column=column) from None
    return amount.amount


def _cell(row: dict[str, str | None], column: str) -> str:
    return (row.get(column) or "").strip()


def _gross_row(row: dict[str, str | None], number: int, net_currency: str, net: Decimal,
               batch: SettlementBatch) -> None:
    """A row with gross amounts (Settled, Refunded, Chargeback ...): its gross less its costs is its net."""
    gross_currency = _cell(row, "Gross Currency").upper()
    if gross_currency != net_currency:
        raise NormalizationError(
            f"settlement report row {number} settles {gross_currency} in {net_currency}: currency conversion "
            "at settlement is not supported yet (FX comes with the posting engine)",
            reason="fx_settlement_unsupported", row=number)
    gross = (_decimal(row.get("Gross Credit (GC)"), gross_currency, row=number, column="Gross Credit (GC)")
             - _decimal(row.get("Gross Debit (GC)"), gross_currency, row=number, column="Gross Debit (GC)"))
    costs = sum((_decimal(row.get(column), net_currency, row=number, column=column)
                 for column in COST_COLUMNS), Decimal(0))
    batch.gross += gross
    batch.transaction_costs += costs
    if gross - costs != net:
        raise NormalizationError(
            f"settlement report row {number}: gross {gross} − costs {costs} ≠ net {net} {net_currency}",
            reason="amounts_inconsistent", row=number)


def _add_row(row: dict[str, str | None], number: int, kind: str, net_currency: str,
             batches: dict[tuple[str, str, str], SettlementBatch]) -> None:
    key = (_cell(row, "Merchant Account"), _cell(row, "Batch Number"), net_currency)
    batch = batches.setdefault(key, SettlementBatch(*key))
    batch.rows += 1
    batch.types[kind] = batch.types.get(kind, 0) + 1
    net = (_decimal(row.get("Net Credit (NC)"), net_currency, row=number, column="Net Credit (NC)")
           - _decimal(row.get("Net Debit (NC)"), net_currency, row=number, column="Net Debit (NC)"))
    if kind in PAYOUT_TYPES:
        batch.payout -= net
        batch.payout_created = _cell(row, "Creation Date") or batch.payout_created
        return
    batch.net_movement += net
    if _cell(row, "Gross Debit (GC)") or _cell(row, "Gross Credit (GC)"):
        _gross_row(row, number, net_currency, net, batch)
    else:
        batch.other_costs -= net


def _check_balanced(batch: SettlementBatch) -> None:
    if batch.net_movement != batch.payout:
        raise NormalizationError(
            f"settlement batch {batch.batch_number} ({batch.merchant_account}, {batch.currency}) does not net to "
            f"its payout: movements {batch.net_movement}, payout {batch.payout}", reason="amounts_inconsistent",
            batch=batch.batch_number)


def parse_report(text: str) -> list[SettlementBatch]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
    if missing:
        raise NormalizationError(f"not a settlement details report: missing columns {missing}",
                                 reason="malformed_report")
    batches: dict[tuple[str, str, str], SettlementBatch] = {}
    for number, row in enumerate(reader, start=2):
        kind = _cell(row, "Type")
        net_currency = _cell(row, "Net Currency").upper()
        if not kind and not net_currency:
            continue  # trailing blank lines
        if not net_currency:
            raise NormalizationError(f"settlement report row {number} has no Net Currency", reason="malformed_report")
        _add_row(row, number, kind, net_currency, batches)
    result = list(batches.values())
    for batch in result:
        _check_balanced(batch)
    return result
