"""What a configuration change changes, and which open exception cases it would fix (the console's configuration
pages, for mapping admins).

- :func:`version_diff`: the changes between two stored versions (``config.changes``: list sections matched by their
  natural key), grouped by section, with who applied the later one and when.
- :func:`parse_proposed`: a proposed configuration as YAML text, validated as ``config validate`` does (the model,
  then the mapping roles against the posting rules); every finding is reported with its line, never a traceback.
- :func:`proposed_diff`: what the proposal would change in the active version.
- :func:`cases_fixed_by`: every open case whose document is in the ledger, run again through enrich + validate (the
  posting rules, the engine's adjustments and the gates, exactly as the posting steps run them) against the
  proposed configuration: ``would_fix`` (it passes), ``still_fails`` (with the new reason and message) or
  ``not_applicable`` (no document to run, or a reason no configuration fixes: :data:`NOT_CONFIG_FIXABLE` says which
  and why). Nothing is written and no ERP is called; "would fix" means the document passes the rules that run before
  the ERP — the ERP's own period status, its validation and a summary bucket's flush still come after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from ledgerlink.config.changes import Change, diff, section_of
from ledgerlink.errors import ConfigError, LedgerLinkError
from ledgerlink.model.json import JsonObject, JsonValue

if TYPE_CHECKING:
    from ledgerlink.config.model import LedgerLinkConfig

MAX_PROPOSED_BYTES = 1_000_000   # a configuration file is tens of kilobytes; a paste beyond this is a mistake

# Case reasons a configuration cannot fix, and why: running the document through enrich + validate again says
# nothing about them (it would pass, and the case would stay).
NOT_CONFIG_FIXABLE: dict[str, str] = {
    "erp_unavailable": "the ERP was unavailable: retry the case once it answers again",
    "erp_unreachable": "the ERP could not be reached: retry the case once it answers again",
    "erp_timeout": "the ERP did not answer in time; a retry looks the posting up by external id first",
    "erp_auth_failed": "the ERP refused the credentials: they are a secret, not part of the configuration",
    "erp_rejected": "the ERP's own validation refused the posting; enrich and validate run before the ERP and cannot "
                    "tell whether it would accept it now",
    "party_rejected": "the ERP refused the customer or vendor record: fix it in the ERP, then retry",
    "dimension_invalid": "the ERP refused a dimension value: only the ERP can say whether a new value is accepted",
    "journal_too_large": "the ERP refused the journal's size: post it by hand (split), then resolve the case",
    "currency_not_supported": "the ERP organisation does not hold the currency: enable it in the ERP",
    "uncertain_outcome": "the ERP may hold the posting already: a retry looks it up by external id before posting",
    "missing_in_erp": "posted, then no longer in the ERP (reconciliation opened it): a retry or replay posts it again",
    "master_data_missing": "the customer or vendor is missing in the ERP's master data, not in the configuration",
    "usage_not_tied": "the meter events and the billed quantity disagree: data at the source, not a mapping",
    "unexpected_error": "a step failed for a reason that is not a business rule (retries exhausted, a defect): the "
                        "logs under the case's correlation id say why",
    "processing_failed": "a defect or a payload LedgerLink cannot handle: fixed in the code, not the configuration",
}
NO_DOCUMENT = ("no document: the payload never became a canonical document (fix the connector or the payload, then "
               "replay the event)")
NOT_IN_LEDGER = ("its subject is not a document in the ledger (a summary bucket, a period journal): it is posted "
                 "again by its own run, not re-checked here")
UNREADABLE = "the stored document no longer reads as a canonical document"
OUTCOMES = ("would_fix", "still_fails", "not_applicable")


class ConfigVersions(Protocol):
    """The stored configuration versions (``store.config_store.DynamoConfigStore``)."""

    def version_raw(self, version: int) -> JsonObject: ...
    def record(self, version: int) -> dict[str, object]: ...


class OpenCases(Protocol):
    """The exception cases (``store.exceptions.DynamoExceptions``). Any: a case as stored, read field by field."""

    def list(self, status: str | None = "open") -> list[dict[str, Any]]: ...


class DocumentLedger(Protocol):
    """The posting ledger by document id: the case's document, and the documents it depends on (the invoice a
    refund shares tax with, the original a reversal mirrors)."""

    def get(self, document_id: str) -> Mapping[str, object] | None: ...


# ---- what changed between two versions --------------------------------------------------------------------------

class ChangeJson(TypedDict):
    kind: str
    path: str
    section: str
    line: str
    before: JsonValue
    after: JsonValue


class SectionJson(TypedDict):
    section: str
    count: int
    lines: list[str]


class DiffJson(TypedDict):
    from_version: int | None
    to_version: int | None
    applied_by: str | None
    applied_at: str | None
    content_hash: str | None
    total: int
    added: int
    removed: int
    changed: int
    sections: list[SectionJson]
    changes: list[ChangeJson]


@dataclass(frozen=True, slots=True)
class ConfigDiff:
    """The changes from version ``from_version`` to ``to_version`` (None: a proposal not applied yet), and who applied
    ``to_version`` and when (None for a proposal, or a version stored without them)."""

    from_version: int | None
    to_version: int | None
    changes: list[Change]
    applied_by: str | None = None
    applied_at: str | None = None
    content_hash: str | None = None

    @property
    def sections(self) -> dict[str, list[Change]]:
        """Section → its changes, sections in the order they first change (the diff's order: sorted)."""
        grouped: dict[str, list[Change]] = {}
        for change in self.changes:
            grouped.setdefault(section_of(change), []).append(change)
        return grouped

    def to_dict(self) -> DiffJson:
        return {"from_version": self.from_version, "to_version": self.to_version, "applied_by": self.applied_by,
                "applied_at": self.applied_at, "content_hash": self.content_hash, "total": len(self.changes),
                "added": sum(c.kind == "added" for c in self.changes),
                "removed": sum(c.kind == "removed" for c in self.changes),
                "changed": sum(c.kind == "changed" for c in self.changes),
                "sections": [{"section": name, "count": len(changes), "lines": [c.line() for c in changes]}
                             for name, changes in self.sections.items()],
                "changes": [{"kind": c.kind, "path": c.path, "section": section_of(c), "line": c.line(),
                             "before": c.before, "after": c.after} for c in self.changes]}


def _optional(value: object) -> str | None:
    return None if value is None or value == "" else str(value)


def version_diff(store: ConfigVersions, a: int, b: int) -> ConfigDiff:
    """The changes from stored version ``a`` to stored version ``b`` (either order), with who applied ``b`` and when.
    Raises :class:`ConfigError` (``config_version_missing``) for a version that was never applied."""
    changes = diff(store.version_raw(a), store.version_raw(b))
    record = store.record(b)
    return ConfigDiff(from_version=a, to_version=b, changes=changes, applied_by=_optional(record.get("applied_by")),
                      applied_at=_optional(record.get("applied_at")),
                      content_hash=_optional(record.get("content_hash")))


def proposed_diff(store: ConfigVersions, proposed: LedgerLinkConfig, *, current_version: int) -> ConfigDiff:
    """What applying ``proposed`` would change in version ``current_version`` (the active one)."""
    return ConfigDiff(from_version=current_version, to_version=None,
                      changes=diff(store.version_raw(current_version), proposed.model_dump(mode="json")))


# ---- a proposed configuration -------------------------------------------------------------------------------------

class ProposedConfigInvalid(ConfigError):
    """The proposed configuration cannot be used: ``findings`` holds every problem (``<origin>:<line>: path:
    message``), also under ``detail["findings"]`` for ``to_dict``."""

    def __init__(self, message: str, findings: list[str]) -> None:
        super().__init__(message, reason="config_invalid", findings=findings)
        self.findings = findings


def parse_proposed(text: str, *, origin: str = "proposed.yaml") -> LedgerLinkConfig:
    """The proposed configuration (YAML text) as ``config validate`` checks it: the model's validation, then the
    mapping roles against the posting rules (errors only; warnings do not block). Raises
    :class:`ProposedConfigInvalid` with every finding, each naming its line."""
    from ledgerlink.config.loader import line_of, parse_config_text
    from ledgerlink.config.roles import check_roles

    if not text or not text.strip():
        raise ProposedConfigInvalid("the proposed configuration is empty", [f"{origin}: empty"])
    if len(text.encode("utf-8", "replace")) > MAX_PROPOSED_BYTES:
        raise ProposedConfigInvalid(f"the proposed configuration is larger than {MAX_PROPOSED_BYTES:,} bytes",
                                    [f"{origin}: larger than {MAX_PROPOSED_BYTES:,} bytes"])
    try:
        config = parse_config_text(text, origin=origin)
    except ConfigError as exc:
        errors = exc.detail.get("errors")
        raise ProposedConfigInvalid(exc.message, list(errors) if isinstance(errors, list) else [exc.message]
                                    ) from None
    except Exception as exc:   # noqa: BLE001 - a person pasted it: any failure is a finding, never a traceback
        raise ProposedConfigInvalid(f"{origin}: the configuration cannot be read ({type(exc).__name__})",
                                    [f"{origin}: cannot be read ({type(exc).__name__})"]) from None
    findings = []
    for finding in check_roles(config):
        if finding.severity == "error":
            line = line_of(text, finding.loc)
            findings.append(f"{origin}{f':{line}' if line else ''}: {finding.message}")
    if findings:
        raise ProposedConfigInvalid("invalid configuration:\n  " + "\n  ".join(findings), findings)
    return config


# ---- which open cases a configuration would fix -------------------------------------------------------------------

class ImpactJson(TypedDict):
    exception_id: str
    reason: str
    document_id: str | None
    entity_id: str | None
    source: str | None
    opened_at: str | None
    outcome: str
    new_reason: str | None
    message: str | None
    suggested_fix: str | None
    why: str | None


@dataclass(frozen=True, slots=True)
class CaseImpact:
    """One open case under the proposed configuration. ``still_fails``: ``new_reason`` / ``message`` /
    ``suggested_fix`` of the new run; ``not_applicable``: ``why``."""

    exception_id: str
    reason: str
    outcome: str
    document_id: str | None = None
    entity_id: str | None = None
    source: str | None = None
    opened_at: str | None = None
    new_reason: str | None = None
    message: str | None = None
    suggested_fix: str | None = None
    why: str | None = None

    def to_dict(self) -> ImpactJson:
        return {"exception_id": self.exception_id, "reason": self.reason, "document_id": self.document_id,
                "entity_id": self.entity_id, "source": self.source, "opened_at": self.opened_at,
                "outcome": self.outcome, "new_reason": self.new_reason, "message": self.message,
                "suggested_fix": self.suggested_fix, "why": self.why}


class ReportJson(TypedDict):
    current_version: int
    proposed_version: int
    counts: dict[str, int]
    by_reason: dict[str, dict[str, int]]
    cases: list[ImpactJson]


@dataclass(frozen=True, slots=True)
class ImpactReport:
    """The open cases under a proposed configuration (``proposed_version``: the version it would become)."""

    current_version: int
    cases: list[CaseImpact] = field(default_factory=list)

    @property
    def proposed_version(self) -> int:
        return self.current_version + 1

    def of(self, outcome: str) -> list[CaseImpact]:
        return [case for case in self.cases if case.outcome == outcome]

    @property
    def counts(self) -> dict[str, int]:
        return {outcome: len(self.of(outcome)) for outcome in OUTCOMES}

    @property
    def by_reason(self) -> dict[str, dict[str, int]]:
        """Case reason → outcome → cases (the outcomes present)."""
        out: dict[str, dict[str, int]] = {}
        for case in self.cases:
            counts = out.setdefault(case.reason, {})
            counts[case.outcome] = counts.get(case.outcome, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> ReportJson:
        return {"current_version": self.current_version, "proposed_version": self.proposed_version,
                "counts": self.counts, "by_reason": self.by_reason, "cases": [case.to_dict() for case in self.cases]}


def _rerun(document_json: object, proposed: LedgerLinkConfig, ledger: DocumentLedger,
           version: int) -> tuple[str, LedgerLinkError | None]:
    """("would_fix", None) when the document passes enrich + validate under ``proposed``; ("still_fails", error);
    ("not_applicable", None) when the stored document cannot be read."""
    from ledgerlink.model.documents import DocumentAdapter
    from ledgerlink.pipeline.engine import enriched
    from ledgerlink.pipeline.validate import validate

    try:
        document = DocumentAdapter.validate_python(document_json)
    except ValueError:   # pydantic's ValidationError: an item an older model wrote
        return "not_applicable", None
    try:
        journal = enriched(document, proposed, config_version=version, originals=ledger).journal
        validate(journal, proposed, document.document_type)
    except LedgerLinkError as exc:   # DocumentRejected, or a TransientError: it would wait on another document
        return "still_fails", exc
    except Exception as exc:   # noqa: BLE001 - one case's defect must not hide the others' answers
        return "still_fails", LedgerLinkError(f"the check failed ({type(exc).__name__})", reason="check_failed")
    return "would_fix", None


def _document_json(item: Mapping[str, object]) -> object:
    """The item's document as JSON data (None: the item holds none); ValueError for text that is not JSON."""
    from ledgerlink.model.ledger import LedgerItem

    return LedgerItem.parse(item).document_json()


def _assess(case: Mapping[str, Any], proposed: LedgerLinkConfig, ledger: DocumentLedger, version: int) -> CaseImpact:
    reason = str(case.get("reason") or "")
    document_id = _optional(case.get("document_id"))
    impact = CaseImpact(exception_id=str(case.get("exception_id") or ""), reason=reason, outcome="not_applicable",
                        document_id=document_id, entity_id=_optional(case.get("entity_id")),
                        source=_optional(case.get("source")), opened_at=_optional(case.get("opened_at")))
    if reason in NOT_CONFIG_FIXABLE:
        return replace(impact, why=NOT_CONFIG_FIXABLE[reason])
    if document_id is None:
        return replace(impact, why=NO_DOCUMENT)
    item = ledger.get(document_id)
    try:
        document_json = _document_json(item) if item is not None else None
    except ValueError:
        return replace(impact, why=UNREADABLE)
    if document_json is None:
        return replace(impact, why=NOT_IN_LEDGER)
    outcome, error = _rerun(document_json, proposed, ledger, version)
    if outcome == "not_applicable":
        return replace(impact, why=UNREADABLE)
    if error is None:
        return replace(impact, outcome=outcome)
    return replace(impact, outcome=outcome, new_reason=error.reason, message=error.message,
                   suggested_fix=_optional(error.detail.get("suggested_fix")))


def cases_fixed_by(proposed: LedgerLinkConfig, *, cases: OpenCases, ledger: DocumentLedger,
                   current_version: int) -> ImpactReport:
    """Every open case (oldest first) under ``proposed``: its document run again through enrich + validate, read
    only (the ledger is only read, no ERP is called)."""
    open_cases = sorted(cases.list("open"),
                        key=lambda case: (str(case.get("opened_at") or ""), str(case.get("exception_id") or "")))
    return ImpactReport(current_version=current_version,
                        cases=[_assess(case, proposed, ledger, current_version + 1) for case in open_cases])
