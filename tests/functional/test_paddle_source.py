"""Paddle Billing end to end through the local stack (the worked example of docs/adding-a-source.md): a
transaction signed the way Paddle signs it is accepted by ingest, normalized into an invoice and its payment,
and both are posted to the book; a forgery is refused and a retry is a duplicate."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from ledgerlink.config.loader import parse_config_text
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.local.fake_apis import FakeSourceApis
from ledgerlink.local.signers import sign

from tests.conftest import EVENTS, EXAMPLE_CONFIG
from tests.functional.conftest import SECRET, Stack
from tests.unit.test_paddle_source import with_paddle

SAMPLE = EVENTS / "paddle" / "01-transaction.completed.json"


@pytest.fixture
def stack_config() -> LedgerLinkConfig:
    return parse_config_text(with_paddle(EXAMPLE_CONFIG.read_text()), origin="paddle-e2e")


def post(stack: Stack, body: bytes, secret: str = SECRET) -> tuple[int, dict[str, object]]:
    signed = sign("paddle", body, secret)
    reply = stack.webhook(signed.body, signed.headers, source="paddle")
    return reply.status, reply.body


def amounts(book: str, account: str) -> list[Decimal]:
    return [Decimal(value) for value in re.findall(rf"^  {re.escape(account)} +(-?[0-9.]+) USD$", book, re.MULTILINE)]


def test_a_completed_transaction_is_posted_as_an_invoice_and_its_payment(stack: Stack) -> None:
    body = SAMPLE.read_bytes()
    assert post(stack, body)[0] == 202
    status, answer = post(stack, body)                                   # Paddle's retry of the same event
    assert (status, answer["status"]) == (200, "duplicate")
    assert post(stack, body, secret="pdl_ntfset_forged")[0] == 401     # signed with another key
    stack.drain()
    documents = stack.documents()
    assert sorted(item["document_type"] for item in documents) == ["invoice", "payment"]
    assert {item["status"] for item in documents} == {"posted"}
    book = "\n".join(path.read_text() for path in stack.postings())
    # the invoice: receivable 73.70 = revenue 49.00 + 20.00, less the 2.00 discount, plus 4.90 + 1.80 tax
    assert amounts(book, "Income:US01:Revenue:Paddle") == [Decimal("-49.00"), Decimal("-20.00")]
    assert amounts(book, "Income:US01:Revenue:Discounts") == [Decimal("2.00")]
    assert amounts(book, "Liabilities:US01:SalesTaxPayable") == [Decimal("-6.70")]
    # the payment settles the receivable: 73.70 less Paddle's 4.19 fee reaches the clearing account
    assert amounts(book, "Assets:US01:AccountsReceivable:Paddle") == [Decimal("73.70"), Decimal("-73.70")]
    assert amounts(book, "Expenses:US01:PaymentProcessing:Paddle") == [Decimal("4.19")]
    assert amounts(book, "Assets:US01:Clearing:Paddle") == [Decimal("69.51")]
    assert stack.exceptions.list("open") == []


def test_the_fake_vendor_apis_answer_only_what_a_package_serves(tmp_path: Path) -> None:
    with FakeSourceApis(tmp_path, credentials={}) as fake:
        assert fake.route("GET", "/no/such/endpoint", {}, b"")[0] == 404
        assert fake.expensify_reports == []                 # a vendor fake's exposed attribute, by kind
        fake.expensify_reports = [{"reportID": "R1"}]
        assert fake.expensify_reports == [{"reportID": "R1"}]
        with pytest.raises(AttributeError):
            _ = fake.paddle_reports
