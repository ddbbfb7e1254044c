"""Cash that ties out (issue 16, D83): random sequences of charges, refunds, disputes (lost and won), Stripe fees,
adjustments and automatic payouts in USD, JPY, KWD and EUR — with charges in another currency settled into the balance
at Stripe's rate — run through a simulated Stripe balance written here and
through LedgerLink's documents and posting rules. After every step the book's Stripe clearing account equals the
simulated Stripe balance not yet paid out, plus the fees Stripe kept that LedgerLink books at the payout, less the
adjustments no event booked; payouts in transit equal the payouts not yet on a bank statement; every payout nets to
its bank line; and delivering a payout's events twice, or its balance transactions in another order, posts the
same deposit once. A charge booked in another currency leaves clearing in its own currency at the payout, and the FX
trading account holds both legs (booked and settled)."""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerlink.config import LedgerLinkConfig
from ledgerlink.config.loader import parse_config_text
from ledgerlink.connectors.sources.base import NormalizeContext
from ledgerlink.connectors.sources.stripe.normalize import normalize
from ledgerlink.model.documents import BankTransaction, Fee, Party, Payment, SourceRef
from ledgerlink.model.money import Money
from ledgerlink.pipeline.enrich import enrich

from tests.conftest import EXAMPLE_CONFIG
from tests.unit.test_stripe_payouts import payout_event, txn

CLEARING, TRANSIT = "Assets:US01:Clearing:Stripe", "Assets:US01:Clearing:PayoutsInTransit"
FX = "Income:US01:FX:Realized"
FOREIGN = {"usd": "eur", "eur": "usd", "jpy": "usd", "kwd": "eur"}   # the currency each balance's foreign charges use
FEES = ("Expenses:US01:PaymentProcessing:Stripe", "Expenses:US01:PaymentProcessing:Disputes")
# Stripe's decimals per currency (docs.stripe.com "Supported currencies"): KWD amounts of charges end in 0
STEP = {"usd": 1, "eur": 1, "jpy": 1, "kwd": 10}
DIGITS = {"usd": 2, "eur": 2, "jpy": 0, "kwd": 3}


@dataclass
class Stripe:
    """The simulated provider: balance transactions, and which payout took each one."""

    currency: str
    unpaid: list[dict] = field(default_factory=list)
    charges: dict[str, int] = field(default_factory=dict)      # charge id → amount not yet refunded or disputed
    counter: int = 0

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}_{self.counter:06d}"

    def balance(self) -> int:
        return sum(item["net"] for item in self.unpaid)


def major(minor: int, currency: str) -> Decimal:
    return Decimal(minor).scaleb(-DIGITS[currency])


def ref(object_type: str, object_id: str, version: str = "1", source: str = "stripe") -> SourceRef:
    return SourceRef(system=source, object_type=object_type, object_id=object_id, version=version,
                     source_id=source)


def payment(currency: str, object_type: str, object_id: str, amount: int, direction: str,
            fees: tuple[Fee, ...] = ()) -> Payment:
    source = ref(object_type, object_id)
    return Payment(document_id=source.document_id(), source=source, entity_id="us01", correlation_id="c",
                   occurred_at=datetime(2026, 3, 1, tzinfo=UTC), accounting_date=date(2026, 3, 1), currency=currency,
                   direction=direction, amount=Money.of(major(amount, currency), currency), fees=fees, method="card",
                   reference=object_id, party=Party(role="customer", source_id="cus_1"))


operations = st.lists(st.tuples(st.sampled_from(["charge", "charge", "foreign", "refund", "dispute", "won", "adjust",
                                                 "payout", "bank", "again"]),
                                st.integers(min_value=1, max_value=500_000), st.randoms(use_true_random=False)),
                      min_size=1, max_size=25)


def adjustments_mapped() -> LedgerLinkConfig:
    """The example configuration with Stripe's unbooked adjustments mapped (unmapped, each is a mapping case)."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    for mapping in data["account_mappings"]:
        if (mapping.get("entity"), mapping.get("source")) == ("us01", "stripe"):
            mapping["accounts"]["processor_adjustments"] = "Expenses:US01:PaymentProcessing:Adjustments"
    return parse_config_text(yaml.safe_dump(data), origin="test")


CONFIG = adjustments_mapped()


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(sorted(STEP)), operations)
def test_clearing_and_transit_tie_to_the_simulated_stripe_balance_after_every_step(currency, ops):
    example_config = CONFIG
    stripe = Stripe(currency)
    book: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    foreign = FOREIGN[currency]
    foreign_unpaid, foreign_settled_unpaid = 0, 0  # booked in the foreign currency / what Stripe settled them for
    foreign_paid_out, settled_paid_out = 0, 0      # what payouts converted, in each currency
    posted: set[str] = set()
    unbooked_fees, unbooked_adjustments = 0, 0     # kept by Stripe, booked by LedgerLink at the payout
    in_transit: dict[str, int] = {}                # payout id → amount not yet on a bank statement
    disputed: list[tuple[str, int, int]] = []
    ctx = NormalizeContext(config=example_config, source_id="stripe", correlation_id="c", archive_key="raw/s/x.json")

    def post(document) -> None:
        if document.document_id in posted:          # the ledger's guard: a document posts once
            return
        posted.add(document.document_id)
        for line in enrich(document, example_config, config_version=1).lines:
            book[(line.account, line.amount.currency)] += line.amount.amount

    for kind, raw, rnd in ops:
        amount = raw - raw % STEP[currency] or STEP[currency]
        if kind == "charge":
            fee = (amount * 29 // 1000) // STEP[currency] * STEP[currency]
            charge_id = stripe.next_id("ch")
            stripe.charges[charge_id] = amount
            stripe.unpaid.append(txn(stripe.next_id("txn"), amount, [("stripe_fee", fee)] if fee else [],
                                     source=charge_id, currency=currency))
            unbooked_fees += fee
            post(payment(currency, "invoice_payment", charge_id, amount, "received"))
        elif kind == "foreign":   # a charge in another currency, settled into this balance at Stripe's rate
            rate = Decimal(rnd.randint(5000, 20000)) / 10000
            settled = int((major(amount, foreign) * rate).scaleb(DIGITS[currency]).quantize(Decimal(1)))
            settled -= settled % STEP[currency]
            if settled <= 0:
                continue
            fee = (settled * 29 // 1000) // STEP[currency] * STEP[currency]
            charge_id = stripe.next_id("ch")
            stripe.unpaid.append(txn(stripe.next_id("txn"), settled, [("stripe_fee", fee)] if fee else [],
                                     currency=currency, exchange_rate=float(rate),   # as Stripe's JSON gives it
                                     source={"id": charge_id, "object": "charge", "amount": amount,
                                             "currency": foreign}))
            unbooked_fees += fee
            foreign_unpaid += amount
            foreign_settled_unpaid += settled
            post(payment(foreign, "invoice_payment", charge_id, amount, "received"))
        elif kind in ("refund", "dispute") and stripe.charges:
            charge_id = rnd.choice(sorted(stripe.charges))
            part = min(amount, stripe.charges[charge_id])
            if part <= 0:
                continue
            stripe.charges[charge_id] -= part
            if kind == "refund":
                refund_id = stripe.next_id("re")
                stripe.unpaid.append(txn(stripe.next_id("txn"), -part, category="refund", source=refund_id,
                                         currency=currency))
                post(payment(currency, "refund", refund_id, part, "refunded"))
            else:
                dispute_id, fee = stripe.next_id("du"), 15 * 10 ** DIGITS[currency]   # Stripe's 15.00 dispute fee
                stripe.unpaid.append(txn(stripe.next_id("txn"), -part, [("stripe_fee", fee)], category="dispute",
                                         kind="adjustment", source=dispute_id, currency=currency))
                disputed.append((dispute_id, part, fee))
                post(payment(currency, "dispute", dispute_id, part, "chargeback",
                             (Fee(kind="dispute", amount=Money.of(major(fee, currency), currency)),)))
        elif kind == "won" and disputed:
            dispute_id, part, fee = disputed.pop(rnd.randrange(len(disputed)))
            stripe.unpaid.append(txn(stripe.next_id("txn"), part, [("stripe_fee", -fee)], category="dispute_reversal",
                                     kind="adjustment", source=dispute_id, currency=currency))
            post(payment(currency, "dispute", f"{dispute_id}:won", part, "chargeback_reversed",
                         (Fee(kind="dispute", amount=Money.of(major(fee, currency), currency)),)))
        elif kind == "adjust":
            signed = amount if rnd.random() < 0.5 else -amount
            stripe.unpaid.append(txn(stripe.next_id("txn"), signed, category="other_adjustment", kind="adjustment",
                                     currency=currency))
            unbooked_adjustments += signed
        elif kind in ("payout", "again") and stripe.balance() > 0 and stripe.unpaid:
            payout_id = stripe.next_id("po")
            listed, net = list(stripe.unpaid), stripe.balance()
            fees_in = sum(t["fee"] for t in listed if t["reporting_category"] in ("charge", "refund"))
            adjustments_in = sum(t["net"] for t in listed if t["reporting_category"] == "other_adjustment")
            event = payout_event(net, currency=currency)
            event["data"]["object"]["id"] = payout_id
            (document,) = normalize({"notification": event, "fetched": {"balance_transactions": listed}}, ctx).documents
            # the same payout again (reconciliation_completed), its pages in another order: the same document
            shuffled = random.Random(raw).sample(listed, len(listed))
            again = payout_event(net, currency=currency, event_type="payout.reconciliation_completed")
            again["data"]["object"]["id"] = payout_id
            (twice,) = normalize({"notification": again, "fetched": {"balance_transactions": shuffled}}, ctx).documents
            assert twice.model_dump(exclude={"source", "correlation_id"}) == document.model_dump(
                exclude={"source", "correlation_id"}) and twice.document_id == document.document_id
            post(document)
            post(twice if kind == "again" else document)
            stripe.unpaid.clear()
            foreign_paid_out += foreign_unpaid
            settled_paid_out += foreign_settled_unpaid
            foreign_unpaid, foreign_settled_unpaid = 0, 0
            unbooked_fees -= fees_in
            unbooked_adjustments -= adjustments_in
            in_transit[payout_id] = net
        elif kind == "bank" and in_transit:
            payout_id = sorted(in_transit)[0]
            amount = in_transit.pop(payout_id)
            source = ref("bank_line", f"line-{payout_id}", source="bank")
            line = BankTransaction(document_id=source.document_id(), source=source, entity_id="us01",
                                   correlation_id="c", occurred_at=datetime(2026, 3, 2, tzinfo=UTC),
                                   accounting_date=date(2026, 3, 2), currency=currency,
                                   amount=Money.of(major(amount, currency), currency), bank_account="NL00BANK0123",
                                   booking_date=date(2026, 3, 2), counter_role="payouts_in_transit",
                                   applies_to_document_id=ref("payout", payout_id, "paid").document_id())
            post(line)
        # Then, after every step: clearing = Stripe's unpaid balance + fees not yet booked − adjustments not booked,
        # less what Stripe holds for charges booked in the other currency — those stay on clearing in theirs
        expected = stripe.balance() + unbooked_fees - unbooked_adjustments - foreign_settled_unpaid
        assert book[(CLEARING, currency.upper())] == major(expected, currency), (kind, book, expected)
        assert book[(CLEARING, foreign.upper())] == major(foreign_unpaid, foreign)
        # the FX trading account holds both legs of every converted item: booked in one currency, settled in the other
        assert book[(FX, foreign.upper())] == major(foreign_paid_out, foreign)
        assert book[(FX, currency.upper())] == -major(settled_paid_out, currency)
        assert book[(TRANSIT, currency.upper())] == major(sum(in_transit.values()), currency)
        for code in {code for _, code in book}:
            assert sum(amount for (_, c), amount in book.items() if c == code) == 0
