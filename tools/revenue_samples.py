"""Regenerate the revenue samples under events/stripe/ (14-18): python tools/revenue_samples.py

They are built from documented Stripe shapes, not captured traffic: the invoice object of sample 06 (itself the
``invoice`` of stripe/openapi's fixtures3.json) for the invoices, the ``charge`` of sample 08 for the refund,
sample 05's subscription for the upgrade event, and fixtures3.json's ``billing.meter_event`` for the usage.
Amounts and dates are chosen so the story is easy to check by hand (see events/stripe/README.md).
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path

EVENTS = Path(__file__).resolve().parents[1] / "events" / "stripe"
CUSTOMER, SUBSCRIPTION = "cus_QLedgerLinkGlobex", "sub_1QLedgerLinkGlobex"


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def write(name: str, event: dict) -> None:
    (EVENTS / name).write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")


def base_invoice() -> dict:
    return copy.deepcopy(json.loads((EVENTS / "06-invoice.paid.current-api.json").read_text())["data"]["object"])


def line(line_id: str, invoice_id: str, amount: int, description: str, start: int, end: int, price: str, product: str,
         *, proration: bool = False, quantity: int = 1, item: str = "si_1QLedgerLinkGlobexPlan") -> dict:
    return {
        "amount": amount, "currency": "usd", "description": description, "discount_amounts": [], "discountable": True,
        "discounts": [], "id": line_id, "invoice": invoice_id, "livemode": False, "metadata": {}, "object": "line_item",
        "period": {"start": start, "end": end}, "quantity": quantity, "subscription": None,
        "pretax_credit_amounts": None, "taxes": [],
        "parent": {"type": "subscription_item_details", "invoice_item_details": None,
                   "subscription_item_details": {"invoice_item": None, "proration": proration,
                                                 "proration_details": {"credited_items": None},
                                                 "subscription": SUBSCRIPTION, "subscription_item": item}},
        "pricing": {"type": "price_details", "price_details": {"price": price, "product": product},
                    "unit_amount_decimal": str(amount // quantity)},
        "subtotal": amount, "quantity_decimal": None}


def invoice_event(event_id: str, invoice_id: str, number: str, lines: list[dict], *, created: int, paid: int,
                  reason: str, charge: str) -> dict:
    invoice = base_invoice()
    total = sum(item["amount"] for item in lines)
    invoice.update({
        "id": invoice_id, "number": number, "currency": "usd", "customer": CUSTOMER,
        "customer_name": "Globex Corporation", "customer_address": {**invoice["customer_address"], "city": "Springfield",
                                                                   "country": "US"},
        "billing_reason": reason, "created": created, "effective_at": created, "period_start": created,
        "period_end": created, "amount_due": total, "amount_paid": total, "amount_remaining": 0, "subtotal": total,
        "subtotal_excluding_tax": total, "total": total, "total_excluding_tax": total, "total_discount_amounts": [],
        "total_taxes": [], "status_transitions": {"finalized_at": created, "marked_uncollectible_at": None,
                                                  "paid_at": paid, "voided_at": None},
        "webhooks_delivered_at": paid, "lines": {**invoice["lines"], "data": lines,
                                                 "url": f"/v1/invoices/{invoice_id}/lines"},
        "parent": {"type": "subscription_details", "quote_details": None,
                   "subscription_details": {"metadata": {}, "subscription": SUBSCRIPTION}},
        "payments": {"object": "list", "data": [{"object": "invoice_payment", "payment": {"type": "charge",
                                                                                           "charge": charge}}]}})
    return {"id": event_id, "object": "event", "api_version": "2025-10-29.clover", "created": paid,
            "data": {"object": invoice}, "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": "invoice.paid"}


def main() -> None:
    start, end = ts("2026-03-01T05:00:00"), ts("2027-03-01T05:00:00")      # midnight in New York (EST)
    upgrade = ts("2026-07-16T04:00:00")                                       # midnight in New York (EDT)
    annual = "in_1QLedgerLinkGlobexAnnual"
    write("14-invoice.paid.annual-subscription.json", invoice_event(
        "evt_1QLedgerLinkGlobexAnnualPd", annual, "LL-2026-0101",
        [line("il_1QLedgerLinkGlobexBiz", annual, 1200000, "LedgerLink Business × 1 (1 Mar 2026 – 1 Mar 2027)",
              start, end, "price_1QLedgerLinkBizAnnual", "prod_ledgerlink_business")],
        created=ts("2026-03-01T05:30:00"), paid=ts("2026-03-01T05:35:00"), reason="subscription_create",
        charge="ch_1QLedgerLinkGlobexAnnual"))

    subscription = json.loads((EVENTS / "05-customer.subscription.updated.json").read_text())
    obj = subscription["data"]["object"]
    enterprise = {"id": "price_1QLedgerLinkEntAnnual", "object": "price", "currency": "usd", "unit_amount": 1800000,
                  "product": "prod_ledgerlink_enterprise", "recurring": {"interval": "year", "interval_count": 1,
                                                                         "usage_type": "licensed", "meter": None}}
    obj.update({"id": SUBSCRIPTION, "customer": CUSTOMER, "current_period_start": start, "current_period_end": end,
                "start_date": start, "created": start, "status": "active", "latest_invoice": "in_1QLedgerLinkGlobexUpgr",
                "items": {"object": "list", "data": [{"id": "si_1QLedgerLinkGlobexPlan", "object": "subscription_item",
                                                      "price": enterprise, "quantity": 1}]},
                "plan": None, "quantity": 1, "schedule": None})
    subscription.update({"id": "evt_1QLedgerLinkGlobexUpgrade", "created": upgrade + 120})
    subscription["data"]["previous_attributes"] = {"items": {"data": [{"id": "si_1QLedgerLinkGlobexPlan", "price": {
        "id": "price_1QLedgerLinkBizAnnual", "unit_amount": 1200000, "product": "prod_ledgerlink_business"}}]}}
    write("15-customer.subscription.updated.upgrade.json", subscription)

    # Stripe prorates by the second; 228 of 365 days remain on 16 July: 12,000 × 228/365 and 18,000 × 228/365
    proration = "in_1QLedgerLinkGlobexUpgr"
    write("16-invoice.paid.upgrade-proration.json", invoice_event(
        "evt_1QLedgerLinkGlobexUpgrPd", proration, "LL-2026-0188",
        [line("il_1QLedgerLinkGlobexUnused", proration, -749589, "Unused time on LedgerLink Business after 16 Jul 2026",
              upgrade, end, "price_1QLedgerLinkBizAnnual", "prod_ledgerlink_business", proration=True),
         line("il_1QLedgerLinkGlobexRemain", proration, 1124384,
              "Remaining time on LedgerLink Enterprise after 16 Jul 2026", upgrade, end, "price_1QLedgerLinkEntAnnual",
              "prod_ledgerlink_enterprise", proration=True)],
        created=upgrade + 300, paid=upgrade + 420, reason="subscription_update", charge="ch_1QLedgerLinkGlobexUpgr"))

    refund = json.loads((EVENTS / "08-charge.refunded.partial.current-api.json").read_text())
    charge = refund["data"]["object"]
    charge.update({"id": "ch_1QLedgerLinkGlobexAnnual", "invoice": annual, "amount": 1200000, "amount_captured": 1200000,
                   "amount_refunded": 100000, "currency": "usd", "customer": CUSTOMER,
                   "created": ts("2026-03-01T05:35:00"), "refunded": False})
    refund.update({"id": "evt_1QLedgerLinkGlobexRefund", "created": ts("2026-09-10T14:00:00")})
    refund["data"]["previous_attributes"] = {"amount_refunded": 0}
    write("17-charge.refunded.partial.annual.json", refund)

    meter_event = json.loads((Path(__file__).resolve().parents[1] / "tests" / "contracts" / "stripe" /
                              "fixtures3.json").read_text())["resources"]["billing.meter_event"]
    events, values = [], [25, 30, 35, 40, 45, 30, 20, 25]      # 40 events summing to 1,250 API requests
    for position in range(40):
        moment = ts("2026-10-01T04:00:00") + position * 66_000   # spread over October (New York)
        events.append({**meter_event, "event_name": "api_request", "identifier": f"mev_globex_202610_{position:03d}",
                       "payload": {"stripe_customer_id": CUSTOMER, "value": str(values[position % 8])},
                       "timestamp": moment, "created": moment})
    assert sum(int(item["payload"]["value"]) for item in events) == 1250
    write("18-billing.meter_event.api-requests.json", {
        "id": "evt_1QLedgerLinkMeterBatch202610", "object": "event", "api_version": "2025-10-29.clover",
        "created": ts("2026-11-01T04:10:00"), "livemode": False, "type": "billing.meter_event",
        "data": {"object": {"object": "list", "data": events}}})

    usage = "in_1QLedgerLinkGlobexUsage10"
    write("19-invoice.paid.api-usage.json", invoice_event(
        "evt_1QLedgerLinkGlobexUsagePd", usage, "LL-2026-0311",
        [line("il_1QLedgerLinkGlobexApi", usage, 2500, "API requests × 1,250 (Oct 2026)", ts("2026-10-01T04:00:00"),
              ts("2026-11-01T04:00:00"), "price_1QLedgerLinkApiRequests", "prod_ledgerlink_api", quantity=1250,
              item="si_1QLedgerLinkGlobexApi")],
        created=ts("2026-11-01T05:00:00"), paid=ts("2026-11-01T05:05:00"), reason="subscription_cycle",
        charge="ch_1QLedgerLinkGlobexUsage"))


if __name__ == "__main__":
    main()
