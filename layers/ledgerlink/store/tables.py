"""DynamoDB table shapes — one definition used by the CDK constructs and the local runtime."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledgerlink import settings


@dataclass(frozen=True, slots=True)
class Index:
    name: str
    partition_key: str
    sort_key: str | None = None
    projection: str = "ALL"     # or "KEYS_ONLY": written only when its key attribute is set, read back by GetItem


@dataclass(frozen=True, slots=True)
class TableSpec:
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None
    indexes: tuple[Index, ...] = field(default_factory=tuple)
    purpose: str = ""

    def key_attributes(self) -> set[str]:
        names = {self.partition_key, *(name for name in [self.sort_key] if name)}
        for index in self.indexes:
            names.add(index.partition_key)
            if index.sort_key:
                names.add(index.sort_key)
        return names


# What `ledgerlink trace` and `documents list --id` find a document by → the ledger attribute its index keys on.
LEDGER_LOOKUPS: dict[str, str] = {"event": "event_id", "correlation": "correlation_id", "external": "external_id",
                                  "erp": "erp_ref"}

# The ledger's day index: keys only, so a document's status changes never rewrite it (an index projecting every
# attribute is written again, at the item's whole size, on each of the 4–5 writes a document's item takes). It
# replaced ``by_day`` (all attributes): CloudFormation cannot change an index's projection, only build a new one.
LEDGER_DAY_INDEX = "by_day_ids"
RETIRED_LEDGER_DAY_INDEX = Index("by_day", "day_key", "document_id")

TABLES: dict[str, TableSpec] = {
    "inbox": TableSpec("pk", ttl_attribute="expires_at",
                       indexes=(Index("pending_by_day", "pending_day", "pk"),),
                       purpose="webhook dedupe by (source, event id); expires after the retention. "
                               "pending_day exists only until the event is processed (sparse index)"),
    "ledger": TableSpec("document_id", indexes=(Index(LEDGER_DAY_INDEX, "day_key", "document_id", "KEYS_ONLY"),
                                                *(Index(f"by_{attribute}", attribute, "document_id", "KEYS_ONLY")
                                                  for attribute in LEDGER_LOOKUPS.values())),
                        purpose="document / posting ledger: status and ERP reference per document; "
                                "day_key = <entity>#<business date> lists a day's documents for reconciliation "
                                "(keys only: written once per document, not on every status change); "
                                "by_event_id, by_correlation_id, by_external_id, by_erp_ref (keys only) find a "
                                "document from any id a provider or the ERP gave (`ledgerlink trace`)"),
    "config": TableSpec("pk", "sk", purpose="versioned configuration (mappings, entities, sources, policies)"),
    "exceptions": TableSpec("exception_id", indexes=(Index("by_status", "status", "opened_at"),
                                                     Index("by_document", "document_id", "opened_at")),
                            purpose="exception cases for finance ops"),
    "totals": TableSpec("pk", "sk", purpose="control totals (sharded counters) and reconciliation summaries"),
    "audit": TableSpec("pk", "sk", purpose="append-only audit trail: who did what, when (conditional puts only)"),
    "parties": TableSpec("pk", "sk", purpose="master data cross-references: source party ↔ ERP id per connection, "
                                             "and parties announced by CRM/HR events"),
    "cursors": TableSpec("source", purpose="high-water marks of polled sources (Expensify): moved forward only, "
                                           "and only after what they cover is claimed and enqueued"),
    "buckets": TableSpec("bucket_pk", "bucket_sk", indexes=(Index("by_status", "status", "bucket_id"),
                                                            Index("by_bucket", "member_of", "bucket_pk")),
                         purpose="summarized posting: buckets, their summary lines and members (drill-down)"),
    "limiter": TableSpec("connection_id", purpose="ERP connection limiters: token bucket, daily budget, leases"),
    "revenue": TableSpec("pk", "sk", indexes=(Index("open_lines", "open_entity", "pk"),
                                              Index("entity_lines", "line_entity", "pk"),
                                              Index("untied_usage", "open_entity_usage", "pk")),
                         purpose="revenue schedules (lines, changes, what releases posted), release runs, usage "
                                 "aggregates and tie-outs; open_lines lists the lines a release still has work for"),
}

# Table name → the settings env var that carries it.
TABLE_ENV: dict[str, str] = {
    "inbox": settings.INBOX_TABLE,
    "ledger": settings.LEDGER_TABLE,
    "config": settings.CONFIG_TABLE,
    "exceptions": settings.EXCEPTIONS_TABLE,
    "totals": settings.TOTALS_TABLE,
    "audit": settings.AUDIT_TABLE,
    "parties": settings.PARTIES_TABLE,
    "cursors": settings.CURSORS_TABLE,
    "buckets": settings.BUCKETS_TABLE,
    "limiter": settings.LIMITER_TABLE,
    "revenue": settings.REVENUE_TABLE,
}
