"""Stripe API calls for cash data (issue 16, D83): an automatic payout's balance transactions are listed in pages of
100 (``GET /v1/balance_transactions?payout=…``), so 1,000 charges paid out together cost 11 calls (1,001 balance
transactions with the payout's own). The baseline, measured in the same run, is the other way to learn each
charge's fee: one ``GET /v1/balance_transactions/{id}`` per charge. Both run against the local Stripe fake
(127.0.0.1) through the production client, which counts its own requests (a 429 retry would count too).
Target: ≤ 11 calls per 1,000 charges."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

from bench.report import table, verdict, write_section

TARGET_PER_1000 = 11
SIZES = (100, 1_000, 10_000)


def _fixture(folder: Path, payout: str, charges: int) -> None:
    vendor = json.loads((Path(__file__).resolve().parents[1] / "tests" / "contracts" / "stripe" /
                         "balance_transaction_with_fee.json").read_text())
    items = [{**vendor, "id": f"txn_{i:07d}", "source": f"ch_{i:07d}"} for i in range(charges)]
    items.insert(0, {**vendor, "id": "txn_payout", "type": "payout", "reporting_category": "payout", "fee": 0,
                     "fee_details": [], "amount": -vendor["net"] * charges, "net": -vendor["net"] * charges,
                     "source": payout})
    target = folder / "stripe" / "api" / "balance_transactions"
    target.mkdir(parents=True, exist_ok=True)
    (target / f"{payout}.json").write_text(json.dumps({"data": items}))


def main(argv: list[str]) -> bool:
    """Prints the table, writes ``stripe_cash``; returns True when the target was missed."""
    from ledgerlink.config.sources import ApiAccess, SecretRef, StripeSource
    from ledgerlink.connectors.sources.http import UrllibHttp
    from ledgerlink.connectors.sources.stripe.api import StripeApiSession
    from ledgerlink.connectors.sources.stripe.payouts import settle
    from ledgerlink.local.fake_apis import FakeSourceApis, generate_credentials
    from ledgerlink.model.money import Money

    rows, results = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in SIZES:
            _fixture(Path(tmp), f"po_bench{size}", size)
        credentials = generate_credentials("stripe")
        with FakeSourceApis(Path(tmp), credentials={"stripe": credentials}) as fake:
            source = StripeSource(id="stripe", kind="stripe", signing_secret=SecretRef(secret_id="s"),
                                  default_entity="us01",
                                  api=ApiAccess(base_url=fake.url, credentials=SecretRef(secret_id="k")))
            for size in SIZES:
                session = StripeApiSession(source, credentials, UrllibHttp())
                started = time.perf_counter()
                listed = session.payout_balance_transactions(f"po_bench{size}")
                seconds = time.perf_counter() - started
                net = sum(item["net"] for item in listed if item["type"] != "payout")
                settlement = settle(f"po_bench{size}", "usd", net, listed, lambda units, cur: Money.from_minor(units, cur))
                assert settlement.count == size
                per_1000 = round(session.calls * 1000 / size, 2)
                results[str(size)] = {"charges": size, "calls": session.calls, "calls_per_1000": per_1000,
                                      "baseline_calls_one_per_charge": size, "seconds": round(seconds, 3)}
                rows.append([f"{size:,}", session.calls, per_1000, f"{size:,}", f"{size / session.calls:.0f}×",
                             f"{seconds:.2f} s"])
    met = results["1000"]["calls_per_1000"] <= TARGET_PER_1000
    print(table("Stripe API calls for cash data (payout balance transactions, pages of 100)",
                ["charges in the payout", "calls", "per 1,000 charges", "baseline: one per charge", "fewer",
                 "list time"], rows))
    print(f"  per 1,000 charges: {results['1000']['calls_per_1000']} (target ≤ {TARGET_PER_1000}) — {verdict(met)}\n")
    write_section("stripe_cash", {"sizes": results, "target_calls_per_1000": TARGET_PER_1000, "target_met": met})
    return not met


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1:]) else 0)
