"""The per-document comparison of a read-back listing with the ledger (issue 19), without an ERP: native documents
by total, documents of ours the ledger does not name, re-dated ones, and an API ERP beside a legacy target."""

from datetime import date
from decimal import Decimal
from typing import Any

from ledgerlink.connectors.erps.readback import ErpRecord, Listing
from ledgerlink.service.reconcile import Expected, Reconciler, compare_readback

from tests.contract import readback as rb

DAY = date(2026, 1, 15)
D = Decimal


def expected(key: str, **fields: Any) -> Expected:
    defaults = {"key": key, "document_ids": [key], "kind": "journal", "erp_ref": f"erp:{key}", "correlation_id": "c",
                "dates": {DAY}, "nets": {"1100": D("10.00"), "4000": D("-10.00")}}
    return Expected(**{**defaults, **fields})


SALE = (("1100", D("10.00")), ("4000", D("-10.00")))


def record(key: str | None, lines=SALE, **fields: Any) -> ErpRecord:
    return ErpRecord(**{"erp_ref": f"erp:{key}", "kind": "journal", "key": key, "on": DAY, "lines": tuple(lines),
                        **fields})


def test_a_native_document_is_compared_by_its_total():
    invoice = expected("doc_inv", kind="invoice", nets=None, total=D("119.00"))
    held = record("doc_inv", lines=(), kind="invoice", total=D("129.00"))
    (difference,) = compare_readback({"doc_inv": invoice}, [held], day=DAY, owned=set(), elsewhere=lambda key: False)
    assert difference.kind == "changed_in_erp" and difference.detail["difference"] == {"total": "10.00"}


def test_a_document_of_ours_the_ledger_does_not_name_is_unexpected_unless_it_belongs_elsewhere():
    stray, redated = record("doc_stray"), record("doc_redated")
    found = compare_readback({}, [stray, redated], day=DAY, owned={"1100"},
                             elsewhere=lambda key: key == "doc_redated")
    assert [(d.kind, d.detail["reason"], d.detail["erp_key"]) for d in found] == [
        ("unexpected_in_erp", "not_in_ledger", "doc_stray")]


def test_documents_of_another_date_listed_for_a_redated_document_are_not_this_days_business():
    other_day = ErpRecord(erp_ref="erp:x", kind="journal", key=None, on=date(2026, 1, 16),
                          lines=(("1100", D("5.00")), ("9999", D("-5.00"))))
    assert compare_readback({}, [other_day], day=DAY, owned={"1100"}, elsewhere=lambda key: False) == []


class ApiErp:
    """An API connector's read-back surface, holding what it was given."""

    connection_id = "api"

    def __init__(self, records: list[ErpRecord]) -> None:
        self.records = records
        self.asked: list[tuple[date, frozenset[str]]] = []

    def as_reader(self) -> "ApiErp":
        return self

    def as_day_lister(self) -> None:
        return None

    readback_key = staticmethod(lambda document_id: document_id)
    readback_kind = staticmethod(lambda erp_ref: "journal")

    def read_back(self, entity_id: str, on: date, kinds: frozenset[str]) -> Listing:
        self.asked.append((on, kinds))
        return Listing(records=[r for r in self.records if r.on == on], calls=1, pages=1)


class LegacyTarget:
    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def as_reader(self) -> None:
        return None

    def as_day_lister(self) -> "LegacyTarget":
        return self

    def posted_on(self, entity_id: str, day: str) -> list[str]:
        return list(self.ids)


def test_an_api_erp_beside_a_legacy_target_checks_each_against_what_was_posted_to_it():
    import yaml

    from ledgerlink.config.loader import parse_config_text

    from tests.conftest import EXAMPLE_CONFIG

    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    data["erp_connections"] += [{"id": "api", "kind": "xero", "tenant_id": "2b9f1b8e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                                 "credentials": {"secret_id": "x"}},
                                {"id": "legacy", "kind": "legacy_file"}]
    data["entities"][0].update(erp_connection="api", legacy_connection="legacy")
    data["account_mappings"] = [{"entity": "us01", "source": "stripe", "accounts": {"receivable": "1100",
                                                                                   "revenue": "4000"}}]
    data.pop("revenue_recognition", None)
    config = parse_config_text(yaml.safe_dump(data), origin="unit")
    items = [{"document_id": "doc_a", "status": "posted", "erp_connection": "api", "erp_ref": "erp:doc_a",
              "journal": '{"lines": [{"account": "1100", "amount": {"amount": "10.00"}}, '
                         '{"account": "4000", "amount": {"amount": "-10.00"}}]}',
              "posted_accounting_date": DAY.isoformat(), "day_key": f"us01#{DAY}"},
             {"document_id": "doc_b", "status": "posted", "erp_connection": "legacy", "erp_ref": "file:b",
              "day_key": f"us01#{DAY}"}]
    api, legacy = ApiErp([record("doc_a")]), LegacyTarget([])
    reconciler = Reconciler(config=lambda: (1, config), totals=rb.Totals(items), inbox=None, ledger=rb.Ledger(items),
                            connectors=lambda cfg, connection_id, v: api if connection_id == "api" else legacy,
                            reports=rb.Reports())
    report = reconciler.run(DAY.isoformat(), ["us01"]).entities[0]
    assert [(d.kind, d.detail["document_id"]) for d in report.differences] == [("missing_in_erp", "doc_b")]
    assert [(c["connection"], c["ledger_posted"], c["erp_posted"]) for c in report.erp["connections"]] == [
        ("api", 1, 1), ("legacy", 1, 0)]
    assert api.asked == [(DAY, frozenset({"journal"}))]
