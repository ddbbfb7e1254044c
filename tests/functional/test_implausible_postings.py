"""Issue 17: plausible-looking but wrong postings become cases, end to end (webhook → normalize → state machine →
Beancount book on moto). Figures come from the issue, not from the code."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tests.functional.conftest import config_with, event_bytes

UK_CONNECT_INVOICE = "13-invoice.paid.connect-uk.json"
UNKNOWN_ACCOUNT = "acct_1NobodyMappedThis01"


def _unknown_account_event() -> bytes:
    return event_bytes(UK_CONNECT_INVOICE, id="evt_unknown_connect_account", account=UNKNOWN_ACCOUNT)


def test_an_event_from_an_unmapped_connect_account_opens_unknown_account_and_posts_nothing(stack):
    # Given a Stripe event from a Connect account that account_entities does not list (policy: the default)
    assert stack.send(_unknown_account_event()).status == 202
    # When the pipeline runs
    stack.drain()
    # Then finance ops get an unknown_account case naming the account, and nothing reached the books
    (case,) = stack.exceptions.list("open")
    assert case["reason"] == "unknown_account"
    assert UNKNOWN_ACCOUNT in case["message"] and case["detail"]["account"] == UNKNOWN_ACCOUNT
    assert case["archive_key"] == stack.inbox.get("stripe", "evt_unknown_connect_account")["archive_key"]
    assert stack.documents() == [] and stack.postings() == []
    assert stack.inbox.get("stripe", "evt_unknown_connect_account")["outcome"] == "exception"


class TestUnmappedAccountsOptIn:
    @pytest.fixture
    def stack_config(self):
        return config_with(sources__0__unmapped_accounts="default_entity")

    def test_with_the_opt_in_the_unmapped_account_posts_to_the_default_entity(self, stack):
        # Given the Stripe source opted in to posting unmapped accounts to its default entity (us01)
        stack.send(_unknown_account_event())
        stack.drain()
        # Then the invoice and its payment post to us01, no case
        posted = stack.documents("posted")
        assert {item["document_type"] for item in posted} == {"invoice", "payment"}
        assert {item["entity_id"] for item in posted} == {"us01"}
        assert stack.exceptions.list("open") == []
        assert all("Assets:US01:" in path.read_text() for path in stack.postings())


def _invoice_of(minor_units: int) -> bytes:
    event = json.loads(event_bytes("01-invoice.finalized.json", id="evt_absurd_invoice"))
    invoice = event["data"]["object"]
    for key in ("subtotal", "total", "amount_due", "amount_paid"):
        invoice[key] = minor_units
    line = invoice["lines"]["data"][0]
    line["amount"] = line["price"]["unit_amount"] = minor_units
    line["price"]["unit_amount_decimal"] = str(minor_units)
    return json.dumps(event).encode()


def test_a_10_to_the_17_minor_unit_invoice_opens_amount_implausible_and_posts_nothing(stack):
    # Given a Stripe invoice of 10^17 minor units (1,000,000,000,000,000.00 USD)
    stack.send(_invoice_of(10**17))
    stack.drain()
    # Then it is an amount_implausible case, with the ceiling that applied, and the book is untouched
    (case,) = stack.exceptions.list("open")
    assert case["reason"] == "amount_implausible"
    assert case["detail"]["amount"] == "1000000000000000.00"
    assert Decimal(case["detail"]["ceiling"]) == Decimal(50_000_000)  # us01's max_amount USD in the example config
    (document,) = stack.documents()
    assert document["status"] == "exception" and document["exception_id"] == case["exception_id"]
    assert stack.postings() == []


class TestNoCeilingConfigured:
    @pytest.fixture
    def stack_config(self):
        from tests.functional.conftest import DELETE

        return config_with(entities__0__max_amount=DELETE)

    def test_the_default_ceiling_still_stops_the_absurd_invoice_and_lets_a_large_real_one_post(self, stack):
        # Given neither the source nor the entity sets max_amount (the default ceiling: 1,000,000,000)
        stack.send(_invoice_of(10**17))
        # And a large but plausible invoice of 2,500,000.00 USD
        big = json.loads(_invoice_of(250_000_000))
        big["id"], big["data"]["object"]["id"] = "evt_big_invoice", "in_big_but_real"
        stack.send(json.dumps(big).encode())
        stack.drain()
        (case,) = stack.exceptions.list("open")
        assert case["reason"] == "amount_implausible" and Decimal(case["detail"]["ceiling"]) == Decimal(10**9)
        (posted,) = stack.documents("posted")
        assert "2500000.00 USD" in stack.postings()[0].read_text()


class TestOverpayment:
    @pytest.fixture
    def stack_config(self):
        return config_with(account_mappings__0__accounts__customer_credit="Liabilities:US01:CustomerCredit")

    def test_a_9999_99_payment_of_a_20_00_invoice_applies_20_00_and_credits_the_customer_9979_99(self, stack):
        # Given invoice.paid of a 20.00 USD invoice whose amount_paid is 9,999.99 USD
        event = json.loads(event_bytes("02-invoice.paid.json", id="evt_overpaid"))
        event["data"]["object"]["amount_paid"] = 999_999
        stack.send(json.dumps(event).encode())
        stack.drain()
        # Then the invoice, the applied payment and the unapplied remainder post, nothing else
        posted = {json.loads(item["document"])["source"]["object_type"]: item for item in stack.documents("posted")}
        assert set(posted) == {"invoice", "invoice_payment", "unapplied_payment"}
        assert stack.exceptions.list("open") == []
        books = {kind: (stack.book_dir / "postings" / f"{item['document_id']}.beancount").read_text()
                 for kind, item in posted.items()}
        # the receivable is relieved of exactly the 20.00 it was debited with; the excess is the customer's credit
        assert _amounts(books["invoice_payment"], "AccountsReceivable") == ["-20.00 USD"]
        assert _amounts(books["invoice_payment"], "Clearing:Stripe") == ["20.00 USD"]
        assert _amounts(books["unapplied_payment"], "AccountsReceivable") == []
        assert _amounts(books["unapplied_payment"], "CustomerCredit") == ["-9979.99 USD"]
        assert _amounts(books["unapplied_payment"], "Clearing:Stripe") == ["9979.99 USD"]


def _amounts(posting: str, account_part: str) -> list[str]:
    return [" ".join(line.split()[-2:]) for line in posting.splitlines()
            if account_part in line and line.startswith(" ") and line.split()[-1] == "USD"]
