"""Quote-to-cash sequencing: with master-data policy ``wait``, a Stripe invoice whose customer the CRM has not
announced waits in the state machine; the HubSpot closed-won deal that introduces the company lets it proceed.

The Stripe invoice names the CRM account in its metadata (``hubspot_company_id``, configurable per source as
``crm_metadata_keys``); the HubSpot deal's customer event announces the company under ``hubspot_company``.
"""

from __future__ import annotations

import json
import time

import pytest

from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.local.runtime import with_api_base_url
from ledgerlink.store import clients

from tests.functional.conftest import Stack, config_with, event_bytes
from tests.functional.test_source_apis import apis, credentials, deliver, vendor  # noqa: F401 - fixtures

COMPANY = "9155227761"  # the company of events/hubspot/api/deals/18273645901.json


@pytest.fixture
def stack_config(vendor) -> LedgerLinkConfig:  # noqa: F811
    waiting = config_with(master_data=[{"source": "stripe", "role": "customer", "policy": "wait"}])
    return with_api_base_url(waiting, vendor.url)


def invoice_for_company(company: str) -> bytes:
    event = json.loads(event_bytes("01-invoice.finalized.json"))
    event["id"] = "evt_quote_to_cash_1"
    event["data"]["object"]["metadata"] = {"hubspot_company_id": company}
    return json.dumps(event).encode()


def pending_attempts(stack: Stack) -> int:
    sfn = clients.client("stepfunctions")
    count = 0
    for execution in stack.executions():
        history = sfn.get_execution_history(executionArn=execution["executionArn"], maxResults=1000)["events"]
        count += sum("MasterDataPending" in json.dumps(event, default=str) for event in history)
    return count


def test_an_invoice_waits_for_the_crm_company_then_posts_once(stack: Stack, apis) -> None:  # noqa: F811
    # Given a Stripe invoice for a customer the CRM has not announced yet
    assert stack.send(invoice_for_company(COMPANY)).status == 202
    stack.deliver(stack.receive())
    deadline = time.monotonic() + 15
    while pending_attempts(stack) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    # Then it waits in the state machine: nothing posted, no exception yet
    assert pending_attempts(stack) >= 1
    assert stack.postings() == [] and stack.exceptions.list("open") == []
    # When the HubSpot deal closes and its company is announced
    assert deliver(stack, "hubspot", "01-deal.propertyChange.batch.json").status == 202
    stack.drain()
    # Then the invoice proceeds and posts exactly once, with no exception case
    assert stack.exceptions.list("open") == []
    invoices = [d for d in stack.documents("posted") if d["document_type"] == "invoice"]
    assert len(invoices) == 1 and invoices[0]["source_id"] == "stripe"
    document = json.loads(invoices[0]["document"])
    assert document["party"]["external_ids"] == {"hubspot_company": COMPANY}


def test_an_invoice_naming_no_crm_account_opens_master_data_missing(stack: Stack, apis) -> None:  # noqa: F811
    # a customer no CRM will ever announce: after the bounded wait, finance ops gets the case
    assert stack.send(invoice_for_company("0")).status == 202
    stack.drain(timeout=90)
    (case,) = stack.exceptions.list("open")
    assert case["reason"] == "master_data_missing"
    assert stack.postings() == []
