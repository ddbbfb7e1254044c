"""Posting-engine rules around the posting rules (``enrich``): what a document's journal becomes before it is
validated and posted, and which other documents' postings it depends on.

- :func:`journal_for`: the journal of a document — a reversal mirrors its original's posted journal; any other
  document is deferred per the revenue policy, shares its refunded invoice's tax (D88) and goes through the
  posting rules; then :func:`engine_adjustments` (compensation links, FX to the base currency, settlement at the
  invoice's booked rate, D90).
- :func:`revenue_facts`: what the document contributes to revenue schedules (the post step stores them).
- :func:`settled_document_id` / :func:`refunded_document_id` and the lookups of the documents they name in the
  posting ledger (:class:`PostedJournals`): posted → its journal; in a case or ignored → a case for this one;
  not posted yet → wait (:class:`TransientError`, retried by the state machine).

The services orchestrate (read the state, call the ports, write the answer); these are the rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ledgerlink.errors import DocumentRejected, TransientError
from ledgerlink.model.ledger import LedgerItem
from ledgerlink.model.status import DocumentStatus

if TYPE_CHECKING:   # models and the other rules are imported where they are used (cold start, D74)
    from ledgerlink.config.model import LedgerLinkConfig
    from ledgerlink.model.documents import Document, JournalEntry, Payment
    from ledgerlink.pipeline.revenue import Facts


class PostedJournals(Protocol):
    """The posting ledger, read by document id (a reversal needs its original's posted journal, a settlement the
    rate its invoice was booked at, a refund its invoice's tax): the stored item as read, or None."""

    def get(self, document_id: str) -> Mapping[str, object] | None: ...


@dataclass(frozen=True, slots=True)
class Enriched:
    """The enrich step's result: the journal, and the revenue facts the post step stores with it."""

    journal: JournalEntry
    revenue: Facts | None


def enriched(document: Document, config: LedgerLinkConfig, *, config_version: int,
             originals: PostedJournals | None = None) -> Enriched:
    """The document's journal after the posting rules and the engine's adjustments, and its revenue facts."""
    journal, posted_as = journal_for(document, config, config_version=config_version, originals=originals)
    journal = engine_adjustments(document, journal, config, originals)
    return Enriched(journal=journal, revenue=revenue_facts(document, posted_as, journal, config))


def journal_for(document: Document, config: LedgerLinkConfig, *, config_version: int,
                originals: PostedJournals | None) -> tuple[JournalEntry, Document]:
    """The journal the posting rules give the document, and the document as it was posted (deferred revenue, a
    refund's shared tax); a reversal mirrors its original's posted journal."""
    from ledgerlink.model.documents import Reversal

    if isinstance(document, Reversal):
        from ledgerlink.pipeline.compensation import reversal_journal

        original = original_journal(document.original_document_id, originals)
        return reversal_journal(document, original, config_version=config_version), document
    from ledgerlink.pipeline import revenue
    from ledgerlink.pipeline.enrich import enrich

    posted_as = revenue.defer(document, config)   # revenue policy: covered lines credit deferred revenue
    refunded = refunded_document_id(document)
    if refunded is not None:   # a refund shares its invoice's tax (D88)
        from ledgerlink.pipeline.refund_tax import with_refunded_tax

        posted_as = with_refunded_tax(_payment(document), refunded_document(refunded, originals))
    return enrich(posted_as, config, config_version=config_version), posted_as


def _payment(document: Document) -> Payment:
    from ledgerlink.model.documents import Payment

    if not isinstance(document, Payment):
        raise TypeError(f"a refund is a payment, not a {document.document_type}")
    return document


def revenue_facts(document: Document, posted_as: Document, journal: JournalEntry,
                  config: LedgerLinkConfig) -> Facts | None:
    """The revenue facts when the document contributes to revenue schedules (the post step stores them)."""
    from ledgerlink.model.documents import Reversal
    from ledgerlink.pipeline import revenue
    from ledgerlink.pipeline.enrich import Accounts

    if isinstance(document, Reversal):   # a voided invoice stops its schedules (D89)
        return revenue.void_facts(document, journal, config) or None
    accounts = Accounts(config, journal.entity_id, document.source.source_id or document.source.system)
    return revenue.facts(document, posted_as, journal, config, accounts) or None


def engine_adjustments(document: Document, journal: JournalEntry, config: LedgerLinkConfig,
                       originals: PostedJournals | None = None) -> JournalEntry:
    """Posting-engine steps after the posting rules: compensation links, then FX conversion to the base currency,
    then — for a converted document that settles an invoice — its receivable and tax relieved at the invoice's
    booked rate, the difference to realized FX (D90)."""
    from ledgerlink.pipeline.compensation import compensation_links
    from ledgerlink.pipeline.enrich import Accounts
    from ledgerlink.pipeline.fx import (
        REALIZED_ROLE,
        ROUNDING_ROLE,
        SETTLED_ROLES,
        convert_to_base,
        settle_at_booked_rates,
    )

    links = tuple(dict.fromkeys((*journal.related_document_ids, *compensation_links(document))))
    if links != journal.related_document_ids:
        journal = journal.model_copy(update={"related_document_ids": links})
    accounts = Accounts(config, journal.entity_id, document.source.source_id or document.source.system)
    converted = convert_to_base(journal, config, lambda: accounts.get(ROUNDING_ROLE))
    settled = settled_document_id(document)
    if converted is journal or settled is None or not any(
            line.role in SETTLED_ROLES and line.original_amount is not None for line in converted.lines):
        return converted
    return settle_at_booked_rates(converted, booked_journal(settled, originals),
                                  lambda: accounts.get(REALIZED_ROLE))


def settled_document_id(document: Document) -> str | None:
    """The invoice whose receivable (or tax) a document relieves: what a payment, refund or credit-note refund
    applies to, what a credit note or write-off names, the invoice a bank line was cash-applied to."""
    from ledgerlink.model.documents import BankTransaction, CreditNote, Payment, WriteOff

    if isinstance(document, Payment | BankTransaction):
        return document.applies_to_document_id
    if isinstance(document, CreditNote | WriteOff):
        return document.original_document_id
    return None


def refunded_document_id(document: Document) -> str | None:
    """What a refund refunds (its invoice, for a Stripe refund), or None for any other document."""
    from ledgerlink.model.documents import Payment

    if isinstance(document, Payment) and document.direction == "refunded":
        return document.applies_to_document_id
    return None


def booked_journal(document_id: str, originals: PostedJournals | None) -> JournalEntry:
    """The settled invoice's posted journal: the rate its receivable and tax were booked at. Not known or not posted
    yet → wait (retried, then a case naming it); in a case or ignored → a case: settling it at a guessed rate is
    refused."""
    return posted_journal(document_id, originals, wait_if_unknown=True, not_posted=lambda status: DocumentRejected(
        f"{document_id}, which this document settles, was not posted ({status}): the rate its receivable was booked "
        "at is unknown", reason="fx_booked_rate_unknown", original=document_id,
        suggested_fix="post (or resolve) the settled document first, then retry this one"),
        pending=lambda: TransientError(f"{document_id}, which this document settles in a foreign currency, is not "
                                       "posted yet", reason="fx_booked_rate_pending", original=document_id))


def original_journal(document_id: str, originals: PostedJournals | None) -> JournalEntry:
    """The posted journal a reversal undoes, from the posting ledger."""
    return posted_journal(document_id, originals, wait_if_unknown=False, not_posted=lambda status: DocumentRejected(
        f"the original document {document_id} was not posted ({status})", reason="original_not_posted",
        original=document_id, suggested_fix="post (or resolve) the original first, then retry this reversal"),
        pending=lambda: TransientError(f"the original document {document_id} is still being posted",
                                       reason="original_pending"))


def _read(document_id: str, originals: PostedJournals | None) -> LedgerItem | None:
    stored = originals.get(document_id) if originals is not None else None
    return LedgerItem.parse(stored) if stored is not None else None


def posted_journal(document_id: str, originals: PostedJournals | None, *, wait_if_unknown: bool,
                   not_posted: Callable[[str], DocumentRejected], pending: Callable[[], TransientError]) -> JournalEntry:
    """Another document's posted journal from the posting ledger: in a case or ignored (or unknown, unless
    ``wait_if_unknown``) → ``not_posted``; still being posted → ``pending`` (the state machine retries it)."""
    item = _read(document_id, originals)
    status = item.status_text if item is not None else None
    if status in (DocumentStatus.EXCEPTION, DocumentStatus.IGNORED) or (item is None and not wait_if_unknown):
        raise not_posted(status or "unknown")
    if item is None or status == DocumentStatus.RECEIVED or not item.journal:
        raise pending()
    from ledgerlink.model.documents import JournalEntry

    return JournalEntry.model_validate_json(item.journal)


def refunded_document(document_id: str, originals: PostedJournals | None) -> Document:
    """The document a refund names (its invoice, whose tax it shares, D88), as the source reported it: from the
    posting ledger, posted or not. Not known yet (the refund arrived first) → wait: a :class:`TransientError` the
    state machine retries; when it gives up, the case names the invoice and a retry after it arrived posts."""
    item = _read(document_id, originals)
    if item is None or item.document is None:
        raise TransientError(f"the document {document_id} this refund refunds is not known yet: its tax share "
                             "cannot be computed", reason="refunded_invoice_pending", original=document_id)
    from ledgerlink.model.documents import DocumentAdapter

    return DocumentAdapter.validate_json(item.document)
