"""Multi-currency: convert a journal to the entity's base currency, keep the rate and its source, and send the
rounding difference to the ``fx_rounding`` account so the converted journal balances to the minor unit.

Only for entities with ``foreign_currency: convert_to_base`` (the default posts documents in their own
currency, D13). The rate is the document's own (``fx``, e.g. a payment processor's settlement rate) when it
converts into the base currency, else the latest configured ``fx_rates`` entry valid on the accounting date;
without either the document is an exception (``fx_rate_missing``), never posted at a guessed rate.
Each line is converted and rounded half-even on its own; the lines' rounding errors net to at most half a
minor unit per line, and that difference is one extra line on the rounding account.

A converted document that settles an invoice (a payment, refund, credit note, write-off) relieves the invoice's
receivable and tax at the rate the invoice booked them (:func:`settle_at_booked_rates`); the difference is realized
FX (``fx_gain_loss``). Open balances are revalued at period end by ``service.fx_revaluation`` (D90).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.errors import DocumentRejected
from ledgerlink.model.allocation import allocate
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


# ---- realized FX: settlement at a rate other than booking (issue 17) ----------------------------------------

REALIZED_ROLE = "fx_gain_loss"
# monetary balances an invoice books and a later document relieves: the customer's receivable and the tax it owes
SETTLED_ROLES = ("receivable", "tax")


def settle_at_booked_rates(journal: JournalEntry, booked: JournalEntry,
                           realized_account: Callable[[], tuple[str, str]]) -> JournalEntry:
    """A converted journal that relieves what ``booked`` (the settled invoice's posted journal) put on a monetary
    role — its receivable or tax — relieves it at the rate it was booked, not at its own: each such line keeps its
    original amount and takes its share of the booked base amount (``allocate`` over settled : rest, so a full
    settlement takes exactly what was booked); the difference against the journal's own rate is realized FX on
    ``fx_gain_loss`` (a credit is a gain). 181.60 EUR booked at 1.0837 (196.80 USD) and paid at 1.1000 (199.76
    USD): Dr cash 199.76 · Cr receivable 196.80 · Cr FX gain 2.96. Lines the invoice did not book in the same
    currency (or a journal that was not converted) are left as they are."""
    if journal.fx is None:
        return journal
    base = journal.fx.to_currency
    lines: list[JournalLine] = []
    realized = Decimal(0)
    for line in journal.lines:
        carried = _carried(booked, line, base)
        if carried is None:
            lines.append(line)
            continue
        relieved = _relieved(line.original_amount, *carried)  # type: ignore[arg-type]
        if relieved.is_zero():   # too small to carry anything in the base currency: left at its own rate
            lines.append(line)
            continue
        realized += relieved.amount - line.amount.amount
        lines.append(line.model_copy(update={"amount": relieved}))
    if not realized:
        return journal
    role, account = realized_account()
    booked_at = booked.fx.rate if booked.fx is not None else "its booked rate"
    lines.append(JournalLine(account=account, amount=Money(amount=-realized, currency=base), role=role,
                             memo=f"realized FX: {booked.document_id} booked at {booked_at}, "
                                  f"settled at {journal.fx.rate}"))
    return JournalEntry.model_validate({**journal.model_dump(), "lines": [line.model_dump() for line in lines]})


def _carried(booked: JournalEntry, line: JournalLine, base: str) -> tuple[Money, Money] | None:
    """(base amount, original amount) the settled journal booked on the line's role in the line's original
    currency, or None when the line is not a converted monetary line of a role the invoice booked."""
    original = line.original_amount
    if line.role not in SETTLED_ROLES or original is None or line.amount.currency != base:
        return None
    same = [item for item in booked.lines if item.role == line.role and item.original_amount is not None
            and item.original_amount.currency == original.currency and item.amount.currency == base]
    if not same:
        return None
    carried_base = sum((item.amount.amount for item in same), Decimal(0))
    carried_original = sum((item.original_amount.amount for item in same), Decimal(0))  # type: ignore[union-attr]
    if not carried_original or not carried_base:
        return None
    return Money(amount=carried_base, currency=base), Money(amount=carried_original, currency=original.currency)


def _relieved(original: Money, carried_base: Money, carried_original: Money) -> Money:
    """The base amount a settled original amount carries: its share of what was booked, with the line's sign."""
    settled, booked = abs(original.amount), abs(carried_original.amount)
    whole = Money(amount=abs(carried_base.amount), currency=carried_base.currency)
    if settled <= booked:
        share = allocate(whole, [settled, booked - settled])[0]
    else:   # more than was booked (a credit above the invoice): the excess at the same booked rate
        share = Money(amount=whole.amount * settled / booked, currency=whole.currency).quantized()
    return share if original.amount > 0 else -share
