"""Revenue schedules through the real handlers and state machine on moto: an annual subscription, its mid-term
upgrade (proration invoice), a partial refund, usage that ties to the invoice billing it, the period-end
release job — exactly once, whatever the order and however often events arrive."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from ledgerlink.service.revenue import schedule_report, waterfall_report
from ledgerlink.store.revenue import DynamoRevenue

from tests.functional.conftest import event_bytes

ANNUAL = "14-invoice.paid.annual-subscription.json"
UPGRADE_EVENT = "15-customer.subscription.updated.upgrade.json"
PRORATION = "16-invoice.paid.upgrade-proration.json"
REFUND = "17-charge.refunded.partial.annual.json"
METER_EVENTS = "18-billing.meter_event.api-requests.json"
USAGE_INVOICE = "19-invoice.paid.api-usage.json"
STORY = [ANNUAL, UPGRADE_EVENT, PRORATION, REFUND, METER_EVENTS, USAGE_INVOICE]
PERIODS = ["2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]


def send_all(stack, names):
    for name in names:
        assert stack.send_event(name).status == 202, name
    stack.drain()


def release_all(stack, periods=PERIODS):
    return [stack.host.invoke("revenue_release", {"entity": "us01", "period": period}) for period in periods]


def store(stack) -> DynamoRevenue:
    return DynamoRevenue(stack.resources.tables["revenue"])


def book_balance(stack, account: str, currency: str = "USD") -> Decimal:
    from ledgerlink.connectors.erps.beancount import BeancountBook
    from ledgerlink.store.books import FileBookStore

    book = BeancountBook(stack.config.connection("books"), FileBookStore(stack.book_dir))
    return book.trial_balance().get((account, currency), Decimal(0))


def test_the_story_posts_deferred_revenue_and_releases_it_once(stack):
    send_all(stack, STORY)
    assert {d["status"] for d in stack.documents() if d["document_type"] in ("invoice", "payment")} == {"posted"}
    assert book_balance(stack, "Liabilities:US01:DeferredRevenue") == Decimal("-15772.95")   # 12,000 + 3,747.95 + 25
    reports = release_all(stack)
    assert [entity["status"] for report in reports for entity in report["entities"]] == ["released"] * len(PERIODS)
    waterfall = waterfall_report(store(stack), "us01")["currencies"]["USD"]
    # what the book holds on deferred revenue is what the schedules still defer after the releases
    assert book_balance(stack, "Liabilities:US01:DeferredRevenue") == -Decimal(waterfall["deferred_now"])
    # running every release again posts nothing
    postings = len(stack.postings())
    again = release_all(stack)
    assert [entity["status"] for report in again for entity in report["entities"]] == ["refused"] * 7 + [
        "nothing_to_release"]
    assert len(stack.postings()) == postings



def as_decimals(rows):
    return [{key: (value if key == "period" else Decimal(value).quantize(Decimal("0.01"))) for key, value in row.items()}
            for row in rows]


def test_the_waterfall_matches_an_independent_computation(stack):
    from tests import revenue_oracle

    send_all(stack, STORY)
    release_all(stack)
    expected = revenue_oracle.waterfall(revenue_oracle.demo_lines([ANNUAL, PRORATION, USAGE_INVOICE], [REFUND]),
                                        "USD", released_through="2026-10")
    report = waterfall_report(store(stack), "us01")["currencies"]["USD"]
    assert as_decimals(report["rows"]) == expected
    assert Decimal(report["deferred_now"]) == revenue_oracle.deferred_after(
        revenue_oracle.demo_lines([ANNUAL, PRORATION, USAGE_INVOICE], [REFUND]), "USD", "2026-10")


def test_out_of_order_and_repeated_deliveries_give_the_same_schedules(stack):
    # Given the story delivered backwards, every fact twice (the second time under a new event id)
    for name in reversed(STORY):
        assert stack.send_event(name).status == 202
    for name in STORY:
        assert stack.send_event(name, id=json.loads(event_bytes(name))["id"] + "_again").status == 202
    stack.drain()
    release_all(stack)
    # Then the schedules and the waterfall are those of the story told once, in order
    from tests import revenue_oracle

    expected = revenue_oracle.waterfall(revenue_oracle.demo_lines([ANNUAL, PRORATION, USAGE_INVOICE], [REFUND]),
                                        "USD", released_through="2026-10")
    assert as_decimals(waterfall_report(store(stack), "us01")["currencies"]["USD"]["rows"]) == expected
    # And the usage was aggregated once: 40 meter events, 1,250 requests, tied to the invoice line
    invoice = next(d for d in stack.documents("posted") if d["source_object"].startswith("invoice:in_1QLedgerLinkGlobexUsage10"))
    (tie,) = schedule_report(store(stack), invoice["document_id"])["usage"]
    assert (tie["status"], tie["metered_quantity"], tie["records"]) == ("tied", "1250", 40)


def test_a_change_after_its_period_was_released_is_caught_up_by_the_next_release(stack):
    # Given the annual subscription released through September, before the refund of 10 September arrived
    send_all(stack, [ANNUAL])
    release_all(stack, PERIODS[:7])
    send_all(stack, [REFUND])
    # When October is released
    (october,) = release_all(stack, ["2026-10"])
    # Then the reclassification of the refund is posted in October, and the schedules tie with the book
    assert october["entities"][0]["status"] == "released"
    assert book_balance(stack, "Income:US01:Revenue:Refunds") == Decimal("0.00")   # 1,000 refunded, 1,000 reclassified
    report = waterfall_report(store(stack), "us01")["currencies"]["USD"]
    assert book_balance(stack, "Liabilities:US01:DeferredRevenue") == -Decimal(report["deferred_now"])
    released = sum(Decimal(row["released"]) for row in report["rows"])
    recognized_through_october = sum(Decimal(row["recognized"]) for row in report["rows"] if row["period"] <= "2026-10")
    assert released == recognized_through_october     # nothing lost, nothing twice



@pytest.mark.parametrize("event", [{"entity": "us01", "period": "2026-13"}, {"entity": "us01", "period": "26-10"},
                                   {"entity": "zz99"}, {"entity": 7}, {"entity": "us01", "periods": "2026-10"},
                                   ["us01"]])
def test_a_malformed_release_request_is_refused_with_a_reason_and_releases_nothing(stack, event):
    send_all(stack, [ANNUAL])
    answer = stack.host.invoke("revenue_release", event)
    assert answer["error"]["reason"] == "invalid_release_request"
    assert not [d for d in stack.documents() if d["source_id"] == "revenue"]
    assert store(stack).runs("us01") == []

class TestClosedPeriods:
    """us01 closed through 2026-08-31 (policy next_open_period): releases never post into a closed period."""

    @pytest.fixture
    def stack_config(self):
        from tests.functional.conftest import config_with

        return config_with(entities__0__closed_through="2026-08-31")

    def test_releases_of_closed_periods_post_in_the_first_open_period(self, stack):
        import re

        # Given the annual subscription billed in March (a closed period by now) and its refund of September
        send_all(stack, [ANNUAL, REFUND])
        # When the closed months are released (a late first run), then September and October
        reports = release_all(stack, PERIODS)
        assert [entity["status"] for report in reports for entity in report["entities"]] == ["released"] * len(PERIODS)
        # Then every release journal is dated in an open period: the catch-up of March..August on 2026-09-01
        releases = [d for d in stack.documents("posted") if d["source_id"] == "revenue"]
        dates = []
        for document in releases:
            text = (stack.book_dir / "postings" / f"{document['document_id']}.beancount").read_text()
            dates += re.findall(r"^(\d{4}-\d{2}-\d{2}) [*!]", text, flags=re.M)
        assert dates and min(dates) >= "2026-09-01"
        assert "2026-09-01" in dates and "2026-10-31" in dates
        # and the book still holds exactly what the schedules defer
        report = waterfall_report(store(stack), "us01")["currencies"]["USD"]
        assert book_balance(stack, "Liabilities:US01:DeferredRevenue") == -Decimal(report["deferred_now"])
        # and a closed period cannot be released again once a later one was (changes go to the next release)
        (again,) = release_all(stack, ["2026-08"])[0]["entities"]
        assert (again["status"], again["journals_posted"]) == ("refused", [])


def test_the_revenue_commands_print_the_schedule_and_the_waterfall(stack, monkeypatch, capsys):
    from ledgerlink import cli
    from ledgerlink.ops.target import Target

    send_all(stack, [ANNUAL, UPGRADE_EVENT, PRORATION, REFUND])
    release_all(stack, PERIODS[:4])
    monkeypatch.setattr(cli, "_target", lambda args: Target("local", stack.resources.environment()))
    annual = next(d for d in stack.documents("posted") if d["document_type"] == "invoice"
                  and d["source_object"].startswith("invoice:in_1QLedgerLinkGlobexAnnual"))
    refund = next(d for d in stack.documents("posted") if d["source_object"].startswith("refund:"))
    # the schedule of the refund is the schedule of the invoice it refunds
    assert cli.main(["revenue", "schedule", "--document", refund["document_id"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["invoice_document_id"] == annual["document_id"]
    (line,) = shown["schedules"]
    assert (line["billed"], line["recognized"], line["reclassified_total"]) == ("12000.00", "11000.00", "0")
    assert sum(Decimal(entry["released"]) for entry in line["entries"]) == Decimal(line["released_total"]) > 0
    assert cli.main(["revenue", "schedule", "--document", annual["document_id"]]) == 0
    text = capsys.readouterr().out
    assert "2026-09" in text and "change refund effective 2026-09-10: 1000.00" in text
    # the waterfall, as a table: one row per month, the closing balance of the report
    report = waterfall_report(store(stack), "us01")["currencies"]["USD"]
    assert cli.main(["revenue", "waterfall", "--entity", "us01"]) == 0
    table = capsys.readouterr().out.splitlines()
    rows = [row.split() for row in table if row.strip()[:4] == "2026" or row.strip()[:4] == "2027"]
    assert [row[0] for row in rows] == [row["period"] for row in report["rows"]]
    assert [row[4] for row in rows] == [row["closing_deferred"] for row in report["rows"]]
    assert f"deferred now (billed − released − reclassified): {report['deferred_now']} USD" in "\n".join(table)
    # a document without a schedule: a clear error, exit 1
    assert cli.main(["revenue", "schedule", "--document", "doc_nothing_here"]) == 1
    assert "no_schedule" in capsys.readouterr().err
