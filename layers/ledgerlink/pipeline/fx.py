"""Multi-currency: convert a journal to the entity's base currency, keep the rate and its source, and send the
rounding difference to the ``fx_rounding`` account so the converted journal balances to the minor unit.

Only for entities with ``foreign_currency: convert_to_base`` (the default posts documents in their own
currency, D13). The rate is the document's own (``fx``, e.g. a payment processor's settlement rate) when it
converts into the base currency, else the latest configured ``fx_rates`` entry valid on the accounting date;
without either the document is an exception (``fx_rate_missing``), never posted at a guessed rate.
Each line is converted and rounded half-even on its own; the lines' rounding errors net to at most half a
minor unit per line, and that difference is one extra line on the rounding account.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.errors import DocumentRejected
from ledgerlink.model.documents import FxConversion, JournalEntry, JournalLine, imbalances
from ledgerlink.model.money import Money, currency_exponent

ROUNDING_ROLE = "fx_rounding"


def rate_for(journal: JournalEntry, config: LedgerLinkConfig, from_currency: str, to_currency: str) -> FxConversion:
    own = journal.fx
    if own is not None and own.from_currency == from_currency and own.to_currency == to_currency:
        return own
    configured = config.fx_rate(from_currency, to_currency, journal.accounting_date)
    if configured is None:
        raise DocumentRejected(
            f"no {from_currency}->{to_currency} rate for {journal.accounting_date}", reason="fx_rate_missing",
            currency=from_currency, base_currency=to_currency, accounting_date=journal.accounting_date.isoformat(),
            suggested_fix=f"add an fx_rates entry {from_currency}->{to_currency} valid on "
                          f"{journal.accounting_date} (with its source) and apply the configuration, then retry")
    return FxConversion(from_currency=from_currency, to_currency=to_currency, rate=configured.rate,
                        source=f"config: {configured.source}", rate_date=configured.valid_from)


def convert_to_base(journal: JournalEntry, config: LedgerLinkConfig,
                    rounding_account: Callable[[], tuple[str, str]]) -> JournalEntry:
    """``rounding_account()`` → (role, account) of the entity's ``fx_rounding`` mapping (raises mapping_missing)."""
    entity = config.entity(journal.entity_id)
    base = entity.base_currency
    foreign = sorted({line.amount.currency for line in journal.lines} - {base})
    if entity.foreign_currency != "convert_to_base" or not foreign:
        return journal
    if len(foreign) > 1:
        raise DocumentRejected(f"journal {journal.document_id} mixes {foreign}; convert one currency at a time",
                               reason="fx_multiple_currencies")
    currency = foreign[0]
    conversion = rate_for(journal, config, currency, base)
    lines: list[JournalLine] = []
    for line in journal.lines:
        if line.amount.currency != currency:
            lines.append(line)
            continue
        converted = Money(amount=line.amount.amount * conversion.rate, currency=base).quantized()
        if converted.is_zero():
            continue   # a line too small to show in the base currency: its value goes to rounding
        lines.append(line.model_copy(update={"amount": converted, "original_amount": line.amount}))
    difference = imbalances(lines).get(base, Decimal(0))
    if difference:
        limit = Decimal(len(journal.lines)) * Decimal(1).scaleb(-currency_exponent(base))
        if abs(difference) > limit:   # more than rounding can explain: refuse rather than hide it
            raise DocumentRejected(f"conversion leaves {difference} {base}, more than rounding", reason="fx_imbalance")
        role, account = rounding_account()
        lines.append(JournalLine(account=account, amount=Money(amount=-difference, currency=base), role=role,
                                 memo=f"FX rounding {currency}->{base} at {conversion.rate}"))
    try:   # validated again: balanced per currency, a debit and a credit
        return JournalEntry.model_validate({**journal.model_dump(), "lines": [line.model_dump() for line in lines],
                                            "currency": base, "fx": conversion.model_dump()})
    except ValueError as exc:
        raise DocumentRejected(f"converted journal is invalid: {exc}", reason="fx_imbalance") from None
