"""The reconciliation's ERP check asks the ERP for a count first and lists ids only when the counts disagree."""

from decimal import Decimal
from typing import Any

from ledgerlink.config import load_config_file
from ledgerlink.service.reconcile import Reconciler

from tests.conftest import EXAMPLE_CONFIG

DAY = "2026-11-20"


class Totals:
    def __init__(self, posted: int) -> None:
        self.posted = posted

    def events(self, day: str) -> dict[str, Any]:
        return {}

    def documents(self, entity_id: str, day: str) -> dict[tuple[str, str], dict[str, Decimal]]:
        return {("stripe", "USD"): {"received_count": Decimal(self.posted), "posted_count": Decimal(self.posted),
                                    "received_amount": Decimal(10 * self.posted), "posted_amount": Decimal(10 * self.posted)}}

    def put_summary(self, record: dict[str, Any]) -> None:
        pass


class Ledger:
    def on_day(self, entity_id: str, day: str) -> list[dict[str, Any]]:
        return [{"document_id": f"doc_{n}", "status": "posted", "erp_ref": f"ref_{n}"} for n in range(3)]


class Reports:
    def put(self, key: str, body: bytes, content_type: str) -> None:
        pass


class Erp:
    def __init__(self, ids: list[str]) -> None:
        self.ids = ids
        self.listed = 0

    def as_reader(self) -> None:
        return None

    def as_day_lister(self) -> "Erp":
        return self

    def posted_count(self, entity_id: str, day: str) -> int:
        return len(self.ids)

    def posted_on(self, entity_id: str, day: str) -> list[str]:
        self.listed += 1
        return list(self.ids)


def _run(erp: Erp, posted: int) -> Any:
    config = load_config_file(EXAMPLE_CONFIG)
    entity = config.entities[0].id
    reconciler = Reconciler(config=lambda: (1, config), totals=Totals(posted), inbox=None, ledger=Ledger(),
                            connectors=lambda cfg, connection_id, version: erp, reports=Reports())
    return reconciler.run(DAY, [entity]).entities[0]


def test_equal_counts_need_no_listing():
    erp = Erp([f"doc_{n}" for n in range(3)])
    report = _run(erp, posted=3)
    assert report.erp["checked"] and report.erp["erp_posted"] == 3 and not report.differences
    assert erp.listed == 0


def test_a_count_difference_lists_and_names_the_missing_document():
    erp = Erp(["doc_0", "doc_2"])
    report = _run(erp, posted=3)
    assert erp.listed >= 1
    assert [(d.kind, d.detail["document_id"]) for d in report.differences] == [("missing_in_erp", "doc_1")]
