"""Bank statement files → bank transactions ready for cash application.

The message is one dropped file (``{"file": {...}, "content": "<text>"}``, written by the bank-file
Lambda); every booked line becomes a BankTransaction identified by (account, statement line key), so the
same file dropped twice — or a later file repeating a line — posts nothing twice. Pending / information lines
are recorded as ignored. A file that is not a statement, a line of an account no entity owns, or an amount
with more decimals than its currency has (``8.855 EUR``) makes the whole file an exception case naming its
archive key: a bank file is fixed and re-dropped as a whole.

Cash application: references a line carries that name provider objects LedgerLink posts (Stripe payout
``po_…``, Stripe invoice ``in_…``) become ``match_candidates`` (document ids); the normalize service looks
them up in the posting ledger and accepts a match only when currency and amount agree
(``ledgerlink.pipeline.cash_application``).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from ledgerlink.config.sources import BankSource
from ledgerlink.connectors.sources.bank.statements import StatementError, StatementLine, parse
from ledgerlink.connectors.sources.base import Ignored, NormalizeContext, Normalized
from ledgerlink.connectors.sources.reading import source_of, text
from ledgerlink.errors import NormalizationError
from ledgerlink.model.documents import BankTransaction, SourceRef
from ledgerlink.model.json import JsonObject
from ledgerlink.model.money import CurrencyError, Money

SYSTEM = "bank"
# provider references → the document a matching bank line settles
_REFERENCE_PATTERNS: tuple[tuple[re.Pattern[str], str, str, str], ...] = (
    (re.compile(r"\b(po_[A-Za-z0-9]{6,})\b"), "stripe", "payout", "paid"),
    (re.compile(r"\b(in_[A-Za-z0-9]{6,})\b"), "stripe", "invoice", "finalized"),
)


def candidate_document_ids(line: StatementLine) -> tuple[str, ...]:
    found: list[str] = []
    for value in (line.reference or "", *line.references):
        for pattern, system, object_type, version in _REFERENCE_PATTERNS:
            for object_id in pattern.findall(value):
                found.append(SourceRef(system=system, object_type=object_type, object_id=object_id,
                                       version=version).document_id())
    return tuple(dict.fromkeys(found))


def _source(ctx: NormalizeContext) -> BankSource:
    return source_of(ctx, BankSource, "a bank source")


def _money(line: StatementLine) -> Money:
    try:
        if line.minor_units is not None:
            return Money.from_minor(line.minor_units, line.currency)
        amount = Money.of(Decimal(line.amount), line.currency)
        amount.to_minor()  # more decimals than the currency has: refuse, never round
        return amount
    except (CurrencyError, InvalidOperation, ValueError) as exc:
        raise NormalizationError(f"statement line {line.line_key}: amount {line.amount} {line.currency}: {exc}",
                                 reason="invalid_amount", line=line.line_key) from None


def normalize(event: JsonObject, ctx: NormalizeContext) -> Normalized:
    source = _source(ctx)
    content = event.get("content")
    if not isinstance(content, str):
        raise NormalizationError("message holds no statement file content", reason="missing_field", field="content")
    try:
        lines = parse(content)
    except StatementError as exc:
        raise NormalizationError(f"bank file is not readable: {exc}", reason="malformed_statement") from None
    result = Normalized()
    for line in lines:
        if line.status != "BOOK":
            result.ignored.append(Ignored("not_booked", f"{line.account} {line.line_key}: status {line.status}"))
            continue
        entity_id = source.account_entities.get(line.account)
        if entity_id is None and not source.account_entities:
            entity_id = source.default_entity
        if entity_id is None:
            raise NormalizationError(f"statement account {line.account} belongs to no configured entity",
                                     reason="unknown_bank_account", account=line.account)
        entity = ctx.config.entity(entity_id)
        amount = _money(line)
        if amount.is_zero():
            result.ignored.append(Ignored("zero_amount_line", f"{line.account} {line.line_key}"))
            continue
        booked = date.fromisoformat(line.booking_date)
        occurred = datetime.combine(booked, time(12), ZoneInfo(entity.time_zone)).astimezone(UTC)
        ref = SourceRef(system=SYSTEM, object_type="statement_line", object_id=f"{line.account}:{line.line_key}",
                        version="1", event_id=text(event.get("file"), "name"),
                        event_type=f"statement.{line.format}", account=line.account,
                        archive_key=ctx.archive_key, source_id=ctx.source_id)
        try:
            result.documents.append(BankTransaction(
                document_id=ref.document_id(), source=ref, entity_id=entity.id, correlation_id=ctx.correlation_id,
                occurred_at=occurred, accounting_date=booked, currency=amount.currency, bank_account=line.account,
                amount=amount, booking_date=booked,
                value_date=date.fromisoformat(line.value_date) if line.value_date else None,
                reference=(line.reference or "")[:500] or None, counterparty=line.counterparty,
                bank_reference=line.bank_reference, match_candidates=candidate_document_ids(line),
                memo=f"bank {line.format} {line.statement_id} {line.bank_reference or line.line_key}"[:500]))
        except ValidationError as exc:
            first = exc.errors(include_url=False)[0]
            raise NormalizationError(f"statement line {line.line_key}: {first.get('msg')}",
                                     reason="invalid_document") from None
    return result
