"""An independent computation of the revenue schedules of the sample events — for tests only.

Written from the policy as the README states it, not from ``ledgerlink.pipeline``: it reads the raw Stripe
samples (JSON), converts period instants to the entity's local dates, walks the service period day by day with
exact fractions, applies a refund by scaling the days that remain after it, sums the days of each calendar
month, and rounds each line's cumulative amount half-even to the cent. Nothing here imports LedgerLink.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path
from zoneinfo import ZoneInfo

STRIPE = Path(__file__).resolve().parents[1] / "events" / "stripe"
NEW_YORK = ZoneInfo("America/New_York")
CENT = Decimal("0.01")


def local_day(unix: int) -> date:
    return datetime.fromtimestamp(unix, UTC).astimezone(NEW_YORK).date()


def month(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


@dataclass
class OracleLine:
    invoice: str
    line: str
    currency: str
    net: Fraction
    start: date
    end: date            # exclusive
    billed_on: date
    invoice_total: Fraction
    days: dict[date, Fraction] = field(default_factory=dict)
    taken: dict[str, Decimal] = field(default_factory=dict)   # month → refunded out of deferral

    def spread(self) -> None:
        count = (self.end - self.start).days
        self.days = {self.start + timedelta(days=i): self.net / count for i in range(count)}

    def refund(self, amount: Decimal, on: date) -> None:
        share = (Decimal(amount) * Decimal(self.net.numerator) / Decimal(self.net.denominator)
                 / (Decimal(self.invoice_total.numerator) / Decimal(self.invoice_total.denominator)))
        share = share.quantize(CENT, rounding=ROUND_DOWN)
        remaining = sum((value for day, value in self.days.items() if day >= on), Fraction(0))
        cap = min(share, Decimal(int(remaining * 100)) / 100) if remaining > 0 else Decimal(0)
        if cap:
            factor = (remaining - Fraction(cap)) / remaining
            self.days = {day: value * factor if day >= on else value for day, value in self.days.items()}
        self.taken[month(on)] = self.taken.get(month(on), Decimal(0)) + cap

    def monthly(self) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        cumulative, before = Fraction(0), Decimal(0)
        for key in sorted({month(day) for day in self.days}):
            cumulative += sum((v for d, v in self.days.items() if month(d) == key), Fraction(0))
            rounded = (Decimal(cumulative.numerator) / Decimal(cumulative.denominator)).quantize(
                CENT, rounding=ROUND_HALF_EVEN)
            out[key] = rounded - before
            before = rounded
        return out


def invoice_lines(name: str) -> list[OracleLine]:
    invoice = json.loads((STRIPE / name).read_text())["data"]["object"]
    total = Fraction(invoice["total"], 100)
    billed_on = local_day(invoice["status_transitions"]["finalized_at"])
    lines = []
    for raw in invoice["lines"]["data"]:
        start, end = local_day(raw["period"]["start"]), local_day(raw["period"]["end"])
        if end <= start:
            continue
        discount = sum(item["amount"] for item in raw.get("discount_amounts") or [])
        inclusive = sum(t["amount"] for t in raw.get("taxes") or [] if t.get("tax_behavior") == "inclusive")
        line = OracleLine(invoice["id"], raw["id"], invoice["currency"].upper(),
                          Fraction(raw["amount"] - discount - inclusive, 100), start, end, billed_on, total)
        line.spread()
        lines.append(line)
    return lines


def refund(name: str) -> tuple[str, Decimal, date]:
    event = json.loads((STRIPE / name).read_text())
    charge = event["data"]["object"]
    delta = charge["amount_refunded"] - event["data"]["previous_attributes"]["amount_refunded"]
    return charge["invoice"], Decimal(delta) / 100, local_day(event["created"])


def demo_lines(invoices: list[str], refunds: list[str]) -> list[OracleLine]:
    lines = [line for name in invoices for line in invoice_lines(name)]
    for name in refunds:
        invoice, amount, on = refund(name)
        for line in lines:
            if line.invoice == invoice and line.net > 0:
                line.refund(amount, on)
    return lines


def waterfall(lines: list[OracleLine], currency: str, released_through: str) -> list[dict[str, str]]:
    billed: dict[str, Decimal] = defaultdict(Decimal)
    recognized: dict[str, Decimal] = defaultdict(Decimal)
    taken: dict[str, Decimal] = defaultdict(Decimal)
    for line in (line for line in lines if line.currency == currency):
        billed[month(line.billed_on)] += Decimal(line.net.numerator) / Decimal(line.net.denominator)
        for key, amount in line.monthly().items():
            recognized[key] += amount
        for key, amount in line.taken.items():
            taken[key] += amount
    keys = sorted(set(billed) | set(recognized) | set(taken))
    first, last = date.fromisoformat(keys[0] + "-01"), date.fromisoformat(keys[-1] + "-01")
    rows, closing, current = [], Decimal(0), first
    while current <= last:
        key = month(current)
        closing += billed[key] - recognized[key] - taken[key]
        rows.append({"period": key, "billed": billed[key].quantize(CENT), "recognized": recognized[key].quantize(CENT),
                     "adjusted": taken[key].quantize(CENT), "closing_deferred": closing.quantize(CENT),
                     "released": (recognized[key] if key <= released_through else Decimal(0)).quantize(CENT)})
        current = (current.replace(day=28) + timedelta(days=4)).replace(day=1)
    return rows


def deferred_after(lines: list[OracleLine], currency: str, released_through: str) -> Decimal:
    """What stays on deferred revenue once every month through ``released_through`` is released."""
    total = Decimal(0)
    for line in (line for line in lines if line.currency == currency):
        total += Decimal(line.net.numerator) / Decimal(line.net.denominator)
        total -= sum((a for k, a in line.monthly().items() if k <= released_through), Decimal(0))
        total -= sum((a for k, a in line.taken.items() if k <= released_through), Decimal(0))
    return total.quantize(CENT)
