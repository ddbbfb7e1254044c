"""The post-document workflow's state: what crosses Step Functions between the task steps.

Each task step receives the execution state as JSON and returns it extended. :class:`PostingState` is that state
read once at the step's boundary (:meth:`PostingState.parse`); a step's answer is the state it received plus the
keys it adds (:meth:`PostingState.extended`), so keys the state machine itself adds (``decision``,
``escalated_from``, ``parties``...) pass through unchanged and the JSON keeps its shape. Slotted dataclasses, not
pydantic: every posting step parses one at cold start (D74).

State: ``{document_id, correlation_id, source_id, archive_key, config_version, received_at, document}`` →
``+parties`` (master data) → ``+journal, revenue`` (enrich) → ``journal, period_adjusted`` (validate) →
``posting`` (post). A failed step's ``error`` (``{"Error", "Cause"}``) reaches the exception step. A retry of an
exception case (``PrepareRetry``) adds ``approval``: an approver's :class:`Approval` of an ``approval_required``
case, or null.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import NotRequired, TypedDict

from ledgerlink.model.json import JsonObject, JsonValue


def _text(value: JsonValue | None) -> str | None:
    return None if value is None or value == "" else str(value)


def _int(value: JsonValue | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, list | dict):
        raise TypeError(f"not a number: {value!r}")
    return int(value)


def _float(value: JsonValue | None) -> float | None:
    """A number the state may carry as text; absent, empty or zero → None (nothing to measure from)."""
    if not value or isinstance(value, list | dict):
        return None
    return float(value)


def _object(value: JsonValue | None) -> JsonObject | None:
    return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class Posting:
    """Where the document went: the ERP connection and its reference, or a summary bucket (``bucket:<id>``)."""

    connection_id: str
    erp_ref: str
    created: bool
    posted_at: str
    bucket_id: str | None = None

    @property
    def summarized(self) -> bool:
        return self.bucket_id is not None

    @classmethod
    def parse(cls, raw: JsonObject) -> Posting:
        bucket = _text(raw.get("bucket_id")) if raw.get("summarized") else None
        return cls(connection_id=str(raw["connection_id"]), erp_ref=str(raw["erp_ref"]), created=bool(raw["created"]),
                   posted_at=str(raw["posted_at"]), bucket_id=bucket)

    def to_json(self) -> JsonObject:
        """The ``posting`` key as the post step writes it (``summarized`` and ``bucket_id`` for a summary bucket)."""
        if self.bucket_id is None:
            return {"connection_id": self.connection_id, "erp_ref": self.erp_ref, "created": self.created,
                    "posted_at": self.posted_at}
        return {"connection_id": self.connection_id, "erp_ref": self.erp_ref, "created": self.created,
                "summarized": True, "bucket_id": self.bucket_id, "posted_at": self.posted_at}


@dataclass(frozen=True, slots=True)
class Approval:
    """An approver's approval of a document held for approval (an ``approval_required`` case): who, when, which
    case, and the journal totals per currency they approved (major units). It lifts an approval threshold only
    where it covers the journal: the same currency and an approved amount at least the journal's size
    (:meth:`covers`); a document that grew since, or a currency not approved, is held again."""

    by: str
    at: str
    exception_id: str
    amounts: Mapping[str, Decimal]

    def covers(self, currency: str, size: Decimal) -> bool:
        approved = self.amounts.get(currency)
        return approved is not None and approved >= size

    @classmethod
    def parse(cls, raw: JsonValue | None) -> Approval | None:
        """The state's ``approval`` (null or absent: None). A malformed one is refused, never read as approved."""
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise ValueError(f"an approval is a JSON object, not {type(raw).__name__}")
        amounts = raw.get("amounts")
        by = _text(raw.get("by"))
        if by is None or not isinstance(amounts, dict) or not amounts:
            raise ValueError("an approval names its approver and the amounts approved")
        try:
            parsed = {str(currency): Decimal(str(amount)) for currency, amount in amounts.items()
                      if not isinstance(amount, list | dict | bool) and amount is not None}
        except InvalidOperation:
            raise ValueError(f"an approval's amounts are decimal numbers: {amounts!r}") from None
        if len(parsed) != len(amounts) or not all(amount.is_finite() for amount in parsed.values()):
            raise ValueError(f"an approval's amounts are decimal numbers: {amounts!r}")
        return cls(by=by, at=str(raw.get("at") or ""), exception_id=str(raw.get("exception_id") or ""),
                   amounts=parsed)

    def to_json(self) -> JsonObject:
        """As the ops service sends it in the retry decision and the post step records it on the ledger item
        (amounts as decimal strings)."""
        return {"by": self.by, "at": self.at, "exception_id": self.exception_id,
                "amounts": {currency: f"{amount:f}" for currency, amount in sorted(self.amounts.items())}}


@dataclass(frozen=True, slots=True)
class StepError:
    """A failed step's error as Step Functions records it (``Catch`` with ``ResultPath: $.error``): the error name
    and its cause (the Lambda's error JSON; empty for ``States.Timeout`` and other service errors)."""

    error: str | None
    cause: str | None

    @classmethod
    def parse(cls, raw: JsonValue | None) -> StepError:
        found = _object(raw) or {}
        return cls(error=_text(found.get("Error")), cause=_text(found.get("Cause")))


@dataclass(frozen=True, slots=True)
class PostingState:
    """One execution's state, typed. ``document`` and ``journal`` stay JSON here: a step validates the one it
    needs into its pydantic model once (``DocumentAdapter`` / ``JournalEntry``), and the exception step must read
    a state whose document would not validate."""

    document_id: str | None
    correlation_id: str | None
    config_version: int | None
    source_id: str | None
    archive_key: str | None
    received_at: float | None
    resolves_exception: str | None
    document: JsonObject | None
    journal: JsonObject | None
    revenue: JsonObject | None
    posting: Posting | None
    period_adjusted: bool
    error: StepError | None
    approval: Approval | None = None
    raw: JsonObject = field(default_factory=dict, repr=False)

    @classmethod
    def parse(cls, raw: JsonObject) -> PostingState:
        posting = _object(raw.get("posting"))
        received_at = raw.get("received_at")
        return cls(
            document_id=_text(raw.get("document_id")), correlation_id=_text(raw.get("correlation_id")),
            config_version=_int(raw.get("config_version")),
            source_id=_text(raw.get("source_id")), archive_key=_text(raw.get("archive_key")),
            received_at=_float(received_at),
            resolves_exception=_text(raw.get("resolves_exception")), document=_object(raw.get("document")),
            journal=_object(raw.get("journal")), revenue=_object(raw.get("revenue")) or None,
            posting=Posting.parse(posting) if posting is not None else None,
            period_adjusted=bool(raw.get("period_adjusted")),
            error=StepError.parse(raw["error"]) if "error" in raw else None,
            approval=Approval.parse(raw.get("approval")), raw=raw)

    @property
    def ledger_id(self) -> str:
        """The document id the ledger item is keyed by (every state normalize starts has one; a test may start a
        step without)."""
        if self.document_id is None:
            raise KeyError("document_id")
        return self.document_id

    @property
    def correlation(self) -> str:
        """The execution's correlation id (every state normalize starts has one)."""
        if self.correlation_id is None:
            raise KeyError("correlation_id")
        return self.correlation_id

    @property
    def version(self) -> int:
        """The configuration version the execution posts with (every step after normalize has one)."""
        if self.config_version is None:
            raise KeyError("config_version")
        return self.config_version

    @property
    def document_type(self) -> str | None:
        return _text((self.document or {}).get("document_type"))

    @property
    def entity_id(self) -> str | None:
        return _text((self.document or {}).get("entity_id"))

    def extended(self, **added: JsonValue) -> JsonObject:
        """The state as the step answers it: what it received, plus (or replacing) ``added``."""
        return {**self.raw, **added}


class PostedResult(TypedDict):
    """The post step's answer (the execution's output): ``stored_result`` when a re-invocation answered from the
    ledger item without calling the ERP."""

    document_id: str
    status: str
    erp_ref: str | None
    created: bool
    correlation_id: str | None
    posting_latency_seconds: float | None
    stored_result: NotRequired[bool]


class ExceptionOpened(TypedDict):
    """The exception step's answer."""

    document_id: str
    status: str
    exception_id: str
    reason: str
    correlation_id: str | None
