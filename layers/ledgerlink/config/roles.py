"""The mapping roles the posting rules use, checked against ``account_mappings`` at validate time.

A role is a key of ``account_mappings[].accounts``; the posting rules (``pipeline/enrich.py`` and the revenue,
FX and posting services) look roles up by name, so a typo (``recievable``) passes the schema and then opens
``mapping_missing`` on every document at run time. :func:`check_roles` finds that before anything is applied:

- **error** — a role no rule uses (its first segment is not a known role): the closest known name is suggested
  (``difflib``). Dotted roles refine a known one: ``revenue.<product>``, ``fees.<kind>``, ``expense.<category>``,
  ``adjustments.<kind>`` are all valid;
- **warning** — a role the rules need for a document type that an entity's source produces, mapped neither for
  that source nor for ``*``: every such document would open ``mapping_missing``. Only (entity, source) pairs
  that have a mapping row are checked (an entity with no row for a source receives nothing from it), document
  types a posting policy disables are skipped, and effective dates are ignored (a role mapped in any row counts).
"""

from __future__ import annotations

import difflib
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ledgerlink.connectors.sources import SOURCES

# Every role the rules look up (the part before the first dot), with what uses it.
KNOWN_ROLES: dict[str, str] = {
    "receivable": "invoices, credit notes, payments, write-offs, matched bank receipts",
    "revenue": "invoice and credit note lines (revenue.<product id> per product)",
    "discounts": "invoice discounts, when mapped (else revenue is net of discounts)",
    "tax": "sales tax on invoices, credit notes, refunds",
    "cash_clearing": "processor payments, refunds, chargebacks, payouts",
    "cash_out_of_band": "payments received outside the processor",
    "fees": "processor fees (fees.<kind>: processing, dispute, payout ...)",
    "refunds": "refunds and credit note refunds",
    "bad_debt": "write-offs",
    "customer_credit": "overpayments and unapplied receipts",
    "chargebacks": "chargebacks and their reversals",
    "payouts_in_transit": "payouts, matched bank receipts of payouts",
    "adjustments": "payout balance adjustments (adjustments.<kind>)",
    "fx_realized": "payout items settled in another currency",
    "fx_gain_loss": "foreign receivables and tax settled at another rate",
    "fx_unrealized": "period-end revaluation of open foreign balances",
    "fx_rounding": "conversion to the base currency",
    "bank": "bank statement transactions",
    "contract_backlog": "contract events (memorandum)",
    "contract_backlog_offset": "contract events (memorandum)",
    "expense": "expense reports, card transactions, bills (expense.<category>)",
    "employee_payable": "reimbursable expense reports",
    "card_liability": "card transactions and card expense reports",
    "accounts_payable": "bills",
    "deferred_revenue": "revenue recognition: billed, not yet earned",
}

# Roles every document of a type needs (no fallback), by document type.
REQUIRED_ROLES: dict[str, tuple[str, ...]] = {
    "invoice": ("receivable", "revenue"),
    "credit_note": ("receivable", "revenue"),
    "payment": ("cash_clearing", "receivable"),
    "write_off": ("bad_debt", "receivable"),
    "payout": ("payouts_in_transit", "cash_clearing"),
    "bank_transaction": ("bank",),
    "contract_event": ("contract_backlog", "contract_backlog_offset"),
    "expense_report": ("expense",),
    "card_transaction": ("expense", "card_liability"),
    "bill": ("expense", "accounts_payable"),
}

# The document types each source kind's normalizer produces (``TRAITS.document_types`` of its package).
DOCUMENT_TYPES_BY_KIND: dict[str, tuple[str, ...]] = {kind: traits.document_types for kind, traits in SOURCES.items()}


@dataclass(frozen=True)
class RoleFinding:
    severity: str                       # "error" | "warning"
    loc: tuple[Any, ...]                # where in the file: ("account_mappings", 3, "accounts", "recievable")
    message: str
    suggestion: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"severity": self.severity, "path": _path(self.loc), "message": self.message,
                "suggestion": self.suggestion}


def _path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def check_roles(config: Any) -> list[RoleFinding]:
    findings: list[RoleFinding] = []
    known = sorted(KNOWN_ROLES)
    mapped: dict[tuple[str, str], set[str]] = defaultdict(set)
    first_row: dict[tuple[str, str], int] = {}
    for number, mapping in enumerate(config.account_mappings):
        first_row.setdefault((mapping.entity, mapping.source), number)
        for role in mapping.accounts:
            head = role.split(".", 1)[0]
            mapped[(mapping.entity, mapping.source)].add(role)
            if head in KNOWN_ROLES:
                continue
            close = difflib.get_close_matches(head, known, n=1, cutoff=0.6)
            suggestion = close[0] + role[len(head):] if close else None
            hint = f"; did you mean {suggestion!r}?" if suggestion else f" (known roles: {', '.join(known)})"
            findings.append(RoleFinding("error", ("account_mappings", number, "accounts", role),
                                        f"unknown mapping role {role!r} for entity {mapping.entity}: no posting rule "
                                        f"uses it{hint}", suggestion))
    kinds = {source.id: source.kind for source in config.sources}
    disabled = {(policy.source, policy.document_type) for policy in getattr(config, "posting_policies", [])
                if not policy.enabled}
    for entity, source in sorted(key for key in mapped if key[1] != "*"):
        available = mapped[(entity, source)] | mapped[(entity, "*")]
        missing: dict[str, list[str]] = defaultdict(list)
        for document_type in DOCUMENT_TYPES_BY_KIND.get(kinds.get(source, ""), ()):
            if (source, document_type) in disabled or ("*", document_type) in disabled:
                continue
            for role in REQUIRED_ROLES.get(document_type, ()):
                if role not in available:
                    missing[role].append(document_type)
        for role, types in sorted(missing.items()):
            findings.append(RoleFinding(
                "warning", ("account_mappings", first_row[(entity, source)]),
                f"entity {entity} source {source}: no account for role {role!r}, which the posting rules need for "
                f"{', '.join(types)}: every such document would open mapping_missing (add accounts.{role} for "
                f"source {source} or '*')"))
    return findings
