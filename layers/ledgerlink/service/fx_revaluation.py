"""The period-end FX revaluation job (issue 17, D90), run by the revenue release's schedule (per entity, 03:00 local
on days 1–5) right after the release; by hand, invoke that function with ``{"entity": "us01", "period": "2026-10"}``.

For an entity and an ended period: the open foreign-currency receivable, customer-credit, payable and tax balances
(``pipeline.fx_revaluation.open_balances``, read from the posting ledger's posted journals — the original amounts
are on their lines, whatever ERP the entity posts to; an ERP's book holds only the base amounts) are restated at the
period-end rate (``fx_rates`` as of the period's last day) in one journal dated that day, and reversed on the
first day of the next period. Ids come from entity and period and each journal goes through
:func:`~ledgerlink.service.revenue.post_period_journal` (ledger registration, ERP lookup by external id before any
write), so a second run posts nothing, and a run that stopped between the two journals posts only the reversal —
built from the revaluation as posted. A currency without a period-end rate is a case (``fx_rate_missing``): nothing
is posted for the entity until the rate is configured and the job runs again.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from ledgerlink.clock import now as clock_now
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.errors import DocumentRejected, LedgerLinkError, RateLimited, TransientError
from ledgerlink.model.documents import JournalEntry
from ledgerlink.model.json import JsonObject
from ledgerlink.model.status import DocumentStatus
from ledgerlink.pipeline.enrich import Accounts
from ledgerlink.pipeline.fx_revaluation import (
    REVALUATION_SOURCE,
    REVERSAL,
    UNREALIZED_ROLE,
    open_balances,
    revaluation_journal,
    revaluation_source,
    reversal_journal,
)
from ledgerlink.pipeline.revenue_schedule import next_period, period_end, period_of, previous_period


class InvalidRevaluationRequest(LedgerLinkError):
    """A revaluation request that names no configured entity or no ended month."""

    reason = "invalid_revaluation_request"


@dataclass
class EntityRevaluation:
    entity_id: str
    period: str
    # revalued | already_revalued | no_foreign_balances | nothing_to_revalue | rate_missing | refused | blocked
    # | deferred
    status: str = "refused"
    detail: str = ""
    journals_posted: tuple[str, ...] = ()
    balances: int = 0

    def to_dict(self) -> JsonObject:
        return {"entity_id": self.entity_id, "period": self.period, "status": self.status, "detail": self.detail,
                "journals_posted": list(self.journals_posted), "balances": self.balances}


class FxRevaluationService:
    def __init__(self, *, config: Any, ledger: Any, connectors: Callable[..., Any], exceptions: Any,
                 clock: Callable[[], datetime] = clock_now) -> None:
        self._config = config
        self._ledger = ledger
        self._connectors = connectors
        self._exceptions = exceptions
        self._clock = clock

    def run(self, *, entity_id: str | None = None, period: str | None = None) -> JsonObject:
        """Revalue the latest ended period of each entity (or ``period``, which must be over)."""
        version, config = self._config.active()
        if entity_id is not None and entity_id not in {entity.id for entity in config.entities}:
            raise InvalidRevaluationRequest(f"no entity {entity_id[:40]!r} in configuration version {version}",
                                            field="entity")
        journals: list[JournalEntry] | None = None

        def posted() -> list[JournalEntry]:   # read once per run, and only when some entity needs it
            nonlocal journals
            if journals is None:
                journals = posted_journals(self._ledger.scan())
            return journals

        results = [self._entity(config, version, entity.id, period, posted) for entity in config.entities
                   if entity_id is None or entity.id == entity_id]
        return {"entities": [result.to_dict() for result in results],
                "journals_posted": sum(len(result.journals_posted) for result in results)}

    def _entity(self, config: LedgerLinkConfig, version: int, entity_id: str, requested: str | None,
                posted: Callable[[], list[JournalEntry]]) -> EntityRevaluation:
        entity = config.entity(entity_id)
        today = self._clock().astimezone(ZoneInfo(entity.time_zone)).date()
        latest = previous_period(period_of(today))
        result = EntityRevaluation(entity_id, requested or latest)
        if result.period > latest:
            result.detail = f"{result.period} is not over in {entity.time_zone} ({today})"
            return result
        try:
            return self._revalue(config, version, result, posted)
        except (RateLimited, TransientError) as exc:
            result.status, result.detail = "deferred", f"{type(exc).__name__}: {exc}; the next run resumes"
            return result

    def _revalue(self, config: LedgerLinkConfig, version: int, result: EntityRevaluation,
                 posted: Callable[[], list[JournalEntry]]) -> EntityRevaluation:
        entity, period = config.entity(result.entity_id), result.period
        revaluation_id = revaluation_source(entity.id, period).document_id()
        reversal_id = revaluation_source(entity.id, period, REVERSAL).document_id()
        done = self._ledger.get(revaluation_id) or {}
        if done.get("status") == DocumentStatus.POSTED and \
                (self._ledger.get(reversal_id) or {}).get("status") == DocumentStatus.POSTED:
            result.status, result.detail = "already_revalued", f"{period} was revalued and reversed before"
            return result
        last_day = period_end(period)
        if done.get("status") == DocumentStatus.POSTED:   # stopped before the reversal: reverse what was posted
            revaluation = JournalEntry.model_validate_json(done["journal"])
        else:
            balances = open_balances(posted(), entity_id=entity.id, base=entity.base_currency, through=last_day)
            result.balances = len(balances)
            if not balances:
                result.status = "no_foreign_balances"
                result.detail = (f"{entity.id} has no open foreign-currency receivable, payable or tax balance "
                                 f"through {last_day}: nothing to revalue")
                return result
            rates = self._rates(config, entity.id, entity.base_currency, period, {b.currency for b in balances},
                                result)
            if rates is None:
                return result
            accounts = Accounts(config, entity.id, REVALUATION_SOURCE, last_day)
            try:
                unrealized = accounts.get(UNREALIZED_ROLE)
            except DocumentRejected as exc:
                self._case(revaluation_id, entity.id, period, exc)
                result.status, result.detail = "blocked", exc.message
                return result
            built = revaluation_journal(entity.id, period, last_day, entity.base_currency, balances, rates,
                                        unrealized, config_version=version)
            if built is None:
                result.status, result.detail = "nothing_to_revalue", "every open balance is carried at the closing rate"
                return result
            revaluation = built
        posted_ids: list[str] = []
        first_day = date.fromisoformat(next_period(period) + "-01")
        for journal in (revaluation, reversal_journal(revaluation, period, first_day)):
            outcome = self._post(config, version, journal)
            if outcome is None:
                result.journals_posted = tuple(posted_ids)
                result.status, result.detail = "blocked", f"{journal.document_id} is in an exception case"
                return result
            posted_ids.append(outcome)
        result.journals_posted = tuple(posted_ids)
        result.status, result.detail = "revalued", f"{revaluation_id} on {last_day}, reversed on the next day"
        return result

    def _rates(self, config: LedgerLinkConfig, entity_id: str, base: str, period: str, currencies: set[str],
               result: EntityRevaluation) -> dict[str, Decimal] | None:
        """The closing rate of each currency as of the period's last day; a missing one opens a case."""
        last_day = period_end(period)
        rates: dict[str, Decimal] = {}
        missing = []
        for currency in sorted(currencies):
            rate = config.fx_rate(currency, base, last_day)
            if rate is None:
                missing.append(currency)
            else:
                rates[currency] = rate.rate
        if not missing:
            return rates
        pairs = ", ".join(f"{currency}->{base}" for currency in missing)
        self._case(revaluation_source(entity_id, period).document_id(), entity_id, period, DocumentRejected(
            f"no {pairs} rate on {last_day}: open balances of {entity_id} cannot be revalued for {period}",
            reason="fx_rate_missing", currencies=",".join(missing), base_currency=base,
            suggested_fix=f"add fx_rates {pairs} valid on {last_day} (with their source) and apply the "
                          "configuration; the next revaluation run posts the period"))
        result.status, result.detail = "rate_missing", f"no {pairs} rate on {last_day}"
        return None

    def _case(self, subject: str, entity_id: str, period: str, exc: DocumentRejected) -> None:
        self._exceptions.open(subject=subject, reason=exc.reason, message=exc.message, correlation_id=subject,
                              document_id=subject, entity_id=entity_id, source=REVALUATION_SOURCE,
                              suggested_fix=exc.detail.get("suggested_fix"), detail={"period": period})

    def _post(self, config: LedgerLinkConfig, version: int, journal: JournalEntry) -> str | None:
        from ledgerlink.service.revenue import post_period_journal

        return post_period_journal(
            journal, config=config, version=version, ledger=self._ledger, connectors=self._connectors,
            exceptions=self._exceptions, clock=self._clock, source=REVALUATION_SOURCE,
            retry_hint="fix the cause (mapping, period); the next revaluation run posts this journal again")


def posted_journals(items: Iterable[Mapping[str, object]]) -> list[JournalEntry]:
    """The posted (or summarized) journals held by posting-ledger items."""
    out = []
    for item in items:
        journal = item.get("journal")
        if item.get("status") in (DocumentStatus.POSTED, DocumentStatus.SUMMARIZED) and isinstance(journal, str):
            raw = json.loads(journal)
            if raw.get("lines"):
                out.append(JournalEntry.model_validate(raw))
    return out
