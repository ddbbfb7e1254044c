"""Gap backfill: events Stripe created but never delivered are fetched from the events API by the daily
reconciliation and processed like webhooks — once, even when the real delivery arrives late."""

from __future__ import annotations

import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ledgerlink import wiring
from ledgerlink.store import clients

from tests.functional.conftest import config_with, event_bytes

API_KEY = "rk_test_backfill_reader"  # noqa: S105 - a test fixture stored only in moto
DAY = "2022-03-26"


class FakeStripeEvents:
    """GET /v1/events with Stripe's pagination (newest first, limit, starting_after) and bearer auth."""

    def __init__(self, events: list[dict]) -> None:
        self.events = sorted(events, key=lambda e: e["created"], reverse=True)
        self.requests: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # noqa: ANN002
                return

            def do_GET(self):  # noqa: N802
                url = urllib.parse.urlparse(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                fake.requests.append(query)
                if self.headers.get("Authorization") != f"Bearer {API_KEY}":
                    self.send_response(401)
                    self.end_headers()
                    return
                chosen = [e for e in fake.events
                          if int(query["created[gte]"]) <= e["created"] < int(query["created[lt]"])]
                if "starting_after" in query:
                    ids = [e["id"] for e in chosen]
                    chosen = chosen[ids.index(query["starting_after"]) + 1:]
                limit = int(query.get("limit", 10))
                body = json.dumps({"object": "list", "data": chosen[:limit], "has_more": len(chosen) > limit}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def stripe_api():
    events = [json.loads(event_bytes(name)) for name in
              ("01-invoice.finalized.json", "02-invoice.paid.json", "04-charge.refunded.json")]
    fake = FakeStripeEvents(events)
    yield fake
    fake.server.shutdown()


@pytest.fixture
def stack_config(stripe_api):
    return config_with(sources__0__api_key={"secret_id": "ledgerlink/stripe/events-reader"},
                       sources__0__api_base=stripe_api.base)


@pytest.fixture
def api_key_stored(stack):
    clients.client("secretsmanager").create_secret(Name="ledgerlink/stripe/events-reader", SecretString=API_KEY)


def reconcile():
    wiring.reset()
    return wiring.reconciler().run(DAY, ["us01"])


def test_undelivered_events_are_backfilled_posted_once_and_the_day_reconciles(stack, stripe_api, api_key_stored):
    # Given Stripe created three events that day, but only one reached the webhook
    assert stack.send_event("01-invoice.finalized.json").status == 202
    stack.drain()
    # When the day is reconciled, the missing two are fetched (paged: limit 100 covers them) and processed
    first = reconcile()
    assert first.backfill == [{"source": "stripe", "listed": 3, "already_received": 1,
                               "injected": ["evt_1KhfNbLedgerLinkInvPaid001", "evt_1KhfMcLedgerLinkChRefund1"]}]
    stack.drain()
    # Then the invoice, its payment and the refund are each posted once, and a second run finds nothing new
    assert len(stack.documents("posted")) == 3 and len(stack.postings()) == 3
    second = reconcile()
    assert second.status == "balanced"
    assert second.backfill[0]["injected"] == [] and second.backfill[0]["already_received"] == 3
    # And a late real delivery of a backfilled event is a duplicate
    late = stack.send_event("02-invoice.paid.json")
    assert (late.status, late.body["status"]) == (200, "duplicate")


def test_the_api_key_is_sent_and_pagination_is_followed(stack, stripe_api, api_key_stored):
    from ledgerlink.connectors.sources.stripe.events_api import list_events

    found = list(list_events(api_base=stripe_api.base, api_key=API_KEY, created_gte=0, created_lt=2**31, page_size=1))
    assert [e["id"] for e in found] == [e["id"] for e in stripe_api.events]
    assert [r.get("starting_after") for r in stripe_api.requests[-3:]] == [None, *[e["id"] for e in stripe_api.events[:2]]]


def test_a_refused_key_is_a_configuration_error_not_a_crash(stack, stripe_api):
    from ledgerlink.connectors.sources.stripe.events_api import list_events
    from ledgerlink.errors import ConfigError

    with pytest.raises(ConfigError) as refused:
        list(list_events(api_base=stripe_api.base, api_key="rk_wrong", created_gte=0, created_lt=2**31))
    assert refused.value.reason == "backfill_unauthorized"
