"""The document / posting ledger: one item per canonical document id, with its posting status.

``received`` (normalized, execution started) → ``posted`` (ERP reference recorded) or ``exception``
(case opened) or ``ignored`` (posting policy says no). The item keeps the canonical document, the
source reference and the correlation id, so ``trace`` goes webhook → document → journal → ERP.

The post step leases the item before calling the ERP (``lease_until`` / ``lease_holder``, dropped by the posted
or exception transition): the item is the step's idempotency record.

Every status change writes the document control totals in the same transaction, conditioned on the
expected previous status: a retried or replayed step finds the status already changed and counts
nothing. ``day_key`` (``<entity>#<business date>``, keys-only index ``by_day_ids``) lets reconciliation name
a day's documents when the totals disagree.

``document`` (the canonical document) and ``journal`` (the posted journal) are JSON text to every caller, stored as
binary attributes holding the zlib-compressed (level 6) UTF-8 of that text: DynamoDB bills each write by the size of
the whole item (an update by the larger of the item before and after), and those two attributes are three quarters
of it. Every write here compresses them; every read here (``get``, ``read``, ``on_day``, ``scan``, ``scan_projected``,
``get_many``, the item a refused lease or a cancelled transaction returns) hands back the text, from the compressed
form or from the plain text older items hold. A filter on the document's content cannot run in DynamoDB: readers
decode first and filter after (``service.search``).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ledgerlink.clock import epoch
from ledgerlink.errors import TransientError
from ledgerlink.model.counters import CounterKey
from ledgerlink.model.ledger import DocumentStateError, Lease, LedgerItem
from ledgerlink.model.status import COUNTED_PARTITIONS, FINAL_STATUSES, POSTABLE_STATUSES, DocumentStatus
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import conditional, error_code
from ledgerlink.store.control_totals import document_counter_update, merged_document_counter_updates
from ledgerlink.store.dynamo import MAX_TRANSACTION_ITEMS, from_item, to_item, value
from ledgerlink.store.tables import LEDGER_DAY_INDEX, LEDGER_LOOKUPS

__all__ = [   # the statuses, the lease and the state error live in model/ (kept importable from here)
    "COUNTED_PARTITIONS", "FINAL_STATUSES", "POSTABLE_STATUSES", "BatchRegistration", "DocumentStateError",
    "DynamoLedger", "Lease", "LedgerItem", "Registration", "ledger_item",
]

CLAIM_ATTEMPTS = 20                                    # concurrent claims on one invoice before the caller retries
BATCH_GET_KEYS = 100                                   # BatchGetItem: at most 100 keys per request
BATCH_GET_ATTEMPTS = 8                                 # rounds for the keys DynamoDB leaves unprocessed
MAX_TRANSACTION_BYTES = 3_500_000                      # TransactWriteItems: 4 MB per request (kept well under)

# One document of a batch: the item to put, where it is counted, the counter moves and its status.
type _Entry = tuple[dict[str, object], CounterKey, dict[str, int], str]


@dataclass(frozen=True, slots=True)
class Registration:
    is_new: bool
    status: str
    exception_id: str | None = None


@dataclass(frozen=True, slots=True)
class BatchRegistration:
    """What :meth:`DynamoLedger.register_batch` committed: ``registered`` holds the documents it inserted;
    ``complete`` is False when a transaction was cancelled by a condition (a document exists already, the
    extra items' condition failed): the caller registers the rest one by one."""

    registered: dict[str, Registration] = field(default_factory=dict)
    complete: bool = True


def ledger_item(stored: Mapping[str, object]) -> LedgerItem:
    """The typed record of an item as read from the table (``from_item``); the whole item stays in ``stored``."""
    return LedgerItem.parse(stored)


INDEXED = frozenset(LEDGER_LOOKUPS.values())           # GSI keys: a DynamoDB index key may not be ""
COMPRESSED = ("document", "journal")                   # JSON text, stored zlib-compressed (binary)
COMPRESSION_LEVEL = 6


def _packed(attributes: Mapping[str, object]) -> dict[str, object]:
    """The attributes as they are written: ``document`` and ``journal`` text as zlib-compressed UTF-8 bytes (any
    other value of theirs — an older item's map — as it is)."""
    return {key: zlib.compress(val.encode(), COMPRESSION_LEVEL) if key in COMPRESSED and isinstance(val, str)
            else val for key, val in attributes.items()}


def _unpacked(item: Mapping[str, Any]) -> dict[str, Any]:
    """An item as the low-level client returned it, in plain values (``from_item``), with ``document`` and ``journal``
    as JSON text again: decompressed when stored binary, as they are when stored as text (items written before)."""
    stored = from_item(item)
    for name in COMPRESSED:
        raw = stored.get(name)
        if isinstance(raw, bytes | bytearray):
            stored[name] = zlib.decompress(raw).decode()
    return stored


def _indexable(item: Mapping[str, object]) -> dict[str, object]:
    """The item with ``external_id`` (the source's object id, from ``source_object`` = ``type:id:version``) and
    without empty index keys (DynamoDB refuses an empty string as a GSI key: the whole write would fail)."""
    source_object = item.get("source_object")
    if "external_id" not in item and isinstance(source_object, str):
        _, _, rest = source_object.partition(":")
        object_id, _, _ = rest.rpartition(":")
        if object_id:
            item = {**item, "external_id": object_id}
    return {key: val for key, val in item.items() if not (key in INDEXED and val == "")}


def _present(attributes: Mapping[str, object]) -> dict[str, object]:
    """The attributes a write sets: none that is None, no empty index key."""
    return {key: val for key, val in attributes.items() if val is not None and not (key in INDEXED and val == "")}


def _registration_moves(status: str) -> dict[str, int]:
    """A new document counts as received, and in its partition when it is registered in one (ignored...)."""
    return {DocumentStatus.RECEIVED: 1, **({status: 1} if status in COUNTED_PARTITIONS else {})}


def _transaction_items(chunk: list[_Entry]) -> int:
    """Puts plus one counter update per distinct counter item."""
    return len(chunk) + len({key.partition for _, key, _, _ in chunk})


def _cancelled_on_condition(exc: Exception) -> Mapping[str, object] | None:
    """The item as it was when a ``TransactWriteItems`` was cancelled by its first action's condition (``{}`` when
    DynamoDB returned none); None when it failed for another reason (the caller re-raises)."""
    if error_code(exc) != "TransactionCanceledException":
        return None
    reasons = exc.response.get("CancellationReasons") or []  # type: ignore[attr-defined]
    if not reasons or reasons[0].get("Code") != "ConditionalCheckFailed":
        return None
    return _unpacked(reasons[0].get("Item") or {})


def _update_request(table: str, document_id: str, present: Mapping[str, object], removed: Sequence[str],
                    current: str) -> dict[str, object]:
    """The conditioned ``Update`` of a status transition (``#a0`` is the status; botocore's untyped request)."""
    return {"Update": {
        "TableName": table, "Key": {"document_id": value(document_id)},
        "UpdateExpression": "SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(present))) + (
            " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removed))) if removed else ""),
        "ConditionExpression": "#a0 = :from",
        "ExpressionAttributeNames": {**{f"#a{i}": name for i, name in enumerate(present)},
                                     **{f"#r{i}": name for i, name in enumerate(removed)}},
        "ExpressionAttributeValues": {**{f":v{i}": value(v) for i, v in enumerate(present.values())},
                                      ":from": value(current)},
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }}


def _expected_text(expected: tuple[str, ...]) -> tuple[str, ...]:
    """The expected statuses as plain strings (the error message quotes the tuple as it always did)."""
    return tuple(str(status) for status in expected)


class DynamoLedger:
    def __init__(self, table: str, *, totals_table: str, client: Any = None) -> None:
        self._table = table
        self._totals = totals_table
        self._client = client

    @property
    def client(self) -> Any:
        """The low-level DynamoDB client (botocore: untyped)."""
        return self._client or default_client("dynamodb")

    def _counter(self, key: CounterKey, moves: Mapping[str, int]) -> dict[str, object]:
        return document_counter_update(self._totals, entity_id=key.entity_id, business_date=key.business_date,
                                       source=key.source, currency=key.currency, amount=key.amount, moves=moves)

    def register(self, record: Mapping[str, object]) -> Registration:
        """Insert the document unless it exists, counting it; an existing one reports its status."""
        key = CounterKey.of(record)
        status = str(record.get("status", DocumentStatus.RECEIVED))
        item = _indexable({**record, "registered_at": int(epoch()), "day_key": f"{key.entity_id}#{key.business_date}"})
        try:
            self.client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": to_item(_packed(item)),
                         "ConditionExpression": "attribute_not_exists(document_id)",
                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
                self._counter(key, _registration_moves(status)),
            ])
        except Exception as exc:
            old = _cancelled_on_condition(exc)
            if old is None:
                raise
            exception_id = old.get("exception_id")
            return Registration(is_new=False, status=str(old.get("status", DocumentStatus.RECEIVED)),
                                exception_id=str(exception_id) if exception_id is not None else None)
        return Registration(is_new=True, status=status)

    def register_batch(self, records: Sequence[Mapping[str, object]], *,
                       also: Sequence[Mapping[str, object]] = ()) -> BatchRegistration:
        """Insert new documents and count them in one ``TransactWriteItems`` (more only past DynamoDB's 100 items or
        4 MB), with ``also`` — e.g. the inbox claim's "processed" update — in the last one.

        Every put is conditioned on the document being absent; the documents' counter updates are merged per
        counter item (one operation per item per transaction). A transaction cancelled by a failed condition
        (redelivery, replay, a claim no longer pending) leaves ``complete`` False: the documents of that and the
        later chunks are not written, and the caller registers them one by one (:meth:`register`)."""
        chunks = _batch_chunks(records)
        extra = list(also)
        if extra and _transaction_items(chunks[-1]) + len(extra) > MAX_TRANSACTION_ITEMS:
            chunks.append([])
        outcome = BatchRegistration()
        for number, chunk in enumerate(chunks):
            items: list[Mapping[str, object]] = [
                {"Put": {"TableName": self._table, "Item": to_item(_packed(item)),
                         "ConditionExpression": "attribute_not_exists(document_id)"}} for item, *_ in chunk]
            items += merged_document_counter_updates(self._totals, [(key, moves) for _, key, moves, _ in chunk])
            if number == len(chunks) - 1:
                items += extra
            if not items:
                continue
            try:
                self.client.transact_write_items(TransactItems=items)
            except Exception as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or []  # type: ignore[attr-defined]
                if not any(reason.get("Code") == "ConditionalCheckFailed" for reason in reasons):
                    raise   # throttling, a conflicting transaction: the caller's retry runs it again
                return BatchRegistration(registered=outcome.registered, complete=False)
            for item, _, _, status in chunk:
                outcome.registered[str(item["document_id"])] = Registration(is_new=True, status=status)
        return outcome

    def take_lease(self, document_id: str, *, holder: str, seconds: int, now: float | None = None) -> Lease:
        """The post step's lease before it calls the ERP: one conditional write that succeeds only while the
        document still waits to be posted (received, or an exception being retried) and nobody holds a live lease.
        Refused, it returns the item as it was: already posted (the stored result) or leased by another
        invocation that is still running."""
        now = epoch() if now is None else now
        try:
            self.client.update_item(
                TableName=self._table, Key={"document_id": value(document_id)},
                UpdateExpression="SET lease_until = :until, lease_holder = :holder",
                ConditionExpression="#s IN (:received, :exception) "
                                    "AND (attribute_not_exists(lease_until) OR lease_until < :now)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":until": value(int(now) + seconds), ":holder": value(holder),
                                           ":now": value(int(now)), ":received": value(POSTABLE_STATUSES[0]),
                                           ":exception": value(POSTABLE_STATUSES[1])},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return Lease(taken=False, item=_unpacked(exc.response.get("Item") or {}))  # type: ignore[attr-defined]
        return Lease(taken=True)

    def release_lease(self, document_id: str, *, holder: str) -> bool:
        """Give the lease back (the step failed before it could record a posting) if it is still this holder's."""
        return conditional(
            self.client.update_item, TableName=self._table, Key={"document_id": value(document_id)},
            UpdateExpression="REMOVE lease_until, lease_holder", ConditionExpression="lease_holder = :holder",
            ExpressionAttributeValues={":holder": value(holder)})

    def transition(self, document_id: str, *, to: str, expected: tuple[str, ...], key: CounterKey,
                   remove: tuple[str, ...] = (), **attributes: object) -> bool:
        """Move the document to ``to`` from one of ``expected`` and count it, atomically (``remove``: attributes
        dropped in the same write, e.g. the post step's lease).

        Returns False when the document already is in ``to`` (a retried step: nothing counted twice).
        """
        present = _packed(_present({"status": to, **attributes}))
        removed = [name for name in remove if name not in present]
        current = expected[0]
        for _ in range(len(expected) + 1):
            written, actual = self._transition_from(document_id, current, present, removed, key)
            if written:
                return True
            if actual == to:
                return False
            if actual is None or actual not in expected:
                raise DocumentStateError(
                    f"{document_id}: cannot move to {to} from {actual} (expected {_expected_text(expected)})",
                    actual=actual)
            current = actual
        raise DocumentStateError(f"{document_id}: status kept changing while moving to {to}")

    def _transition_from(self, document_id: str, current: str, present: Mapping[str, object], removed: Sequence[str],
                         key: CounterKey) -> tuple[bool, str | None]:
        """One conditioned attempt of :meth:`transition` from ``current``: (True, None) when it was written, else
        (False, the status the item actually has — None for an item without one, or none at all)."""
        to = str(present["status"])
        moves = {to: 1, **({current: -1} if current in COUNTED_PARTITIONS else {})}
        try:
            self.client.transact_write_items(TransactItems=[
                _update_request(self._table, document_id, present, removed, current), self._counter(key, moves)])
        except Exception as exc:
            old = _cancelled_on_condition(exc)
            if old is None:
                raise
            actual = old.get("status")
            return False, str(actual) if actual is not None else None
        return True, None

    def update(self, document_id: str, **attributes: object) -> None:
        """Attributes that are not a status change (no counters move)."""
        present = _packed(_present(attributes))
        if "status" in present:
            raise ValueError("status changes go through transition() so control totals stay exact")
        self.client.update_item(
            TableName=self._table, Key={"document_id": value(document_id)},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(present))),
            ExpressionAttributeNames={f"#a{i}": key for i, key in enumerate(present)},
            ExpressionAttributeValues={f":v{i}": value(val) for i, val in enumerate(present.values())},
            ConditionExpression="attribute_exists(document_id)",
        )

    def claim_receivable(self, invoice_id: str, claimant_id: str, amount: Decimal, *,
                         cap_to_open: bool = False) -> Decimal | None:
        """Record ``claimant_id``'s claim on what is open on ``invoice_id`` (the receivables subledger, D92) and
        return it: ``amount``, or with ``cap_to_open`` at most what is still open (never below 0). A claimant that
        claimed before gets its first answer again. None when the invoice is not in the ledger. Conditioned on
        the item's ``receivable_version``: a concurrent claim makes this one read again and recompute."""
        from ledgerlink.model.receivables import claims_of, open_amount

        for _ in range(CLAIM_ATTEMPTS):
            item = self.get(invoice_id)
            if item is None:
                return None
            claims = claims_of(item)
            if claims is not None and claimant_id in claims:
                return Decimal(str(claims[claimant_id]))
            wanted = amount
            if cap_to_open:
                still_open = open_amount(item)
                wanted = min(amount, max(still_open, Decimal(0))) if still_open is not None else Decimal(0)
            if self._claim(invoice_id, claimant_id, wanted, first=claims is None, item=item):
                return wanted
        raise TransientError(f"the receivable of {invoice_id} kept changing while {claimant_id} was applied",
                             reason="receivable_contended", original=invoice_id)

    def _claim(self, invoice_id: str, claimant_id: str, wanted: Decimal, *, first: bool,
               item: Mapping[str, object]) -> bool:
        """One conditioned write of a claim, against the receivable version ``item`` was read at."""
        from ledgerlink.model.receivables import CLAIMS, VERSION

        version = int(str(item.get(VERSION) or 0))
        names = {"#c": CLAIMS, "#v": VERSION}
        values: dict[str, object] = {":one": value(1)}
        if first:
            update = "SET #c = :m ADD #v :one"
            values[":m"] = {"M": {claimant_id: value(str(wanted))}}
        else:
            update = "SET #c.#k = :a ADD #v :one"
            names["#k"] = claimant_id
            values[":a"] = value(str(wanted))
        if version:
            condition = "attribute_exists(document_id) AND #v = :ver"
            values[":ver"] = value(version)
        else:
            condition = "attribute_exists(document_id) AND attribute_not_exists(#v)"
        return conditional(self.client.update_item, TableName=self._table, Key={"document_id": value(invoice_id)},
                           UpdateExpression=update, ConditionExpression=condition,
                           ExpressionAttributeNames=names, ExpressionAttributeValues=values)

    # Readers. ``get``/``on_day``/``scan``/``get_many`` answer the item as stored (a plain dict: reconciliation, trace,
    # the CLI and the close check read attributes the posting side never types; ``document`` and ``journal`` as JSON
    # text, decompressed); ``read`` answers the typed record.
    # Any: the values are whatever the item holds (deserialized DynamoDB attributes), read by callers field by field.

    def get(self, document_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(TableName=self._table, Key={"document_id": value(document_id)},
                                        ConsistentRead=True)
        return _unpacked(response["Item"]) if "Item" in response else None

    def read(self, document_id: str) -> LedgerItem | None:
        """The document's item, typed (strongly consistent); None when it is not in the ledger."""
        stored = self.get(document_id)
        return ledger_item(stored) if stored is not None else None

    def on_day(self, entity_id: str, business_date: str) -> list[dict[str, Any]]:
        """The day's documents: their ids from the keys-only index ``by_day_ids``, then the items themselves
        (``BatchGetItem``, strongly consistent) — queried only when a reconciliation or an operator needs names."""
        ids: list[str] = []
        for page in self.client.get_paginator("query").paginate(
                TableName=self._table, IndexName=LEDGER_DAY_INDEX, KeyConditionExpression="day_key = :d",
                ExpressionAttributeValues={":d": value(f"{entity_id}#{business_date}")}):
            ids.extend(str(from_item(item)["document_id"]) for item in page.get("Items", []))
        return self.get_many(ids)

    def get_many(self, document_ids: Sequence[str]) -> list[dict[str, Any]]:
        """The items of ``document_ids`` that exist, in that order (strongly consistent ``BatchGetItem``, 100 keys per
        request; unprocessed keys asked again, up to ``BATCH_GET_ATTEMPTS`` rounds)."""
        unique = list(dict.fromkeys(document_ids))   # BatchGetItem refuses a key twice in one request
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(unique), BATCH_GET_KEYS):
            keys = [{"document_id": value(document_id)} for document_id in unique[start:start + BATCH_GET_KEYS]]
            for _ in range(BATCH_GET_ATTEMPTS):
                response = self.client.batch_get_item(RequestItems={self._table: {"Keys": keys, "ConsistentRead": True}})
                for raw in response.get("Responses", {}).get(self._table, []):
                    item = _unpacked(raw)
                    found[str(item["document_id"])] = item
                keys = response.get("UnprocessedKeys", {}).get(self._table, {}).get("Keys", [])
                if not keys:
                    break
            else:
                raise TransientError(f"{len(keys)} ledger items left unread after {BATCH_GET_ATTEMPTS} rounds",
                                     reason="ledger_batch_get_unprocessed")
        return [found[document_id] for document_id in document_ids if document_id in found]

    def scan(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        for page in self.client.get_paginator("scan").paginate(TableName=self._table, ConsistentRead=True):
            items.extend(_unpacked(item) for item in page.get("Items", []))
        return items

    def scan_projected(self, attributes: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Every item, page by page, with only ``attributes`` (the console's search: an eventually consistent scan;
        DynamoDB still charges each item's full size, the projection only saves the transfer)."""
        names = {f"#a{number}": attribute for number, attribute in enumerate(attributes)}
        for page in self.client.get_paginator("scan").paginate(
                TableName=self._table, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names):
            yield from (_unpacked(item) for item in page.get("Items", []))

    def find(self, kind: str, reference: str) -> list[str]:
        """The ids of the documents whose ``kind`` id (``LEDGER_LOOKUPS``: event, correlation, external, erp) is
        ``reference``, sorted — a query of the keys-only index ``by_<attribute>``, never a scan."""
        attribute = LEDGER_LOOKUPS[kind]
        found: set[str] = set()
        for page in self.client.get_paginator("query").paginate(
                TableName=self._table, IndexName=f"by_{attribute}", KeyConditionExpression="#a = :r",
                ExpressionAttributeNames={"#a": attribute}, ExpressionAttributeValues={":r": value(reference)},
                ProjectionExpression="document_id"):
            found.update(str(from_item(item)["document_id"]) for item in page.get("Items", []))
        return sorted(found)


def _batch_chunks(records: Sequence[Mapping[str, object]]) -> list[list[_Entry]]:
    """The documents of a batch (each once) in chunks that fit one transaction: at most 100 actions (puts plus one
    counter update per counter item) and ``MAX_TRANSACTION_BYTES``."""
    chunks: list[list[_Entry]] = [[]]
    sizes = [0]
    seen: set[object] = set()
    for record in records:
        if record["document_id"] in seen:   # two puts of one item would fail the whole transaction
            continue
        seen.add(record["document_id"])
        key = CounterKey.of(record)
        status = str(record.get("status", DocumentStatus.RECEIVED))
        item = _indexable({**record, "registered_at": int(epoch()), "day_key": f"{key.entity_id}#{key.business_date}"})
        entry = (item, key, _registration_moves(status), status)
        size = len(json.dumps(item, default=str))
        if chunks[-1] and (_transaction_items(chunks[-1] + [entry]) > MAX_TRANSACTION_ITEMS
                           or sizes[-1] + size > MAX_TRANSACTION_BYTES):
            chunks.append([])
            sizes.append(0)
        chunks[-1].append(entry)
        sizes[-1] += size
    return chunks
