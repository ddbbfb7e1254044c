"""The webhook inbox: one item per ``(source, event id)``, claimed with a conditional write.

States: ``pending`` (claimed by ingest, archived and enqueued or about to be) → ``processed`` (the
normalizer recorded its outcome). A repeat delivery of a claimed event is a duplicate. A ``pending``
claim older than the lease may be taken over, so a crash between claim and enqueue cannot lose an
event: the provider's retry (it got no 2xx) re-runs the whole ingest. Downstream dedupes by document id.
An attempt that *fails* (rather than crashes) after claiming releases the claims it could not enqueue, so
a retry inside the lease is not answered as a duplicate of an event that was never enqueued.

Both transitions write the event control totals in the same transaction (``control_totals``): a new
claim counts ``received``, the normalizer's outcome counts ``processed`` (+ ``ignored``/``exception``).
While pending, the item carries ``pending_day`` (sparse index ``pending_by_day``), so reconciliation can
name the events that were accepted but never processed without scanning.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ledgerlink.clock import epoch, utc_day
from ledgerlink.model.inbox import Claim
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import conditional, error_code
from ledgerlink.store.control_totals import event_counter_update
from ledgerlink.store.dynamo import from_item, to_item, value


def _epoch(stored: object, default: float) -> int:
    """An epoch second stored on the item (a DynamoDB number), or ``default``."""
    return int(stored) if isinstance(stored, int | float | Decimal | str) else int(default)


def inbox_key(source: str, event_id: str) -> str:
    return f"{source}#{event_id}"


def _cancellation_item(exc: BaseException, position: int = 0) -> dict[str, object] | None:
    """The item whose condition cancelled the transaction (``ALL_OLD``), None when it was cancelled otherwise."""
    reasons = (getattr(exc, "response", None) or {}).get("CancellationReasons") or []
    if len(reasons) > position and reasons[position].get("Code") == "ConditionalCheckFailed":
        return from_item(reasons[position].get("Item") or {})
    return None


class DynamoInbox:
    def __init__(self, table: str, *, totals_table: str, retention_days: int = 35, lease_seconds: int = 120,
                 client: Any = None) -> None:
        self._table = table
        self._totals = totals_table
        self._retention = retention_days * 86_400
        self._lease = lease_seconds
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or default_client("dynamodb")

    def claim(self, source: str, event_id: str, *, correlation_id: str, archive_key: str,
              event_type: str, now: float | None = None) -> Claim:
        now = epoch() if now is None else now
        day = utc_day(now)
        item: dict[str, object] = {
            "pk": inbox_key(source, event_id), "source": source, "event_id": event_id, "event_type": event_type,
            "status": "pending", "claimed_at": int(now), "correlation_id": correlation_id,
            "archive_key": archive_key, "expires_at": int(now) + self._retention, "pending_day": day,
        }
        try:
            self.client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": to_item(item),
                         "ConditionExpression": "attribute_not_exists(pk)",
                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                event_counter_update(self._totals, day, source, received=1),
            ])
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            old = _cancellation_item(exc)
            if old is None:
                raise
            return self._take_over_if_stale(old, item, now)
        return Claim(is_new=True, archive_key=archive_key, correlation_id=correlation_id, status="pending", day=day)

    def _take_over_if_stale(self, old: dict[str, object], item: dict[str, object], now: float) -> Claim:
        """A pending claim older than the lease belongs to an attempt that crashed: take it over (the
        event was already counted as received, so no counter moves)."""
        claimed_at = _epoch(old.get("claimed_at"), now)
        stale = old.get("status") == "pending" and claimed_at < int(now) - self._lease
        if not stale:
            return Claim(is_new=False, archive_key=str(old.get("archive_key", item["archive_key"])),
                         correlation_id=str(old.get("correlation_id", item["correlation_id"])),
                         status=str(old.get("status", "?")), day=str(old.get("pending_day", "")))
        archive_key, day = str(old.get("archive_key", item["archive_key"])), str(old.get("pending_day", item["pending_day"]))
        taken = {**item, "archive_key": archive_key, "pending_day": day}
        try:
            self.client.put_item(
                TableName=self._table, Item=to_item(taken),
                ConditionExpression="#s = :pending AND claimed_at = :previous",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":pending": value("pending"), ":previous": value(claimed_at)})
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":  # someone else took it over first
                return Claim(is_new=False, archive_key=archive_key, correlation_id=str(old["correlation_id"]),
                             status="pending", day=day)
            raise
        return Claim(is_new=True, archive_key=archive_key, correlation_id=str(item["correlation_id"]),
                     status="pending", day=day)

    def release(self, source: str, event_id: str, *, correlation_id: str, day: str) -> bool:
        """Undo a claim this attempt made and could not enqueue (pending and still ours), un-counting it.
        Returns False when it is no longer ours to undo (processed, or taken over by a later attempt)."""
        try:
            self.client.transact_write_items(TransactItems=[
                {"Delete": {
                    "TableName": self._table, "Key": {"pk": value(inbox_key(source, event_id))},
                    "ConditionExpression": "#s = :pending AND correlation_id = :mine",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":pending": value("pending"), ":mine": value(correlation_id)},
                }},
                event_counter_update(self._totals, day, source, received=-1),
            ])
        except Exception as exc:
            reasons = (getattr(exc, "response", None) or {}).get("CancellationReasons") or []
            if error_code(exc) == "TransactionCanceledException" and reasons \
                    and reasons[0].get("Code") == "ConditionalCheckFailed":
                return False
            raise
        return True

    def outcome_items(self, source: str, event_id: str, *, outcome: str, document_ids: list[str],
                      reasons: list[str], day: str, now: float | None = None) -> list[dict[str, object]]:
        """The ``TransactWriteItems`` entries of pending → processed: the claim's update (conditioned on it still
        being pending) and its event counters. Normalize puts them in the transaction that registers the
        event's documents, so the mark and the registrations commit together or not at all."""
        now = epoch() if now is None else now
        moves = {"processed": 1, **({outcome: 1} if outcome in ("ignored", "exception") else {})}
        return [
            {"Update": {
                "TableName": self._table, "Key": {"pk": value(inbox_key(source, event_id))},
                "UpdateExpression": "SET #s = :processed, outcome = :outcome, document_ids = :docs, "
                                    "reasons = :reasons, processed_at = :now REMOVE pending_day",
                "ConditionExpression": "#s = :pending",
                "ExpressionAttributeNames": {"#s": "status"},
                "ExpressionAttributeValues": {
                    ":processed": value("processed"), ":outcome": value(outcome), ":docs": value(document_ids),
                    ":reasons": value(reasons), ":now": value(int(now)), ":pending": value("pending")},
                "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
            }},
            event_counter_update(self._totals, day, source, **moves),
        ]

    def record_outcome(self, source: str, event_id: str, *, outcome: str, document_ids: list[str],
                       reasons: list[str], day: str, now: float | None = None) -> bool:
        """pending → processed, counting it once. Returns False when it was already processed."""
        try:
            self.client.transact_write_items(TransactItems=self.outcome_items(
                source, event_id, outcome=outcome, document_ids=document_ids, reasons=reasons, day=day, now=now))
        except Exception as exc:
            if error_code(exc) == "TransactionCanceledException" and _cancellation_item(exc) is not None:
                return False
            if error_code(exc) == "TransactionCanceledException":
                return False  # the claim is gone (expired): nothing to count
            raise
        return True

    def note_failure(self, source: str, event_id: str, *, error_type: str, at: str, when: float) -> bool:
        """Why the last attempt to process a still-pending event failed (its error type and where, never the text):
        what ``ledgerlink dlq list`` shows next to a parked message. Nothing is counted."""
        return conditional(
            self.client.update_item, TableName=self._table, Key={"pk": value(inbox_key(source, event_id))},
            UpdateExpression="SET last_error = :e, last_error_at = :t ADD failed_attempts :one",
            ConditionExpression="attribute_exists(pk) AND #s = :pending",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":e": value(f"{error_type} at {at}"), ":t": value(int(when)),
                                       ":one": value(1), ":pending": value("pending")})

    def get(self, source: str, event_id: str) -> dict[str, object] | None:
        response = self.client.get_item(TableName=self._table, Key={"pk": value(inbox_key(source, event_id))},
                                        ConsistentRead=True)
        return from_item(response["Item"]) if "Item" in response else None

    def pending_on(self, day: str) -> list[dict[str, object]]:
        """Events claimed on ``day`` (UTC) and not processed yet (sparse index: cost = their number)."""
        pages = self.client.get_paginator("query").paginate(
            TableName=self._table, IndexName="pending_by_day", KeyConditionExpression="pending_day = :d",
            ExpressionAttributeValues={":d": value(day)})
        return [from_item(item) for page in pages for item in page.get("Items", [])]

    def scan(self) -> list[dict[str, object]]:
        """All items (local runtime / CLI summaries only — never on a hot path)."""
        pages = self.client.get_paginator("scan").paginate(TableName=self._table, ConsistentRead=True)
        return [from_item(item) for page in pages for item in page.get("Items", [])]
