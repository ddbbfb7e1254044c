"""Validate: the gates a journal passes before it may reach the ERP.

- balanced per currency (re-checked: a journal from another system is not trusted);
- every account is one the ERP connection has opened / knows (mapped in the configuration);
- the accounting date is in an open period of the entity: policy ``reject`` raises ``period_closed``;
  ``next_open_period`` moves the journal to the first open day and says so in the memo.

Dates are already in the entity's time zone (normalization computed them there).
"""

from __future__ import annotations

from datetime import timedelta

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.errors import DocumentRejected
from ledgerlink.model.documents import JournalEntry, imbalances


def validate(journal: JournalEntry, config: LedgerLinkConfig) -> JournalEntry:
    try:
        entity = config.entity(journal.entity_id)
    except KeyError:
        raise DocumentRejected(f"unknown legal entity {journal.entity_id!r}", reason="unknown_entity",
                               entity=journal.entity_id) from None
    off = imbalances(journal.lines)
    if off:
        raise DocumentRejected(f"journal does not balance: {off}", reason="unbalanced_journal")
    # The entity's own chart: accounts mapped for this entity (any source). Two entities sharing an ERP
    # connection must not post into each other's accounts.
    known = {account for mapping in config.account_mappings if mapping.entity == entity.id
             for account in mapping.accounts.values()}
    unknown = sorted({line.account for line in journal.lines} - known)
    if unknown:
        raise DocumentRejected(f"accounts not in the chart of entity {entity.id}: {unknown}",
                               reason="unknown_account", accounts=",".join(unknown),
                               suggested_fix="map these accounts in account_mappings (which opens them in the book)")
    if entity.closed_through is not None and journal.accounting_date <= entity.closed_through:
        if entity.closed_period_policy == "reject":
            raise DocumentRejected(
                f"accounting date {journal.accounting_date} is in a closed period "
                f"(entity {entity.id} closed through {entity.closed_through})",
                reason="period_closed", entity=entity.id, accounting_date=journal.accounting_date.isoformat(),
                suggested_fix="reopen the period or set closed_period_policy: next_open_period, then retry",
            )
        first_open = entity.closed_through + timedelta(days=1)
        memo = f"{journal.memo or ''} (dated {journal.accounting_date}; period closed, posted in the next open period)"
        return journal.model_copy(update={
            "accounting_date": first_open,
            "original_accounting_date": journal.accounting_date,
            "memo": memo.strip(),
        })
    return journal
