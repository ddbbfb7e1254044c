"""The ERP port declares what services call: a kind-narrowed lookup and an answer to every capability question
(``as_…`` is the connector itself when it can, ``None`` when it cannot). Services ask the port; nothing probes the
connector for methods or signatures."""

from __future__ import annotations

from pathlib import Path

from ledgerlink.config.erps import BeancountConnection, LegacyFileConnection, XeroConnection
from ledgerlink.connectors.erps import BUILDERS, ConnectorContext
from ledgerlink.connectors.erps.base import PostResult, find_existing, supports_bulk, supports_documents

ANSWERS = ("as_bulk_poster", "as_document_poster", "as_party_keeper", "as_reader", "as_day_lister", "as_preparer")


def answers(connector: object) -> dict[str, bool]:
    return {name: getattr(connector, name)() is connector for name in ANSWERS}


def test_the_book_posts_one_by_one_keeps_parties_and_lists_its_days(tmp_path: Path):
    book = BUILDERS["beancount"](BeancountConnection(id="books", kind="beancount"),
                                 ConnectorContext(books_uri=f"file://{tmp_path}"))
    assert answers(book) == {"as_bulk_poster": False, "as_document_poster": False, "as_party_keeper": True,
                             "as_reader": False, "as_day_lister": True, "as_preparer": True}
    assert book.api_calls() is None and not supports_bulk(book) and not supports_documents(book)


def test_the_legacy_file_takes_journals_in_bulk_and_lists_its_days(tmp_path: Path):
    target = BUILDERS["legacy_file"](LegacyFileConnection(id="legacy", kind="legacy_file"),
                                     ConnectorContext(legacy_files_uri=f"file://{tmp_path}"))
    assert answers(target) == {"as_bulk_poster": True, "as_document_poster": False, "as_party_keeper": False,
                               "as_reader": False, "as_day_lister": True, "as_preparer": False}
    assert target.api_calls() is None and supports_bulk(target) and not supports_documents(target)


def test_an_api_erp_posts_in_bulk_and_natively_keeps_parties_and_reads_back():
    xero = BUILDERS["xero"](XeroConnection(id="xero", kind="xero", tenant_id="0" * 8 + "-0000-0000-0000-" + "0" * 12,
                                           credentials={"secret_id": "ledgerlink/erp/xero"}), ConnectorContext())
    assert answers(xero) == {"as_bulk_poster": True, "as_document_poster": True, "as_party_keeper": True,
                             "as_reader": True, "as_day_lister": False, "as_preparer": False}
    assert xero.api_calls() == 0 and supports_bulk(xero) and supports_documents(xero)


class Recording:
    def __init__(self) -> None:
        self.asked: list[tuple[str, str | None]] = []

    def find_by_external_id(self, external_id: str, kind: str | None = None) -> PostResult | None:
        self.asked.append((external_id, kind))
        return PostResult(erp_ref=f"erp:{kind}/{external_id}", created=False) if kind == "invoice" else None


def test_find_existing_hands_the_kind_to_the_connector():
    erp = Recording()
    assert find_existing(erp, "doc_1", "journal") is None   # type: ignore[arg-type]
    assert find_existing(erp, "doc_1", "invoice") == PostResult("erp:invoice/doc_1", False)   # type: ignore[arg-type]
    assert find_existing(erp, "doc_1") is None   # type: ignore[arg-type]
    assert erp.asked == [("doc_1", "journal"), ("doc_1", "invoice"), ("doc_1", None)]
