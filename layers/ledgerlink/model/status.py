"""Document statuses in the ledger, and the groups of them the steps reason about.

``DocumentStatus`` is a ``StrEnum``: it is stored in DynamoDB and written to JSON as its plain value
("posted"), and compares equal to that string, so items written before the enum existed read back
unchanged.
"""

from __future__ import annotations

from enum import StrEnum


class DocumentStatus(StrEnum):
    RECEIVED = "received"        # registered by normalize; the post step may lease it
    POSTED = "posted"            # the ERP accepted it (its reference is on the item)
    EXCEPTION = "exception"      # an open case holds it; a retry may lease it again
    IGNORED = "ignored"          # finance ops (or a rule) decided it never posts; the reason is on the item
    SUMMARIZED = "summarized"    # folded into a summary journal; the flush posts the summary

    @classmethod
    def parse(cls, value: object) -> DocumentStatus:
        """The status of a stored item; an item without one was registered and nothing more."""
        return cls(str(value)) if value not in (None, "") else cls.RECEIVED


FINAL_STATUSES: frozenset[DocumentStatus] = frozenset(
    {DocumentStatus.POSTED, DocumentStatus.EXCEPTION, DocumentStatus.IGNORED})
# What the post step may lease: a received document, or an exception being retried.
POSTABLE_STATUSES: tuple[DocumentStatus, DocumentStatus] = (DocumentStatus.RECEIVED, DocumentStatus.EXCEPTION)
# The control-total partitions a document moves between ("received" is cumulative, never decremented).
COUNTED_PARTITIONS: frozenset[DocumentStatus] = frozenset(
    {DocumentStatus.POSTED, DocumentStatus.EXCEPTION, DocumentStatus.IGNORED, DocumentStatus.SUMMARIZED})
