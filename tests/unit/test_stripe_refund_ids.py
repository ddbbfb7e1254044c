"""Newer-API ``charge.refunded`` events do not embed the charge's refunds (D89): with the source's cash-data API the
refunds are listed (``GET /v1/refunds?charge=``) and the event's own — those making up its increase of
``amount_refunded`` — post under their refund ids, the ids a credit note names when it pays one out, so the credited
amount leaves the revenue schedule once. Without the API, or when the list does not add up, the increase posts as one
refund named after the charge (the books still net; only the schedule cannot pair it with its note)."""

from __future__ import annotations

import copy
from decimal import Decimal

from ledgerlink.config.sources import ApiAccess, SecretRef, StripeSource
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe import api
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.model.money import Money
from ledgerlink.pipeline.revenue import changes_for

from tests.conftest import event_json
from tests.unit.test_credit_refunds_voids_write_offs import _fact, _line

CHARGE = "ch_1QLedgerLinkAcmePay01"
T0 = 1794189600


def _source(api_url: str | None = "https://api.stripe.com") -> StripeSource:
    access = ApiAccess(base_url=api_url, credentials=SecretRef(secret_id="ledgerlink/stripe/key")) if api_url else None
    return StripeSource(id="stripe", kind="stripe", signing_secret=SecretRef(secret_id="s"), default_entity="us01",
                        api=access)


def _refund(refund_id: str, amount: int, created: int, status: str = "succeeded") -> dict:
    return {"id": refund_id, "object": "refund", "amount": amount, "charge": CHARGE, "created": created,
            "currency": "eur", "status": status}


def _event(previous: int, now: int) -> dict:
    event = copy.deepcopy(event_json("stripe/08-charge.refunded.partial.current-api.json"))
    event["data"]["object"]["amount_refunded"] = now
    event["data"]["previous_attributes"] = {"amount_refunded": previous}
    return event


def _normalize(config, event: dict, refunds: list[dict] | None):  # noqa: ANN001, ANN202
    ctx = NormalizeContext(config=config, source_id="stripe", correlation_id="c", archive_key="raw/stripe/x.json")
    wrapped = {"notification": event, "fetched": None if refunds is None else {"charge": CHARGE, "refunds": refunds}}
    return normalize(wrapped, ctx).documents


def test_only_newer_api_refund_events_of_a_source_with_the_api_are_fetched():
    newer = event_json("stripe/08-charge.refunded.partial.current-api.json")
    older = event_json("stripe/04-charge.refunded.json")              # embeds charge.refunds.data
    assert api.wants(newer, _source()) is True
    assert api.wants(older, _source()) is False
    assert api.wants(newer, _source(None)) is False
    assert api.wants(event_json("stripe/02-invoice.paid.json"), _source()) is False


def test_each_refund_posts_under_its_own_id_as_the_older_shape_would(example_config):
    # two refunds of the charge, 5.00 then 15.00: the event raising amount_refunded 500 → 2000 is the second one
    listed = [_refund("re_B", 1500, T0 + 60), _refund("re_A", 500, T0)]    # Stripe lists newest first
    (refund,) = _normalize(example_config, _event(500, 2000), listed)
    assert refund.source.object_id == "re_B" and refund.reference == "re_B"
    assert refund.amount == Money("15.00", "EUR")
    older = copy.deepcopy(event_json("stripe/04-charge.refunded.json"))
    older["data"]["object"]["refunds"]["data"][0].update(id="re_B")
    assert refund.source.document_id() == _normalize(example_config, older, None)[0].source.document_id()


def test_a_late_fetch_posts_only_the_events_own_refunds(example_config):
    # fetched after a third refund was made: the 0 → 500 event still posts re_A alone; re_C is its own event's
    listed = [_refund("re_C", 700, T0 + 120), _refund("re_B", 1500, T0 + 60), _refund("re_A", 500, T0),
              _refund("re_X", 9999, T0 + 30, status="failed")]
    assert [d.source.object_id for d in _normalize(example_config, _event(0, 500), listed)] == ["re_A"]
    # one event covering two refunds (Stripe may coalesce): both, each under its id, 5.00 + 15.00 = the 20.00 increase
    both = _normalize(example_config, _event(0, 2000), listed)
    assert [(d.source.object_id, d.amount) for d in both] == [("re_A", Money("5.00", "EUR")),
                                                              ("re_B", Money("15.00", "EUR"))]


def test_a_list_that_does_not_add_up_falls_back_to_the_increase_named_after_the_charge(example_config):
    # the listed refunds tile 0 → 500 → 2000, but the event says 0 → 1200: no exact set, nothing is guessed
    listed = [_refund("re_B", 1500, T0 + 60), _refund("re_A", 500, T0)]
    (refund,) = _normalize(example_config, _event(0, 1200), listed)
    assert refund.source.object_id == CHARGE and refund.amount == Money("12.00", "EUR")
    (no_api,) = _normalize(example_config, _event(0, 2000), None)
    assert no_api.source.object_id == CHARGE and no_api.amount == Money("20.00", "EUR")


def test_with_the_refund_id_a_credit_note_paid_out_by_it_leaves_the_schedule_once(example_config):
    # the note names re_A; the refund event, read through the API, posts re_A: the schedule pairs them
    (refund,) = _normalize(example_config, _event(0, 10000), [_refund("re_A", 10000, T0)])
    note = copy.deepcopy(event_json("stripe/12-credit_note.created.json"))
    note["data"]["object"].update(type="post_payment", refunds=[{"amount_refunded": 1690, "refund": "re_A"}])
    ctx = NormalizeContext(config=example_config, source_id="stripe", correlation_id="c", archive_key="k")
    _, payout = normalize(note, ctx).documents
    assert payout.refund_document_id == refund.document_id
    credit = _fact(fact_id="cn:l1", kind="credit_note", document_id="cn", amount=Decimal("100.00"), account="R",
                   line_id="il_1")
    refunded = _fact(fact_id=refund.document_id, kind="refund", document_id=refund.document_id,
                     amount=Decimal("100.00"), account="Income:Refunds", net_of_tax=True)
    paid_out = _fact(fact_id=payout.document_id, kind="credit_refund", document_id=payout.document_id,
                     amount=Decimal("100.00"), refund_document_id=payout.refund_document_id)
    # 1,200.00 billed over 12 months, 100.00 credited and refunded: 100.00 leaves the schedule, not 200.00
    taken = sum(change.share for change in changes_for(_line(), [refunded, credit, paid_out]))
    assert taken == Decimal("100.00")
