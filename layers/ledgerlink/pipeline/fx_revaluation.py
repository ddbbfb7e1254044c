"""Period-end revaluation of open foreign-currency balances (issue 17, D90): pure arithmetic, no I/O.

An entity that converts to its base currency (``foreign_currency: convert_to_base``) carries each foreign
receivable, customer credit, payable and tax balance at the rates its documents were booked at; every converted
journal line keeps its ``original_amount``. At a period's end each such balance — per (account, original currency)
— is restated at the closing rate (ASC 830-20-35 / IAS 21.23: monetary items at the closing rate, the exchange
difference in profit or loss, IAS 21.28): one journal dated the period's last day moves each account by
``round(original × closing rate) − carried`` against ``fx_unrealized``, and its mirror dated the first day of the
next period reverses it, so the next period's settlements relieve the balances at their booked rates (D90).

Figures: 181.60 EUR open, carried at 196.80 USD (booked at 1.0837), closing rate 1.0950 → 181.60 × 1.0950 =
198.852 → 198.85: Dr receivable 2.05 · Cr fx_unrealized 2.05 on the last day, the mirror on the 1st.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal

from ledgerlink.model.documents import JournalEntry, JournalLine, SourceRef
from ledgerlink.model.money import Money

SYSTEM = "ledgerlink"
REVALUATION_SOURCE = "fx_revaluation"      # the ledger / control-totals source of revaluation journals
REVALUATION, REVERSAL = "fx_revaluation", "fx_revaluation_reversal"   # their object types
UNREALIZED_ROLE = "fx_unrealized"
# monetary balances a document leaves open in a foreign currency: what customers owe or are owed, what vendors
# are owed, the tax owed to authorities
REVALUED_ROLES = ("receivable", "customer_credit", "accounts_payable", "tax")


@dataclass(frozen=True, slots=True)
class OpenBalance:
    account: str
    role: str
    currency: str              # the original (foreign) currency
    original: Decimal          # Σ original amounts
    carried: Decimal           # Σ base amounts booked for them

    def revalued(self, rate: Decimal, base: str) -> Money:
        """The base amount the balance is worth at ``rate`` (rounded half-even to the base currency)."""
        return Money(amount=self.original * rate, currency=base).quantized()


def open_balances(journals: Iterable[JournalEntry], *, entity_id: str, base: str, through: date) -> list[OpenBalance]:
    """Foreign-currency balances of the revalued roles, per (account, role, original currency), from the posted
    journals of the entity dated through ``through``; revaluation journals are left out (each is reversed the
    next day, so earlier pairs net to zero and the period's own, if any, is what is being computed)."""
    originals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    carried: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for journal in journals:
        if (journal.entity_id != entity_id or journal.accounting_date > through
                or journal.source.object_type in (REVALUATION, REVERSAL)):
            continue
        for line in journal.lines:
            original = line.original_amount
            if (line.role in REVALUED_ROLES and original is not None and original.currency != base
                    and line.amount.currency == base):
                key = (line.account, line.role, original.currency)
                originals[key] += original.amount
                carried[key] += line.amount.amount
    return [OpenBalance(account, role, currency, originals[key], carried[key])
            for key in sorted(originals) for account, role, currency in [key]
            if originals[key] or carried[key]]


def revaluation_source(entity_id: str, period: str, object_type: str = REVALUATION) -> SourceRef:
    """Deterministic ids from entity and period: a second run finds the first one's journals."""
    return SourceRef(system=SYSTEM, object_type=object_type, object_id=f"{entity_id}|{period}",
                     source_id=REVALUATION_SOURCE)


def revaluation_journal(entity_id: str, period: str, last_day: date, base: str, balances: Iterable[OpenBalance],
                        rates: dict[str, Decimal], unrealized: tuple[str, str], *,
                        config_version: int | None = None) -> JournalEntry | None:
    """Dr/Cr each balance's account by its exchange difference · the opposite on ``fx_unrealized``; None when no
    balance moves. ``rates``: original currency → closing rate (1 foreign = rate base)."""
    lines: list[JournalLine] = []
    for balance in balances:
        difference = balance.revalued(rates[balance.currency], base).amount - balance.carried
        if difference:
            lines.append(JournalLine(
                account=balance.account, amount=Money(amount=difference, currency=base), role=balance.role,
                memo=f"revaluation of {balance.original} {balance.currency} carried at {balance.carried} {base}, "
                     f"at {rates[balance.currency]}"))
    total = sum((line.amount.amount for line in lines), Decimal(0))
    if not lines:
        return None
    if total:
        role, account = unrealized
        lines.append(JournalLine(account=account, amount=Money(amount=-total, currency=base), role=role,
                                 memo=f"unrealized FX {period}"))
    source = revaluation_source(entity_id, period)
    return JournalEntry(
        document_id=source.document_id(), source=source, entity_id=entity_id, correlation_id=source.document_id(),
        occurred_at=datetime.combine(last_day, time(23, 59, 59), tzinfo=UTC), accounting_date=last_day,
        currency=base, memo=f"FX revaluation {period} at the closing rates "
                            + ", ".join(f"{currency}->{base} {rate}" for currency, rate in sorted(rates.items())),
        lines=tuple(lines), mapping_version=config_version)


def reversal_journal(revaluation: JournalEntry, period: str, first_day: date) -> JournalEntry:
    """The revaluation's mirror on the first day of the next period (ASC 830 / IAS 21 practice: the next period's
    settlements then relieve the balances at their booked rates)."""
    source = revaluation_source(revaluation.entity_id, period, REVERSAL)
    return JournalEntry(
        document_id=source.document_id(), source=source, entity_id=revaluation.entity_id,
        correlation_id=revaluation.correlation_id, occurred_at=datetime.combine(first_day, time(0), tzinfo=UTC),
        accounting_date=first_day, currency=revaluation.currency,
        memo=f"reversal of FX revaluation {period}", related_document_ids=(revaluation.document_id,),
        lines=tuple(line.model_copy(update={"amount": -line.amount}) for line in revaluation.lines),
        mapping_version=revaluation.mapping_version)
