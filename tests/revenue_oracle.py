"""An independent computation of the revenue schedules of the sample events — for tests only.

Written from the policy as the README states it, not from ``ledgerlink.pipeline``: it reads the raw Stripe
samples (JSON), converts period instants to the entity's local dates, walks the service period day by day with
exact fractions, applies a refund by scaling the days that remain after it, sums the days of each calendar
month, and rounds each line's cumulative amount half-even to the cent. Nothing here imports LedgerLink.

A refund is shared over the invoice's lines *exactly*: each line's share is its net over the invoice total, in
whole cents by largest remainder (Hamilton: integer floor of each quota, leftover cents to the largest
remainders, ties to the earlier line; the rest of the invoice — tax, lines without a service period — is one more
claimant after the lines). An earlier version rounded each line's share down on its own, which is the lossy rule
issue 17 (defect 9) fixed: 100.00 over three equal lines reclassified 99.99. ``largest_remainder`` below is
written from the definition, independently of ``ledgerlink.model.allocation``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
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

    def refund(self, share: Decimal, on: date) -> None:
        """Take this line's (already allocated) share of a refund out of the days from ``on``."""
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


def _event(sample: str | dict) -> dict:
    """A sample by file name (events/stripe) or an event already parsed (a test's variant of a sample)."""
    return sample if isinstance(sample, dict) else json.loads((STRIPE / sample).read_text())


def invoice_lines(name: str | dict) -> list[OracleLine]:
    invoice = _event(name)["data"]["object"]
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


def refund(name: str | dict) -> tuple[str, Decimal, date]:
    event = _event(name)
    charge = event["data"]["object"]
    delta = charge["amount_refunded"] - event["data"]["previous_attributes"]["amount_refunded"]
    return charge["invoice"], Decimal(delta) / 100, local_day(event["created"])


def largest_remainder(cents: int, weights: list[Fraction]) -> list[int]:
    """``cents`` (≥ 0) shared by ``weights`` (≥ 0): floor of each quota, then one cent each to the largest
    remainders, earlier first on a tie. The shares add up to ``cents``."""
    base = sum(weights, Fraction(0))
    quotas = [Fraction(cents) * weight / base for weight in weights]
    shares = [int(quota) for quota in quotas]                  # int() truncates: the floor of a quota ≥ 0
    order = sorted(range(len(weights)), key=lambda i: quotas[i] - shares[i], reverse=True)   # stable: ties keep order
    for i in order[:cents - sum(shares)]:
        shares[i] += 1
    return shares


def refund_shares(lines: list[OracleLine], invoice: str, amount: Decimal) -> list[tuple[OracleLine, Decimal]]:
    """The refund's share of each line of ``invoice`` with a positive net, in invoice order; the rest of the
    invoice total (tax, lines not deferred) is the last claimant."""
    claimants = [line for line in lines if line.invoice == invoice and line.net > 0]
    if not claimants:
        return []
    weights = [line.net for line in claimants]
    weights.append(max(Fraction(0), claimants[0].invoice_total - sum(weights, Fraction(0))))
    cents = largest_remainder(int(amount * 100), weights)
    return [(line, Decimal(share) / 100) for line, share in zip(claimants, cents, strict=False)]


def demo_lines(invoices: list[str | dict], refunds: list[str | dict]) -> list[OracleLine]:
    lines = [line for name in invoices for line in invoice_lines(name)]
    for name in refunds:
        invoice, amount, on = refund(name)
        for line, share in refund_shares(lines, invoice, amount):
            line.refund(share, on)
    return lines


def monthly_recognition(lines: list[OracleLine], currency: str) -> dict[str, Decimal]:
    """Revenue recognized per month, every line of ``currency`` together."""
    out: dict[str, Decimal] = defaultdict(Decimal)
    for line in (line for line in lines if line.currency == currency):
        for key, amount in line.monthly().items():
            out[key] += amount
    return dict(sorted(out.items()))


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
