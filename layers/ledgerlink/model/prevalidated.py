"""Journal lines and journals built from parts that are already valid, without a second trip through pydantic.

Enrich builds every journal from a validated document and the validated configuration: the accounts, amounts,
memos and ids it combines have passed validation once. Re-validating them costs more than the rest of enrich.
:func:`journal_line` and :func:`journal_entry` check, in plain Python, that validating their arguments would
return them unchanged — exact types, text that needs no stripping and fits its length, identifiers that match
their pattern, amounts that are non-zero and exact, a document id that matches its source, a journal that
balances — and then assemble the model directly. Anything else (a memo that is too long, a zero line, an
unbalanced journal, text with a lone surrogate) goes through the validating constructor, which gives the same
instance or raises the same error as before. ``model_construct`` is not used: it skips the checks *and* is slower.

The result is indistinguishable from the validated instance: same field values, same ``model_fields_set``,
same ``model_dump``; tests/unit/test_prevalidated.py pins that for every sample event. Instances of one shape
share one ``model_fields_set`` set (a set of eleven names is 728 bytes, as much as the journal's own fields):
the models are frozen, so pydantic never changes it in place — ``model_copy`` copies it before adding to it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from ledgerlink.model.documents import JournalEntry, JournalLine, SourceRef
from ledgerlink.model.money import _EXPONENT_EXCEPTIONS, ISO_4217_CODES, Money

# BaseModel's own slots: setting them through their descriptors skips the attribute lookup along the MRO
_new = object.__new__
_set_dict = BaseModel.__dict__["__dict__"].__set__
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__
_IDENTIFIER = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")  # model.base.Identifier, anchored by fullmatch
_TEXT_MAX = 512                                                   # model.base.NonEmptyStr
_ZERO = Decimal(0)


def _assemble[M](cls: type[M], values: dict[str, Any], fields_set: set[str]) -> M:
    """What pydantic's validation stores on an instance, set directly (values already in field order)."""
    instance = _new(cls)
    _set_dict(instance, values)
    _set_fields_set(instance, fields_set)
    _set_extra(instance, None)
    _set_private(instance, None)
    return instance


def _text(value: Any) -> bool:
    """A ``NonEmptyStr`` that validation returns unchanged. Python's ``str.strip`` removes every character
    pydantic strips (Unicode White_Space, and a few more), so a string it leaves alone has nothing to strip;
    lengths agree for any string that is valid UTF-8 (a lone surrogate is left to pydantic)."""
    if type(value) is not str or not 0 < len(value) <= _TEXT_MAX or value.strip() != value:
        return False
    if value.isascii():
        return True
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


_IDENTIFIERS: set[str] = set()  # roles and entity ids repeat: checked once each


def _identifier(value: Any) -> bool:
    if type(value) is not str:
        return False
    if value in _IDENTIFIERS:
        return True
    if _IDENTIFIER.fullmatch(value) is None:
        return False
    if len(_IDENTIFIERS) >= 4096:
        _IDENTIFIERS.clear()
    _IDENTIFIERS.add(value)
    return True


def _postable_amount(amount: Any) -> bool:
    """``JournalLine.amount``: Money (kept as is by its validator), non-zero, exact in its currency's minor unit."""
    if type(amount) is not Money or not amount.amount:
        return False
    scaled = amount.amount.scaleb(_EXPONENT_EXCEPTIONS.get(amount.currency, 2))
    return scaled == scaled.to_integral_value()


_LINE_FIELDS = {"account", "amount", "role", "memo"}
_LINE_FIELDS_WITH_DIMENSIONS = {"account", "amount", "role", "memo", "dimensions"}


def journal_line(*, account: str, amount: Money, role: str | None, memo: str | None,
                 dimensions: dict[str, str] | None = None) -> JournalLine:
    """``JournalLine(account=…, amount=…, role=…, memo=…)`` — the same instance or the same error — and, when
    ``dimensions`` are given, its ``model_copy(update={"dimensions": dimensions})`` (not validated, as before)."""
    if (_text(account) and _postable_amount(amount) and (role is None or _identifier(role))
            and (memo is None or _text(memo))):
        if dimensions is None:
            return _assemble(JournalLine, {"account": account, "amount": amount, "memo": memo, "dimensions": {},
                                           "role": role, "original_amount": None}, _LINE_FIELDS)
        return _assemble(JournalLine, {"account": account, "amount": amount, "memo": memo, "dimensions": dimensions,
                                       "role": role, "original_amount": None}, _LINE_FIELDS_WITH_DIMENSIONS)
    line = JournalLine(account=account, amount=amount, role=role, memo=memo)
    return line if dimensions is None else with_dimensions(line, dimensions)


def _lines_balance(lines: tuple[JournalLine, ...]) -> bool:
    """Every line is a ``JournalLine`` and ``JournalEntry._balanced`` passes (``imbalances`` is empty, at least
    one debit and one credit), in one pass."""
    has_debit = has_credit = False
    totals: dict[str, Decimal] = {}
    for line in lines:
        if type(line) is not JournalLine:
            return False
        money = line.amount
        amount = money.amount
        if amount > 0:
            has_debit = True
        else:
            has_credit = True
        totals[money.currency] = totals.get(money.currency, _ZERO) + amount
    return has_debit and has_credit and not any(totals.values())


def _texts(items: tuple[str, ...]) -> bool:
    return all(type(item) is str for item in items)


_ENTRY_FIELDS = {"document_id", "source", "entity_id", "correlation_id", "occurred_at", "accounting_date",
                 "currency", "memo", "related_document_ids", "lines", "mapping_version"}


def journal_entry(*, document_id: str, source: SourceRef, entity_id: str, correlation_id: str,
                  occurred_at: datetime, accounting_date: date, currency: str, memo: str | None,
                  related_document_ids: tuple[str, ...], lines: tuple[JournalLine, ...],
                  mapping_version: int | None) -> JournalEntry:
    """``JournalEntry(...)`` with exactly these fields: the same instance, or the validating constructor's
    ``ValidationError``."""
    if (_text(document_id) and type(source) is SourceRef and _identifier(entity_id) and _text(correlation_id)
            and type(occurred_at) is datetime and type(accounting_date) is date
            and type(currency) is str and currency in ISO_4217_CODES and (memo is None or _text(memo))
            and type(related_document_ids) is tuple and _texts(related_document_ids)
            and type(lines) is tuple and len(lines) >= 2 and _lines_balance(lines)
            and (mapping_version is None or type(mapping_version) is int)
            and document_id == source.document_id()):
        return _assemble(JournalEntry, {
            "document_id": document_id, "source": source, "entity_id": entity_id, "correlation_id": correlation_id,
            "occurred_at": occurred_at, "accounting_date": accounting_date, "currency": currency, "memo": memo,
            "related_document_ids": related_document_ids, "fx": None, "document_type": "journal_entry",
            "lines": lines, "mapping_version": mapping_version, "original_accounting_date": None,
        }, _ENTRY_FIELDS)
    return JournalEntry(
        document_id=document_id, source=source, entity_id=entity_id, correlation_id=correlation_id,
        occurred_at=occurred_at, accounting_date=accounting_date, currency=currency, memo=memo,
        related_document_ids=related_document_ids, lines=lines, mapping_version=mapping_version)


def with_dimensions(line: JournalLine, dimensions: dict[str, str]) -> JournalLine:
    """``line.model_copy(update={"dimensions": dimensions})`` (no validation either way) for a line of this
    module's shape (no extra fields, no private attributes), without ``model_copy``'s generic overhead."""
    fields_set = line.__pydantic_fields_set__
    if fields_set in (_LINE_FIELDS, _LINE_FIELDS_WITH_DIMENSIONS):
        fields_set = _LINE_FIELDS_WITH_DIMENSIONS
    else:
        fields_set = fields_set | {"dimensions"}
    return _assemble(JournalLine, {**line.__dict__, "dimensions": dimensions}, fields_set)
