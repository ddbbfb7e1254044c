"""Validate: the gates a journal passes before it may reach the ERP.

- balanced per currency (re-checked: a journal from another system is not trusted);
- every account is one the ERP connection has opened / knows (mapped in the configuration);
- the entity's controls (mapping service): currencies it accepts (``currency_not_allowed``), amounts that
  need an approval first (``approval_required``, lifted by an approval that covers the journal: the same currency
  and at least its size), dimensions every line must carry (``dimension_missing``);
- the amounts are plausible (issue 17): a document moving more than the ceiling of its source or entity
  (``max_amount`` per currency, the lowest applies; neither set: :data:`DEFAULT_MAX_AMOUNT`) raises
  ``amount_implausible`` — a 10^17-minor-unit invoice is a case, never a posting;
- the accounting date is in an open period of the entity: policy ``reject`` raises ``period_closed``;
  ``next_open_period`` moves the journal to the first open day and says so in the memo;
- the ERP it routes to can hold every amount (:data:`ERP_AMOUNT_LIMITS`): else ``amount_not_representable``,
  refused before any write (an ERP that truncates or rounds a huge amount would book a different number).

Dates are already in the entity's time zone (normalization computed them there).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from ledgerlink.config.model import Entity, LedgerLinkConfig
from ledgerlink.errors import DocumentRejected
from ledgerlink.model.documents import JournalEntry, imbalances
from ledgerlink.model.money import currency_exponent
from ledgerlink.model.posting import Approval
from ledgerlink.pipeline.lookups import MappingLookups, lookups_for
from ledgerlink.pipeline.periods import open_period_date
from ledgerlink.pipeline.route import route

# The ceiling when neither the source nor the entity sets max_amount: one billion units of any currency. It stops
# absurd figures (10^15 USD from a 10^17-minor-unit field, a misread exponent on a large amount) without a case on
# any plausible business document; an entity tightens it per currency (max_amount: {USD: 5000000}), and an entity
# booking in a currency of small unit value (VND, IDR) raises it for that currency.
DEFAULT_MAX_AMOUNT = Decimal(1_000_000_000)


def _significant(digits: int) -> Callable[[int], Decimal]:
    """Limit of an ERP that reads JSON numbers as IEEE-754 doubles: every decimal of up to 15 significant digits
    round-trips exactly, so the largest safe amount has 15 - exponent integer digits."""
    return lambda exponent: Decimal(10) ** (digits - exponent) - Decimal(10) ** -exponent


# ERP connection kind → the largest absolute amount (major units) one line or journal total may carry, given the
# currency's exponent; kinds not listed (beancount: Python Decimal, no limit) hold any amount.
ERP_AMOUNT_LIMITS: dict[str, Callable[[int], Decimal]] = {
    # Microsoft Learn, Business Central "Decimal Data Type": -999,999,999,999,999.99 to +999,999,999,999,999.99
    # (maximum format, field and persisted value).
    "business_central": lambda exponent: Decimal("999999999999999.99"),
    # Oracle NetSuite Help, "Field Type Descriptions for Custom Fields": currency fields hold at most 15 digits
    # before the decimal point; standard amount fields are not documented separately, so the same bound.
    "netsuite": lambda exponent: Decimal(10) ** 15 - Decimal(10) ** -exponent,
    # Xero's Accounting API OpenAPI spec types LineAmount as "number", format "double"; QuickBooks Online documents
    # Amount as a decimal without a maximum: both get the conservative bound of 15 significant digits.
    "xero": _significant(15),
    "quickbooks_online": _significant(15),
}
# The legacy fixed-width file writes debit and credit right-aligned in 18 characters with an explicit decimal point
# (connectors/erps/legacy_file/connector.py FIXED_WIDTH): a longer number would shift every later field of the record.
_FIXED_WIDTH_DIGITS = 18


def _controls(journal: JournalEntry, lookups: MappingLookups, document_type: str | None,
              approval: Approval | None = None) -> None:
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
        if size is None or size.amount <= threshold.amount:
            continue
        if approval is not None and approval.covers(size.currency, size.amount):
            continue
        raise DocumentRejected(
            f"{size} is above the approval threshold of {threshold.amount} {threshold.currency}",
            reason="approval_required", amount=size.canonical(), currency=size.currency,
            threshold=str(threshold.amount),
            totals=", ".join(str(total) for _, total in sorted(sizes.items())),
            suggested_fix="have an approver approve it (the same execution then posts it), or reject it")
    required = [*controls.required_dimensions.get("*", []), *controls.required_dimensions.get(document_type or "", [])]
    for line in journal.lines:
        missing = [name for name in required if not line.dimensions.get(name)]
        if missing:
            raise DocumentRejected(
                f"line {line.account} lacks dimension(s) {', '.join(missing)}", reason="dimension_missing",
                dimensions=",".join(missing), account=line.account,
                suggested_fix="add a dimension_rules row (or an employee cost center) that covers this line, "
                              "apply the configuration and retry")


def _ceiling(entity: Entity, config: LedgerLinkConfig, source_id: str | None, currency: str) -> Decimal:
    """The lowest configured ceiling for the currency (exact code, else ``*``) of the entity and the source."""
    source = config.source(source_id) if source_id else None
    tables = [entity.max_amount, source.max_amount if source is not None else {}]
    configured = [table.get(currency, table.get("*")) for table in tables]
    return min((value for value in configured if value is not None), default=DEFAULT_MAX_AMOUNT)


def _plausible(journal: JournalEntry, entity: Entity, config: LedgerLinkConfig) -> None:
    source_id = journal.source.source_id or journal.source.system
    for currency, size in sorted(journal.totals_by_currency().items()):
        ceiling = _ceiling(entity, config, source_id, currency)
        if size.amount > ceiling:
            raise DocumentRejected(
                f"{size} is above the plausibility ceiling of {ceiling:,} {currency} (source {source_id}, entity "
                f"{entity.id}): an absurd amount is a case, never a posting", reason="amount_implausible",
                amount=size.canonical(), currency=currency, ceiling=str(ceiling), source=source_id,
                suggested_fix="check the amount at the source; if it is real, raise max_amount on the source or the "
                              "entity, apply the configuration and retry, else ignore the case")


def _erp_limit(config: LedgerLinkConfig, connection_id: str, currency: str) -> Decimal | None:
    connection = config.connection(connection_id)
    exponent = currency_exponent(currency)
    if connection.kind == "legacy_file" and getattr(connection, "format", "csv") == "fixed_width":
        digits = _FIXED_WIDTH_DIGITS - (exponent + 1 if exponent else 0)
        return Decimal(10) ** digits - Decimal(10) ** -exponent
    limit = ERP_AMOUNT_LIMITS.get(connection.kind)
    return limit(exponent) if limit is not None else None


def _representable(journal: JournalEntry, config: LedgerLinkConfig) -> None:
    """Every line and per-currency total fits the ERP the journal routes to (on its final accounting date)."""
    connection_id = route(config, journal.entity_id, journal.accounting_date).connection_id
    sizes = [(line.amount.currency, abs(line.amount.amount)) for line in journal.lines]
    sizes += [(currency, total.amount) for currency, total in journal.totals_by_currency().items()]
    for currency, size in sizes:
        limit = _erp_limit(config, connection_id, currency)
        if limit is not None and size > limit:
            raise DocumentRejected(
                f"{size:,} {currency} does not fit ERP connection {connection_id} (at most {limit:,}): refused "
                "before anything is written", reason="amount_not_representable", amount=str(size), currency=currency,
                connection=connection_id, limit=str(limit),
                suggested_fix="check the amount at the source; a real amount this large is posted by hand (split "
                              "into several journals), then resolve the case")


def validate(journal: JournalEntry, config: LedgerLinkConfig, document_type: str | None = None, *,
             approval: Approval | None = None) -> JournalEntry:
    """The gated journal (possibly moved into the next open period), or :class:`DocumentRejected`.

    The plausibility ceiling applies to a document's own journal (``document_type`` given); a summary or release
    journal (none given) aggregates documents that each passed it. The ERP's limits apply to every journal.
    ``approval`` (an approved ``approval_required`` case) lifts the approval thresholds it covers, nothing else."""
    checked = _gates(journal, config, document_type, approval)
    _representable(checked, config)
    return checked


def _gates(journal: JournalEntry, config: LedgerLinkConfig, document_type: str | None,
           approval: Approval | None) -> JournalEntry:
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
    if document_type is not None:
        _plausible(journal, entity, config)
    _controls(journal, lookups, document_type, approval)
    posting_date = open_period_date(entity, journal.accounting_date)
    if posting_date is None:
        raise DocumentRejected(
            f"accounting date {journal.accounting_date} is in a closed period "
            f"(entity {entity.id} closed through {entity.closed_through})",
            reason="period_closed", entity=entity.id, accounting_date=journal.accounting_date.isoformat(),
            suggested_fix="reopen the period or set closed_period_policy: next_open_period, then retry",
        )
    if posting_date != journal.accounting_date:
        memo = f"{journal.memo or ''} (dated {journal.accounting_date}; period closed, posted in the next open period)"
        return journal.model_copy(update={
            "accounting_date": posting_date,
            "original_accounting_date": journal.accounting_date,
            "memo": memo.strip()[:512],
        })
    return journal
