"""The embedded ERP: a Beancount double-entry book.

Layout (a directory locally, an S3 prefix on AWS)::

    main.beancount              options, one ``open`` per mapped account, include "postings/*.beancount"
    postings/<document id>.beancount   one transaction per posted document, never edited

Exactly once: a posting file is created only if absent (atomic), so a retry, a replay or a second
execution finds the posting instead of writing another. Every transaction carries the document id
(as metadata and as a ``^link``), the correlation id, the source reference and the configuration
version, so a line in the book traces back to the webhook that caused it. The book passes
Beancount's own ``bean-check`` (tests and ``make demo`` run it).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

from ledgerlink.config.model import Entity, LedgerLinkConfig
from ledgerlink.connectors.erps.base import (
    ConnectionLimits,
    DayLister,
    PartyKeeper,
    PeriodStatus,
    PostResult,
    Preparer,
)
from ledgerlink.connectors.erps.beancount.config import BeancountConnection
from ledgerlink.model.documents import JournalEntry, Party
from ledgerlink.model.ids import fingerprint
from ledgerlink.store.books import BookStore

MAIN_FILE = "main.beancount"
POSTINGS_DIR = "postings"
PARTIES_DIR = "parties"
_OPEN = re.compile(r"^\d{4}-\d{2}-\d{2} open (\S+)", re.MULTILINE)
_POSTING_LINE = re.compile(r"^\s{2}([A-Z][A-Za-z0-9:\-]+)\s+(-?\d+(?:\.\d+)?)\s+([A-Z][A-Z0-9'._\-]{0,22}[A-Z0-9])\s*$")
_TRANSACTION_DATE = re.compile(r"^\d{4}-\d{2}-\d{2} [*!]")
_LINK_SAFE = re.compile(r"[^A-Za-z0-9\-_/.]")
_META = re.compile(r'^  ([a-z_]+): "([^"]*)"$', re.MULTILINE)


def _quote(text: str) -> str:
    cleaned = " ".join(str(text).split())  # no newlines/tabs inside a Beancount string
    return '"' + cleaned.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _meta_key(key: str) -> str:
    """A Beancount metadata key: lower-case, and it must start with a letter (``1st`` would not parse)."""
    cleaned = re.sub(r"[^a-z0-9_]", "_", key.lower())
    return cleaned if cleaned[:1].isalpha() else f"dim_{cleaned}"


def posting_name(external_id: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_\-]{1,128}", external_id):
        raise ValueError(f"external id {external_id!r} is not file-safe")
    return f"{POSTINGS_DIR}/{external_id}.beancount"


def render_transaction(journal: JournalEntry) -> str:
    source = journal.source
    narration = journal.memo or f"{source.object_type} {source.object_id}"
    links = " ".join("^" + _LINK_SAFE.sub("-", link)
                     for link in (journal.document_id, *journal.related_document_ids))
    meta = {
        "document_id": journal.document_id,
        "correlation_id": journal.correlation_id,
        "entity": journal.entity_id,
        "source": f"{source.system} {source.object_type} {source.object_id} {source.version}",
        "event_id": source.event_id,
        "archive_key": source.archive_key,
        "business_date": (journal.original_accounting_date or journal.accounting_date).isoformat(),
        "config_version": str(journal.mapping_version) if journal.mapping_version is not None else None,
        "original_date": journal.original_accounting_date.isoformat() if journal.original_accounting_date else None,
        "fx_rate": (f"{journal.fx.from_currency}->{journal.fx.to_currency} {journal.fx.rate} "
                    f"({journal.fx.source}, {journal.fx.rate_date})") if journal.fx else None,
    }
    out = [f"{journal.accounting_date.isoformat()} * {_quote(source.system)} {_quote(narration)} {links}".rstrip()]
    out += [f"  {key}: {_quote(val)}" for key, val in meta.items() if val]
    width = max(len(line.account) for line in journal.lines) + 2
    for line in journal.lines:
        out.append(f"  {line.account.ljust(width)}{line.amount.canonical():>16} {line.amount.currency}")
        if line.memo:
            out.append(f"    memo: {_quote(line.memo)}")
        if line.original_amount is not None:
            out.append(f"    original_amount: {_quote(str(line.original_amount))}")
        for key, val in sorted(line.dimensions.items()):
            out.append(f"    {_meta_key(key)}: {_quote(val)}")
    return "\n".join(out) + "\n"


def render_main(connection: BeancountConnection, accounts: set[str], currencies: set[str],
                *, config_version: int | None) -> str:
    lines = [
        f"; LedgerLink book {connection.book!r} (ERP connection {connection.id!r}).",
        f"; Generated from configuration version {config_version}. Postings live in {POSTINGS_DIR}/, one file",
        "; per document, named by document id; they are never edited (corrections are new entries).",
        f"option \"title\" {_quote(connection.title)}",
    ]
    lines += [f"option \"operating_currency\" \"{currency}\"" for currency in sorted(currencies)]
    lines.append("")
    lines += [f"{connection.open_date.isoformat()} open {account}" for account in sorted(accounts)]
    lines += ["", f"include \"{PARTIES_DIR}/*.beancount\"", f"include \"{POSTINGS_DIR}/*.beancount\"", ""]
    return "\n".join(lines)


class BeancountBook:
    """ERP connector over a :class:`BookStore`. Period control comes from the entity configuration."""

    def __init__(self, connection: BeancountConnection, store: BookStore) -> None:
        self.connection = connection
        self.connection_id = connection.id
        self.store = store
        self._opened: set[str] | None = None

    # ---- book header ---------------------------------------------------------------------------

    def opened_accounts(self) -> set[str]:
        if self._opened is None:
            text = self.store.read(MAIN_FILE) or ""
            self._opened = set(_OPEN.findall(text))
        return self._opened

    def ensure_accounts(self, accounts: set[str], currencies: set[str], *, config_version: int | None) -> bool:
        """Open any missing account (accounts are only ever added). Returns True if the header changed."""
        opened = self.opened_accounts()
        if accounts <= opened and self.store.read(MAIN_FILE) is not None:
            return False
        merged = opened | accounts
        self.store.write(MAIN_FILE, render_main(self.connection, merged, currencies, config_version=config_version))
        # Beancount refuses an include glob that matches nothing: the parties directory always has this file
        self.store.create(f"{PARTIES_DIR}/_index.beancount", f"; master data of book {self.connection.book!r}\n")
        self._opened = merged
        return True

    def prepare(self, config: LedgerLinkConfig, *, config_version: int) -> None:
        """Before posting with ``config``: open every account mapped for entities on this connection."""
        currencies = {entity.base_currency for entity in config.entities if entity.erp_connection == self.connection_id}
        self.ensure_accounts(config.all_accounts[self.connection_id], currencies, config_version=config_version)

    # ---- connector interface -------------------------------------------------------------------

    def post_journal(self, journal: JournalEntry) -> PostResult:
        missing = {line.account for line in journal.lines} - self.opened_accounts()
        if missing:
            raise ValueError(f"accounts not opened in book {self.connection.book!r}: {sorted(missing)}")
        name = posting_name(journal.document_id)
        created = self.store.create(name, render_transaction(journal))
        return PostResult(erp_ref=self.store.location(name), created=created)

    def ensure_party(self, party: Party) -> str:
        """Master data in the book: one ``custom "party"`` directive per party, written once."""
        erp_id = f"{party.role}:{party.source_id}"
        name = f"{PARTIES_DIR}/{party.role}-{fingerprint(party.source_id)[:24]}.beancount"
        self.store.create(name, f'{self.connection.open_date.isoformat()} custom "party" {_quote(party.role)} '
                                f'{_quote(party.source_id)} {_quote(party.name or party.source_id)}\n')
        return erp_id

    def find_by_external_id(self, external_id: str, kind: str | None = None) -> PostResult | None:
        """A book holds one record type (a transaction per document): ``kind`` does not narrow anything."""
        name = posting_name(external_id)
        return PostResult(erp_ref=self.store.location(name), created=False) if self.store.read(name) else None

    def period_status(self, entity: Entity, on: date) -> PeriodStatus:
        closed = entity.closed_through is not None and on <= entity.closed_through
        return PeriodStatus(open=not closed, closed_through=entity.closed_through, source="config")

    def limits(self) -> ConnectionLimits:
        return ConnectionLimits(requests_per_minute=None, daily_budget=None, max_concurrency=None, bulk_size=1)

    # ---- what else it does (the port's capability questions) ------------------------------------

    def as_bulk_poster(self) -> None:
        return None   # one posting file per document

    def as_document_poster(self) -> None:
        return None   # journals only

    def as_party_keeper(self) -> PartyKeeper:
        return self

    def as_reader(self) -> None:
        return None   # no API to read back: reconciliation lists the book's postings by id (as_day_lister)

    def as_day_lister(self) -> DayLister:
        return self

    def as_preparer(self) -> Preparer:
        return self

    def api_calls(self) -> None:
        return None

    # ---- reporting -----------------------------------------------------------------------------

    def posting_names(self) -> list[str]:
        return self.store.names(POSTINGS_DIR)

    def posted_on(self, entity_id: str, business_date: str) -> list[str]:
        """External ids posted for an entity's business date (reconciliation reads the book itself)."""
        return sorted(self._postings_on(entity_id, business_date))

    def posted_count(self, entity_id: str, business_date: str) -> int:
        """How many postings the book holds for an entity's business date (what reconciliation compares first)."""
        return sum(1 for _ in self._postings_on(entity_id, business_date))

    def _postings_on(self, entity_id: str, business_date: str) -> Iterator[str]:
        for name in self.posting_names():
            meta = dict(_META.findall(self.store.read(name) or ""))
            if meta.get("entity") == entity_id and meta.get("business_date") == business_date:
                yield meta.get("document_id") or name.rsplit("/", 1)[-1].removesuffix(".beancount")

    def trial_balance(self, through: date | None = None, entity_id: str | None = None
                      ) -> dict[tuple[str, str], Decimal]:
        """(account, currency) → balance, summed from the posting files (pure text, no Beancount import); only
        transactions dated on or before ``through`` and of ``entity_id``, when given."""
        return {key: sum(documents.values(), Decimal(0))
                for key, documents in self.document_balances(through, entity_id).items()}

    def document_balances(self, through: date | None = None, entity_id: str | None = None
                          ) -> dict[tuple[str, str], dict[str, Decimal]]:
        """(account, currency) → document id → what that document's posting file holds in the account: the trial
        balance per document (the close check's drill-down), with the same filters as :meth:`trial_balance`."""
        totals: dict[tuple[str, str], dict[str, Decimal]] = defaultdict(dict)
        for name in self.posting_names():
            text = self.store.read(name) or ""
            if entity_id is not None and f'  entity: "{entity_id}"' not in text:
                continue
            document_id = dict(_META.findall(text)).get("document_id") or name.rsplit("/", 1)[-1].removesuffix(
                ".beancount")
            included = through is None
            for raw in text.splitlines():
                if through is not None and _TRANSACTION_DATE.match(raw):
                    included = date.fromisoformat(raw[:10]) <= through
                match = _POSTING_LINE.match(raw) if included else None
                if match:
                    held = totals[(match.group(1), match.group(3))]
                    held[document_id] = held.get(document_id, Decimal(0)) + Decimal(match.group(2))
        return dict(sorted(totals.items()))
