"""Revenue schedules, release runs and usage aggregates in DynamoDB (table ``revenue``, keys ``pk``/``sk``).

Items::

    I#<invoice document id> / L#<schedule id>   a schedule line: the line (JSON), what releases posted
                                                (released per period, reclassified per fact, runs applied);
                                                open_entity (index open_lines) while it has work left,
                                                line_entity (index entity_lines) always
    I#<invoice document id> / F#<fact id>       a credit-note line or refund against the invoice
    S#<subscription id>     / F#<fact id>       a cancellation of the subscription
    REF#<document id>       / REF               which invoice a schedule or fact document belongs to
    R#<entity>              / RUN#<period>#<seq>  a release run: status planned → done, its journals
    RUN#<run id>            / D#<schedule id>   a planned line delta (what the run posts for the line)
    U#<entity>#<event>#<customer> / H#<hour>   usage: sum of meter event values per UTC hour
    UE#<event>#<identifier> / E                 a meter event, claimed once (its identifier dedupes it)
    I#<invoice document id> / T#<line id>       usage tie-out of a metered invoice line; open_entity_usage
                                                (index untied_usage) while metered and billed differ

Every fact is a conditional put (a redelivery writes nothing); applying a run to a line is conditioned on
the run not being applied yet (``applied.<run id>``), so a resumed run never counts twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from ledgerlink.clock import epoch
from ledgerlink.model.revenue import (
    LineDelta,
    LineState,
    ReleaseRun,
    RevenueFact,
    ScheduleLine,
    TieOut,
    release_run,
)
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import conditional, error_code
from ledgerlink.store.dynamo import MAX_TRANSACTION_ITEMS, from_item, to_item, value

if TYPE_CHECKING:
    from ledgerlink.model.documents import UsageRecord

# A DynamoDB item as ``from_item`` reads it: attribute → plain value (str, int, Decimal, list, dict, None); read
# through ``_text`` / ``_map`` / ``_decimal``, never indexed into blindly.
type Item = Mapping[str, object]
# One entry of a ``TransactWriteItems`` request (boto3's request shape; built here, only passed on).
type WriteRequest = dict[str, object]


def _decimal(raw: object) -> Decimal:
    return Decimal(str(raw))


def _text(item: Item, key: str) -> str:
    found = item[key]
    if not isinstance(found, str):
        raise TypeError(f"revenue item attribute {key!r} is not a string: {found!r}")
    return found


def _map(item: Item, key: str) -> Mapping[str, object]:
    found = item.get(key)
    return found if isinstance(found, Mapping) else {}


def hour_key(instant: datetime) -> str:
    return instant.strftime("%Y-%m-%dT%H")


class DynamoRevenue:
    def __init__(self, table: str, *, client: Any = None) -> None:
        self._table = table
        self._client = client

    @property
    def client(self) -> Any:   # a boto3 DynamoDB client: untyped (no stubs in the Lambda layer)
        return self._client or default_client("dynamodb")

    def _put_new(self, item: dict[str, object]) -> bool:
        return conditional(self.client.put_item, TableName=self._table, Item=to_item(item),
                           ConditionExpression="attribute_not_exists(pk)")

    def _query(self, **kwargs: object) -> Iterator[Item]:
        for page in self.client.get_paginator("query").paginate(TableName=self._table, **kwargs):
            for item in page.get("Items", []):
                yield from_item(item)

    def _partition(self, pk: str, prefix: str = "") -> list[Item]:
        condition = "pk = :pk" + (" AND begins_with(sk, :sk)" if prefix else "")
        values = {":pk": value(pk), **({":sk": value(prefix)} if prefix else {})}
        return list(self._query(KeyConditionExpression=condition, ExpressionAttributeValues=values,
                                ConsistentRead=True))

    # ---- facts (post step, normalize step) -----------------------------------------------------------

    def add_line(self, line: ScheduleLine) -> bool:
        added = self._put_new({
            "pk": f"I#{line.invoice_document_id}", "sk": f"L#{line.schedule_id}", "kind": "line",
            "schedule_id": line.schedule_id, "line_entity": line.entity_id, "open_entity": line.entity_id,
            "line": line.model_dump_json(), "released": {}, "reclassed_amount": {}, "reclassed_account": {},
            "applied": {}, "added_at": int(epoch())})
        self._reference(line.schedule_id, line.invoice_document_id)
        self._reference(line.invoice_document_id, line.invoice_document_id)
        return added

    def add_fact(self, fact: RevenueFact) -> bool:
        """Store a change; the lines it can affect get work again (a late credit reopens a finished line)."""
        if fact.kind == "cancellation":
            return self._put_new({"pk": f"S#{fact.subscription_id}", "sk": f"F#{fact.fact_id}", "kind": "fact",
                                  "fact": fact.model_dump_json(), "added_at": int(epoch())})
        assert fact.invoice_document_id is not None
        added = self._put_new({"pk": f"I#{fact.invoice_document_id}", "sk": f"F#{fact.fact_id}", "kind": "fact",
                               "fact": fact.model_dump_json(), "added_at": int(epoch())})
        self._reference(fact.document_id, fact.invoice_document_id)
        for item in self._partition(f"I#{fact.invoice_document_id}", "L#"):
            if "open_entity" not in item:
                self.client.update_item(TableName=self._table, Key={"pk": value(item["pk"]), "sk": value(item["sk"])},
                                        UpdateExpression="SET open_entity = :e",
                                        ExpressionAttributeValues={":e": value(item["line_entity"])})
        return added

    def _reference(self, document_id: str, invoice_document_id: str) -> None:
        self._put_new({"pk": f"REF#{document_id}", "sk": "REF", "invoice_document_id": invoice_document_id})

    # ---- reading schedules --------------------------------------------------------------------------

    @staticmethod
    def _line(item: Item) -> tuple[ScheduleLine, LineState]:
        line = ScheduleLine.model_validate_json(_text(item, "line"))
        amounts = _map(item, "reclassed_amount")
        accounts = _map(item, "reclassed_account")
        state = LineState(released={period: _decimal(amount) for period, amount in _map(item, "released").items()},
                          reclassed={fact: (str(accounts.get(fact, "")), _decimal(amount))
                                     for fact, amount in amounts.items()})
        return line, state

    def invoice(self, invoice_document_id: str) -> tuple[list[tuple[ScheduleLine, LineState]], list[RevenueFact]]:
        """An invoice's schedule lines (with what was posted) and the facts against it."""
        lines: list[tuple[ScheduleLine, LineState]] = []
        facts: list[RevenueFact] = []
        for item in self._partition(f"I#{invoice_document_id}"):
            if _text(item, "sk").startswith("L#"):
                lines.append(self._line(item))
            elif _text(item, "sk").startswith("F#"):
                facts.append(RevenueFact.model_validate_json(_text(item, "fact")))
        return lines, facts

    def subscription_facts(self, subscription_id: str) -> list[RevenueFact]:
        return [RevenueFact.model_validate_json(_text(item, "fact"))
                for item in self._partition(f"S#{subscription_id}", "F#")]

    def invoice_of(self, document_id: str) -> str | None:
        item = self.client.get_item(TableName=self._table, Key={"pk": value(f"REF#{document_id}"), "sk": value("REF")},
                                    ConsistentRead=True).get("Item")
        return _text(from_item(item), "invoice_document_id") if item else None

    def entity_lines(self, entity_id: str, *, open_only: bool = False) -> list[tuple[ScheduleLine, LineState]]:
        index, attribute = ("open_lines", "open_entity") if open_only else ("entity_lines", "line_entity")
        return [self._line(item) for item in self._query(
            IndexName=index, KeyConditionExpression=f"{attribute} = :e", ExpressionAttributeValues={":e": value(entity_id)})]

    def entities(self) -> list[str]:
        """Every entity with schedule lines (a scan of the line index keys; operators' reports only)."""
        seen: set[str] = set()
        for page in self.client.get_paginator("scan").paginate(TableName=self._table, IndexName="entity_lines",
                                                               ProjectionExpression="line_entity"):
            seen.update(_text(from_item(item), "line_entity") for item in page.get("Items", []))
        return sorted(seen)

    # ---- release runs -------------------------------------------------------------------------------

    def runs(self, entity_id: str) -> list[ReleaseRun]:
        return sorted((release_run(item) for item in self._partition(f"R#{entity_id}", "RUN#")),
                      key=lambda run: run.get("sk", ""))

    def claim_run(self, run: ReleaseRun, deltas: Iterable[LineDelta]) -> bool:
        """Write the plan (deltas first, then the run item, conditionally): False if that run exists."""
        requests = [{"PutRequest": {"Item": to_item({"pk": f"RUN#{run['run_id']}", "sk": f"D#{delta.schedule_id}",
                                                     "delta": json.dumps(delta.to_dict())})}} for delta in deltas]
        for start in range(0, len(requests), 25):
            pending = {self._table: requests[start:start + 25]}
            for _ in range(8):
                unprocessed = self.client.batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
                if not unprocessed:
                    break
                pending = unprocessed
                time.sleep(0.05)
            else:
                raise RuntimeError("DynamoDB left release plan items unprocessed")
        return self._put_new({"pk": f"R#{run['entity_id']}", "sk": f"RUN#{run['period']}#{int(run['sequence']):04d}",
                              **run, "status": "planned", "created_at": int(epoch())})

    def planned(self, run_id: str) -> list[LineDelta]:
        return [LineDelta.from_dict(json.loads(_text(item, "delta"))) for item in self._partition(f"RUN#{run_id}", "D#")]

    def update_run(self, run: ReleaseRun, **attributes: str | int | list[str]) -> None:
        names = {f"#a{i}": key for i, key in enumerate(attributes)}
        self.client.update_item(
            TableName=self._table, Key={"pk": value(run["pk"]), "sk": value(run["sk"])},
            UpdateExpression="SET " + ", ".join(f"#a{i} = :v{i}" for i in range(len(attributes))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues={f":v{i}": value(v) for i, v in enumerate(attributes.values())})

    def apply(self, invoice_document_id: str, delta: LineDelta, *, run_id: str, period: str,
              close: bool = False) -> bool:
        """Count a posted delta on its line, once per run (False: this run was applied before)."""
        names = {"#run": run_id, "#p": period}
        values: dict[str, object] = {":zero": value(Decimal(0)), ":rev": value(delta.revenue), ":true": value(True)}
        sets = ["released.#p = if_not_exists(released.#p, :zero) + :rev", "applied.#run = :true"]
        for position, (fact, (account, amount)) in enumerate(sorted(delta.reclass.items())):
            names[f"#f{position}"] = fact
            values[f":a{position}"] = value(amount)
            values[f":c{position}"] = value(account)
            sets.append(f"reclassed_amount.#f{position} = if_not_exists(reclassed_amount.#f{position}, :zero) "
                        f"+ :a{position}")
            sets.append(f"reclassed_account.#f{position} = :c{position}")
        expression = "SET " + ", ".join(sets) + (" REMOVE open_entity" if close else "")
        try:
            self.client.update_item(
                TableName=self._table, Key={"pk": value(f"I#{invoice_document_id}"), "sk": value(f"L#{delta.schedule_id}")},
                UpdateExpression=expression, ConditionExpression="attribute_exists(pk) AND attribute_not_exists(applied.#run)",
                ExpressionAttributeNames=names, ExpressionAttributeValues=values)
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def close_line(self, line: ScheduleLine) -> None:
        """Nothing left to release: the line leaves the open index (a later fact reopens it)."""
        self.client.update_item(TableName=self._table, Key={"pk": value(f"I#{line.invoice_document_id}"),
                                                            "sk": value(f"L#{line.schedule_id}")},
                                UpdateExpression="REMOVE open_entity")

    # ---- usage --------------------------------------------------------------------------------------

    def add_usage(self, entity_id: str, event_name: str, records: Iterable[UsageRecord], *,
                  document_id: str) -> tuple[int, int]:
        """Aggregate meter events per (customer, UTC hour), each identifier exactly once.

        Records of one (customer, hour) go in transactions of up to 99 claims + one ``ADD``; a transaction
        refused because an identifier was seen before is retried record by record. Returns (added, duplicates).
        """
        groups: dict[tuple[str, str], list[UsageRecord]] = {}
        for record in records:
            groups.setdefault((record.customer, hour_key(record.timestamp)), []).append(record)
        added = duplicates = 0
        for (customer, hour), members in sorted(groups.items()):
            for start in range(0, len(members), MAX_TRANSACTION_ITEMS - 1):
                chunk = members[start:start + MAX_TRANSACTION_ITEMS - 1]
                if self._usage_transaction(entity_id, event_name, customer, hour, chunk, document_id):
                    added += len(chunk)
                    continue
                for record in chunk:   # some were seen before: claim one by one
                    if self._usage_transaction(entity_id, event_name, customer, hour, [record], document_id):
                        added += 1
                    else:
                        duplicates += 1
        return added, duplicates

    def _usage_transaction(self, entity_id: str, event_name: str, customer: str, hour: str,
                           records: list[UsageRecord], document_id: str) -> bool:
        total = sum((record.value for record in records), Decimal(0))
        items: list[WriteRequest] = [{"Put": {
            "TableName": self._table, "ConditionExpression": "attribute_not_exists(pk)",
            "Item": to_item({"pk": f"UE#{event_name}#{record.identifier}", "sk": "E", "entity_id": entity_id,
                             "customer": customer, "hour": hour, "value": record.value, "document_id": document_id})}}
            for record in records]
        items.append({"Update": {
            "TableName": self._table, "Key": {"pk": value(f"U#{entity_id}#{event_name}#{customer}"), "sk": value(f"H#{hour}")},
            "UpdateExpression": "ADD #v :total, records :n", "ExpressionAttributeNames": {"#v": "value"},
            "ExpressionAttributeValues": {":total": value(total), ":n": value(len(records))}}})
        try:
            self.client.transact_write_items(TransactItems=items)
        except Exception as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            reasons = [reason.get("Code") for reason in getattr(exc, "response", {}).get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons:
                return False
            raise
        return True

    def usage_between(self, entity_id: str, event_name: str, customer: str, start: datetime, end: datetime
                      ) -> tuple[Decimal, int]:
        """(sum of values, records) of the hours in ``[start, end)`` (hour buckets; Stripe periods are whole hours)."""
        last = hour_key(datetime.fromtimestamp(end.timestamp() - 1, tz=end.tzinfo))
        total, count = Decimal(0), 0
        for item in self._query(KeyConditionExpression="pk = :pk AND sk BETWEEN :a AND :b", ConsistentRead=True,
                                ExpressionAttributeValues={":pk": value(f"U#{entity_id}#{event_name}#{customer}"),
                                                           ":a": value(f"H#{hour_key(start)}"), ":b": value(f"H#{last}")}):
            total += _decimal(item.get("value", 0))
            count += int(_decimal(item.get("records", 0)))
        return total, count

    def put_tie_out(self, invoice_document_id: str, line_id: str, tie: TieOut) -> None:
        self.client.put_item(TableName=self._table, Item=to_item({"pk": f"I#{invoice_document_id}", "sk": f"T#{line_id}",
                                                                  "kind": "usage_tie", "open_entity_usage":
                                                                  tie["entity_id"] if tie["status"] != "tied" else None,
                                                                  **tie}))

    def tie_outs(self, invoice_document_id: str) -> list[Item]:
        """Stored tie-outs as read (``TieOut`` plus the item's keys and bookkeeping attributes)."""
        return self._partition(f"I#{invoice_document_id}", "T#")

    def untied(self, entity_id: str) -> list[Item]:
        return list(self._query(IndexName="untied_usage", KeyConditionExpression="open_entity_usage = :e",
                                ExpressionAttributeValues={":e": value(entity_id)}))
