"""camt.053 through defusedxml (D95): a statement with a DOCTYPE is refused in any encoding, never expanded; a file in
UTF-16/32 is refused with a reason that says so; nesting is bounded. Bank files arrive through S3 (bank-inbox/), so
the whole path is exercised: the bank-file service stores the bytes as dropped, the normalizer opens the case."""

from __future__ import annotations

import codecs
import json
from dataclasses import dataclass, field
from typing import Any

import pytest

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.connectors.sources import normalize_module
from ledgerlink.connectors.sources.bank.statements import StatementError, parse
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.errors import NormalizationError
from ledgerlink.service.bank_files import BankFileService
from ledgerlink.store.inbox import Claim

from tests.conftest import CONTRACTS, EVENTS

CAMT = (EVENTS / "bank" / "01-camt053.v8.demo.xml").read_text()
DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'
DOCTYPE = '<!DOCTYPE Document [<!ENTITY ent "EXPANDED-REMITTANCE">]>'


def with_entity(text: str, declared: str = "UTF-8") -> str:
    """The statement with a DOCTYPE whose entity the first remittance text references."""
    assert text.startswith(DECLARATION) and "<Ustrd>" in text
    return (text.replace(DECLARATION, f'<?xml version="1.0" encoding="{declared}"?>' + DOCTYPE, 1)
            .replace("<Ustrd>", "<Ustrd>&ent;", 1))


def refusal(text: str) -> str:
    with pytest.raises(StatementError) as refused:
        parse(text)
    return str(refused.value)


def test_a_utf8_statement_with_a_doctype_is_refused_by_the_parser() -> None:
    assert "xml_dtd_forbidden" in refusal(with_entity(CAMT))


def test_the_contract_statements_still_parse() -> None:
    for path in sorted((CONTRACTS / "bank" / "camt053").glob("*.xml")) + [EVENTS / "bank" / "01-camt053.v8.demo.xml"]:
        if "wrong" not in path.name and "five" not in path.name:
            assert parse(path.read_text()), path.name


@pytest.mark.parametrize("depth", [65, 5_000])
def test_a_deeply_nested_statement_is_refused(depth: int) -> None:
    deep = CAMT.replace("<Ustrd>", "<Ustrd>" + "<x>" * depth + "</x>" * depth, 1)
    assert "payload_too_deep" in refusal(deep)


# ---- the bank-file path: S3 object → bank-file service → normalizer ---------------------------------------

@dataclass
class Stores:
    objects: dict[str, bytes]
    archived: dict[str, bytes] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def put(self, key: str, body: bytes, *, correlation_id: str, source: str, event_id: str) -> None:
        self.archived[key] = body

    def claim(self, source: str, event_id: str, **kwargs: Any) -> Claim:
        return Claim(is_new=True, archive_key=kwargs["archive_key"], correlation_id="c", status="pending",
                     day="2026-12-01")

    def release(self, *args: Any, **kwargs: Any) -> bool:
        return True

    def send(self, message: dict[str, Any], *, correlation_id: str) -> str:
        self.messages.append(message)
        return "m-1"


def through_the_bank_file_path(body: bytes, config: LedgerLinkConfig) -> NormalizationError:
    key = "bank-inbox/bank/statement.xml"
    stores = Stores({key: body})
    raw = config.model_dump(mode="json")
    service = BankFileService(config=lambda: (1, raw), reader=stores, archive=stores, inbox=stores, queue=stores,
                              clock=lambda: 1_764_590_400.0)
    assert service.receive(key, correlation_id="bank-file-0001").outcome == "accepted"
    assert list(stores.archived.values()) == [body]   # the file is kept byte for byte for the operator
    (message,) = stores.messages
    event = json.loads(message["body"])
    context = NormalizeContext(config=config, source_id="bank", correlation_id="bank-file-0001", archive_key="raw/x")
    with pytest.raises(NormalizationError) as refused:
        normalize_module("bank").normalize(event, context)
    assert refused.value.reason == "malformed_statement"
    assert "EXPANDED-REMITTANCE" not in json.dumps(refused.value.to_dict())
    return refused.value


@pytest.mark.parametrize(("codec", "bom"), [
    ("utf-16", b""), ("utf-16-le", b""), ("utf-16-be", b""), ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-32", b""), ("utf-32-le", b""), ("utf-32-be", codecs.BOM_UTF32_BE),
])
def test_a_utf16_or_utf32_statement_with_a_doctype_is_a_case_that_says_why(
        example_config: LedgerLinkConfig, codec: str, bom: bytes) -> None:
    body = bom + with_entity(CAMT, "UTF-16" if codec.startswith("utf-16") else "UTF-32").encode(codec)
    error = through_the_bank_file_path(body, example_config)
    assert "UTF-16 or UTF-32" in error.message


def test_a_utf8_statement_with_a_doctype_is_a_case_naming_the_doctype(example_config: LedgerLinkConfig) -> None:
    for bom in (b"", codecs.BOM_UTF8):
        error = through_the_bank_file_path(bom + with_entity(CAMT).encode("utf-8"), example_config)
        assert "DOCTYPE" in error.message and "xml_dtd_forbidden" in error.message
