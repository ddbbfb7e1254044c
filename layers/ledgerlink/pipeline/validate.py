"""Validate: the gates a journal passes before it may reach the ERP.

- balanced per currency (re-checked: a journal from another system is not trusted);
- every account is one the ERP connection has opened / knows (mapped in the configuration);
- the entity's controls (mapping service): currencies it accepts (``currency_not_allowed``), amounts that
  need an approval first (``approval_required``), dimensions every line must carry (``dimension_missing``);
- the accounting date is in an open period of the entity: policy ``reject`` raises ``period_closed``;
  ``next_open_period`` moves the journal to the first open day and says so in the memo.

Dates are already in the entity's time zone (normalization computed them there).
"""

from __future__ import annotations

from datetime import timedelta

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.errors import DocumentRejected
from ledgerlink.model.documents import JournalEntry, imbalances
from ledgerlink.pipeline.lookups import MappingLookups, lookups_for


def _controls(journal: JournalEntry, lookups: MappingLookups, document_type: str | None) -> None:
    controls = lookups.controls(journal.entity_id)
    if controls is None:
        return
    currencies = {line.amount.currency for line in journal.lines}
    if controls.allowed_currencies is not None:
        refused = sorted(currencies - set(controls.allowed_currencies))
        if refused:
            raise DocumentRejected(
                f"entity {journal.entity_id} does not accept {', '.join(refused)} "
                f"(allowed: {', '.join(controls.allowed_currencies)})", reason="currency_not_allowed",
                currencies=",".join(refused),
                suggested_fix="convert to an allowed currency (foreign_currency: convert_to_base) or allow it in "
                              "controls.allowed_currencies, then retry")
    sizes = journal.totals_by_currency()
    for threshold in controls.approval_thresholds:
        if threshold.document_type not in ("*", document_type):
            continue
        size = sizes.get(threshold.currency)
        if size is not None and size.amount > threshold.amount:
            raise DocumentRejected(
                f"{size} is above the approval threshold of {threshold.amount} {threshold.currency}",
                reason="approval_required", amount=size.canonical(), threshold=str(threshold.amount),
                suggested_fix="have it approved, then resolve the case (posted by hand) or retry after raising "
                              "the threshold")
    required = [*controls.required_dimensions.get("*", []), *controls.required_dimensions.get(document_type or "", [])]
    for line in journal.lines:
        missing = [name for name in required if not line.dimensions.get(name)]
        if missing:
            raise DocumentRejected(
                f"line {line.account} lacks dimension(s) {', '.join(missing)}", reason="dimension_missing",
                dimensions=",".join(missing), account=line.account,
                suggested_fix="add a dimension_rules row (or an employee cost center) that covers this line, "
                              "apply the configuration and retry")


def validate(journal: JournalEntry, config: LedgerLinkConfig, document_type: str | None = None) -> JournalEntry:
    lookups = lookups_for(config)
    try:
        entity = lookups.entity(journal.entity_id)
    except KeyError:
        raise DocumentRejected(f"unknown legal entity {journal.entity_id!r}", reason="unknown_entity",
                               entity=journal.entity_id) from None
    off = imbalances(journal.lines)
    if off:
        raise DocumentRejected(f"journal does not balance: {off}", reason="unbalanced_journal")
    # The entity's own chart: accounts mapped for this entity (any source). Two entities sharing an ERP
    # connection must not post into each other's accounts.
    known = lookups.chart(entity.id)
    unknown = sorted({line.account for line in journal.lines} - known)
    if unknown:
        raise DocumentRejected(f"accounts not in the chart of entity {entity.id}: {unknown}",
                               reason="unknown_account", accounts=",".join(unknown),
                               suggested_fix="map these accounts in account_mappings (which opens them in the book)")
    _controls(journal, lookups, document_type)
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
            "memo": memo.strip()[:512],
        })
    return journal
