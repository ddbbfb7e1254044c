"""The period gate against the ERP's own period control (Xero lock dates, QuickBooks closing date, NetSuite
accounting periods, Business Central allowed posting dates), with the entity's policy.

``validate`` checks the configured ``closed_through``; right before posting, the post step asks the target
connection for its period status, because the ERP is the book of record and someone may have closed a
period there since. The same policy applies: ``reject`` → exception ``period_closed``; ``next_open_period``
→ the first day after the ERP's closed-through date, memo says why, original date kept.
"""

from __future__ import annotations

from datetime import date, timedelta

from ledgerlink.config.model import Entity
from ledgerlink.errors import DocumentRejected
from ledgerlink.model.documents import JournalEntry


def open_period_date(entity: Entity, accounting_date: date) -> date | None:
    """The date a journal dated ``accounting_date`` posts on under the entity's configured period control
    (``closed_through``, ``closed_period_policy``): its own date when its period is open; the first day after
    ``closed_through`` when the period is closed and the policy is ``next_open_period``; None when it is closed and
    the policy is ``reject`` (``validate`` opens ``period_closed``). What ``validate`` applies, and what a replay's
    dry run (``service/replay_periods.py``) reports, so the two cannot disagree."""
    if entity.closed_through is None or accounting_date > entity.closed_through:
        return accounting_date
    if entity.closed_period_policy == "reject":
        return None
    return entity.closed_through + timedelta(days=1)


def apply_erp_period(journal: JournalEntry, entity: Entity, status: object) -> JournalEntry:
    if getattr(status, "open", True):
        return journal
    closed_through = getattr(status, "closed_through", None)
    if entity.closed_period_policy == "reject" or closed_through is None or closed_through < journal.accounting_date:
        raise DocumentRejected(
            f"accounting date {journal.accounting_date} is in a period the ERP has closed"
            + (f" (through {closed_through})" if closed_through else ""),
            reason="period_closed", entity=entity.id, accounting_date=journal.accounting_date.isoformat(),
            source=getattr(status, "source", "erp"),
            suggested_fix="reopen the period in the ERP or set closed_period_policy: next_open_period, then retry")
    first_open = closed_through + timedelta(days=1)
    memo = f"{journal.memo or ''} (dated {journal.accounting_date}; period closed in the ERP, posted in the next " \
           f"open period)"
    return journal.model_copy(update={"accounting_date": first_open,
                                      "original_accounting_date": journal.original_accounting_date
                                      or journal.accounting_date, "memo": memo.strip()[:512]})
