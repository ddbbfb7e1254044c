"""Summary buckets in DynamoDB: a document lands in exactly one bucket, even when delivered twice.

Items (table ``buckets``, keys ``bucket_pk``/``bucket_sk``)::

    HEAD#<scope key> / HEAD        open_seq: the sequence new documents of this scope go to
    B#<bucket id>    / META        status (open → sealed → posted → done, or exception), scope, documents
    B#<bucket id>    / L#<line>    account, dimensions, amount (exact decimal), documents
    M#<document id>  / M           member_of (bucket id), its contributions per line (drill-down)

Adding a document is one ``TransactWriteItems``: put the member item *only if absent* (the exactly-once
guard: a second delivery is refused), check the scope's open sequence is still the one read, and ``ADD``
the amounts to the bucket's lines. Sealing moves the scope's ``open_seq`` on and marks the bucket sealed
in one transaction, so no document can join a bucket once the flush has taken it: a transaction racing the
seal fails its check and retries into the next bucket. Indexes: ``by_status`` (status, bucket_id) lists
the buckets the flush has work for; ``by_bucket`` (member_of, bucket_pk) gives the drill-down.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from ledgerlink.clock import epoch
from ledgerlink.errors import TransientError
from ledgerlink.model.buckets import (
    Bucket,
    BucketMember,
    BucketScope,
    BucketStatus,
    Contribution,
    MemberLine,
    Membership,
    SummaryLine,
)
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code
from ledgerlink.store.dynamo import MAX_TRANSACTION_ITEMS, from_item, to_item, value

__all__ = ["FIXED_ITEMS", "Bucket", "DynamoBuckets", "Membership", "TooManyLines"]

FIXED_ITEMS = 3   # member put, head check, meta update

# A DynamoDB item as ``from_item`` reads it: attribute → plain value (str, int, Decimal, list, dict, None). Read
# through the narrowing helpers below, never indexed into blindly.
type Item = Mapping[str, object]
# One entry of a ``TransactWriteItems`` request (boto3's request shape; built here, only passed on).
type WriteRequest = dict[str, object]


class TooManyLines(ValueError):
    """More summary lines than one transaction can update: post the document line-level instead."""


def _text(item: Item, key: str) -> str:
    found = item[key]
    if not isinstance(found, str):
        raise TypeError(f"bucket item attribute {key!r} is not a string: {found!r}")
    return found


def _optional_text(item: Item, key: str) -> str | None:
    return _text(item, key) if item.get(key) is not None else None


def _whole(found: object) -> int:
    if isinstance(found, (int, Decimal, str)):
        return int(found)
    raise TypeError(f"not a number: {found!r}")


def _scope_item(scope: BucketScope) -> dict[str, str]:
    return {"connection_id": scope.connection_id, "entity_id": scope.entity_id,
            "accounting_date": scope.accounting_date.isoformat(), "currency": scope.currency,
            "source_id": scope.source_id, "document_type": scope.document_type}


def _scope_of(item: Item) -> BucketScope:
    return BucketScope(connection_id=_text(item, "connection_id"), entity_id=_text(item, "entity_id"),
                       accounting_date=date.fromisoformat(_text(item, "accounting_date")),
                       currency=_text(item, "currency"), source_id=_text(item, "source_id"),
                       document_type=_text(item, "document_type"))


def _member_of(item: Item) -> BucketMember:
    lines = item.get("lines")
    return BucketMember(
        document_id=_text(item, "document_id"), member_of=_text(item, "member_of"),
        sequence=_whole(item.get("sequence", 0)), correlation_id=_optional_text(item, "correlation_id"),
        lines=tuple(MemberLine(line=_text(line, "line"), account=str(line.get("account", "")),
                               amount=Decimal(str(line.get("amount", 0))))
                    for line in (lines if isinstance(lines, list) else []) if isinstance(line, Mapping)))


def _member_item(document_id: str, bucket_id: str, sequence: int, correlation_id: str,
                 contributions: list[Contribution]) -> dict[str, object]:
    return {"bucket_pk": f"M#{document_id}", "bucket_sk": "M", "member_of": bucket_id, "document_id": document_id,
            "sequence": sequence,
            "correlation_id": correlation_id, "added_at": int(epoch()),
            "lines": [{"line": c.line_key, "account": c.account, "amount": c.amount}
                      for c in contributions]}


class DynamoBuckets:
    def __init__(self, table: str, *, client: Any = None) -> None:
        self._table = table
        self._client = client

    @property
    def client(self) -> Any:   # a boto3 DynamoDB client: untyped (no stubs in the Lambda layer)
        return self._client or default_client("dynamodb")

    def _get(self, pk: str, sk: str) -> Item | None:
        item = self.client.get_item(TableName=self._table, Key={"bucket_pk": value(pk), "bucket_sk": value(sk)},
                                    ConsistentRead=True).get("Item")
        return from_item(item) if item else None

    # ---- adding documents --------------------------------------------------------------------------

    def _open_sequence(self, scope: BucketScope) -> int:
        item = self._get(f"HEAD#{scope.key()}", "HEAD")
        if item is not None:
            return _whole(item["open_seq"])
        try:
            self.client.put_item(TableName=self._table, Item=to_item({"bucket_pk": f"HEAD#{scope.key()}", "bucket_sk": "HEAD",
                                                                      "open_seq": 1}),
                                 ConditionExpression="attribute_not_exists(bucket_pk)")
        except Exception as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            return self._open_sequence(scope)
        return 1

    def member(self, document_id: str) -> BucketMember | None:
        item = self._get(f"M#{document_id}", "M")
        return _member_of(item) if item is not None else None

    def _add_requests(self, document_id: str, scope: BucketScope, contributions: list[Contribution],
                      sequence: int, correlation_id: str) -> list[WriteRequest]:
        bucket_id = scope.bucket_id(sequence)
        member = _member_item(document_id, bucket_id, sequence, correlation_id, contributions)
        items: list[WriteRequest] = [
            {"Put": {"TableName": self._table, "Item": to_item(member),
                     "ConditionExpression": "attribute_not_exists(bucket_pk)"}},
            {"ConditionCheck": {"TableName": self._table,
                                "Key": {"bucket_pk": value(f"HEAD#{scope.key()}"), "bucket_sk": value("HEAD")},
                                "ConditionExpression": "open_seq = :seq",
                                "ExpressionAttributeValues": {":seq": value(sequence)}}},
            {"Update": {"TableName": self._table, "Key": {"bucket_pk": value(f"B#{bucket_id}"), "bucket_sk": value("META")},
                        "UpdateExpression": "SET #s = if_not_exists(#s, :open), bucket_id = :b, seq = :seq, "
                                            "connection_id = :c, entity_id = :e, accounting_date = :d, "
                                            "currency = :cur, source_id = :src, document_type = :t, "
                                            "correlation_id = if_not_exists(correlation_id, :corr) "
                                            "ADD documents :one",
                        "ConditionExpression": "attribute_not_exists(bucket_pk) OR #s = :open",
                        "ExpressionAttributeNames": {"#s": "status"},
                        "ExpressionAttributeValues": {
                            ":open": value(str(BucketStatus.OPEN)), ":b": value(bucket_id), ":seq": value(sequence),
                            ":one": value(1), ":corr": value(correlation_id),
                            **{f":{k}": value(v) for k, v in zip(
                                ("c", "e", "d", "cur", "src", "t"), _scope_item(scope).values(), strict=True)}}}},
        ]
        for contribution in contributions:
            items.append({"Update": {
                "TableName": self._table,
                "Key": {"bucket_pk": value(f"B#{bucket_id}"), "bucket_sk": value(f"L#{contribution.line_key}")},
                "UpdateExpression": "SET account = :a, dimensions = :dims ADD amount :x, documents :one",
                "ExpressionAttributeValues": {":a": value(contribution.account),
                                              ":dims": value(dict(contribution.dimensions)),
                                              ":x": value(contribution.amount), ":one": value(1)}}})
        return items

    def add(self, document_id: str, scope: BucketScope, contributions: list[Contribution], *,
            correlation_id: str) -> Membership:
        if len(contributions) + FIXED_ITEMS > MAX_TRANSACTION_ITEMS:
            raise TooManyLines(f"{len(contributions)} summary lines in one document")
        for _ in range(10):
            sequence = self._open_sequence(scope)
            try:
                self.client.transact_write_items(
                    TransactItems=self._add_requests(document_id, scope, contributions, sequence, correlation_id))
            except Exception as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
                reasons = [r.get("Code") for r in getattr(exc, "response", {}).get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    existing = self.member(document_id)
                    if existing is not None:   # delivered before: it is already in exactly one bucket
                        return Membership(existing.member_of, existing.sequence, added=False)
                continue   # the bucket was sealed meanwhile (or a write conflict): go again, next sequence
            return Membership(scope.bucket_id(sequence), sequence, added=True)
        raise TransientError(f"could not add {document_id} to a bucket (contention)", reason="bucket_contention")

    # ---- reading and sealing -----------------------------------------------------------------------

    def bucket(self, bucket_id: str) -> Bucket | None:
        item = self._get(f"B#{bucket_id}", "META")
        return self._bucket(item) if item is not None else None

    @staticmethod
    def _bucket(item: Item) -> Bucket:
        return Bucket(bucket_id=_text(item, "bucket_id"), status=_text(item, "status"), scope=_scope_of(item),
                      sequence=_whole(item["seq"]), documents=_whole(item.get("documents", 0)),
                      erp_ref=_optional_text(item, "erp_ref"), correlation_id=_optional_text(item, "correlation_id"),
                      exception_id=_optional_text(item, "exception_id"))

    def _query(self, **request: object) -> list[Item]:
        return [from_item(item) for page in self.client.get_paginator("query").paginate(TableName=self._table, **request)
                for item in page.get("Items", [])]

    def by_status(self, status: str) -> list[Bucket]:
        buckets = [self._bucket(item) for item in self._query(
            IndexName="by_status", KeyConditionExpression="#s = :s",
            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":s": value(str(status))})]
        return sorted(buckets, key=lambda b: (b.scope.accounting_date, b.bucket_id))

    def lines(self, bucket_id: str) -> list[SummaryLine]:
        lines: list[SummaryLine] = []
        for item in self._query(ConsistentRead=True, KeyConditionExpression="bucket_pk = :pk AND begins_with(bucket_sk, :l)",
                                ExpressionAttributeValues={":pk": value(f"B#{bucket_id}"), ":l": value("L#")}):
            dimensions = item.get("dimensions") or {}
            lines.append(SummaryLine(line_key=_text(item, "bucket_sk")[2:], account=_text(item, "account"),
                                     dimensions={str(k): str(v) for k, v in dict(dimensions).items()}
                                     if isinstance(dimensions, Mapping) else {},
                                     amount=Decimal(str(item["amount"])), documents=_whole(item["documents"])))
        return lines

    def members(self, bucket_id: str) -> list[BucketMember]:
        """Drill-down: the source documents of a bucket (index, eventually consistent)."""
        return [_member_of(item) for item in self._query(
            IndexName="by_bucket", KeyConditionExpression="member_of = :b",
            ExpressionAttributeValues={":b": value(bucket_id)})]

    def drill_down(self, bucket_id: str, line: str) -> list[str]:
        """The document ids behind one summary line (its drill-down key is in the posted line's memo)."""
        return sorted(member.document_id for member in self.members(bucket_id)
                      if any(contribution.line == line for contribution in member.lines))

    def seal(self, bucket: Bucket) -> bool:
        """Close the bucket to new documents (they go to the next sequence). False if someone else sealed it."""
        head = {"bucket_pk": value(f"HEAD#{bucket.scope.key()}"), "bucket_sk": value("HEAD")}
        try:
            self.client.transact_write_items(TransactItems=[
                {"Update": {"TableName": self._table, "Key": head, "UpdateExpression": "SET open_seq = :next",
                            "ConditionExpression": "open_seq = :seq",
                            "ExpressionAttributeValues": {":seq": value(bucket.sequence),
                                                          ":next": value(bucket.sequence + 1)}}},
                {"Update": {"TableName": self._table,
                            "Key": {"bucket_pk": value(f"B#{bucket.bucket_id}"), "bucket_sk": value("META")},
                            "UpdateExpression": "SET #s = :sealed, sealed_at = :now",
                            "ConditionExpression": "#s = :open", "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": {":sealed": value(str(BucketStatus.SEALED)),
                                                          ":open": value(str(BucketStatus.OPEN)),
                                                          ":now": value(int(epoch()))}}},
            ])
        except Exception as exc:
            if error_code(exc) == "TransactionCanceledException":
                return False
            raise
        return True

    def mark(self, bucket_id: str, status: str, *, expected: str, **attributes: str | int | None) -> bool:
        names = {"#s": "status", **{f"#a{i}": k for i, k in enumerate(attributes)}}
        values = {":new": value(str(status)), ":old": value(str(expected)),
                  **{f":v{i}": value(v) for i, v in enumerate(attributes.values())}}
        sets = ", ".join(["#s = :new"] + [f"#a{i} = :v{i}" for i in range(len(attributes))])
        try:
            self.client.update_item(TableName=self._table, Key={"bucket_pk": value(f"B#{bucket_id}"), "bucket_sk": value("META")},
                                    UpdateExpression=f"SET {sets}", ConditionExpression="#s = :old",
                                    ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True
