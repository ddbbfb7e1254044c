"""Every job of the finance-ops console, in headless Chromium against `ledgerlink local up`, as the role that may do
it; every forbidden action as a role that may not (refused by the server, not only hidden); axe-core on every page.
"""

from __future__ import annotations

import csv
import io

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

pytestmark = pytest.mark.slow


def test_sign_in_required_and_security_headers(stack):
    status, _, headers = stack.request("viewer", "GET", "/exceptions")
    assert status == 200
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    import urllib.error
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None
    try:
        urllib.request.build_opener(NoRedirect()).open(f"{stack.console}/exceptions", timeout=30)
        raise AssertionError("an anonymous request got the queue")
    except urllib.error.HTTPError as answer:
        assert answer.code == 303 and "/console/login" in answer.headers["Location"]
    forged = urllib.request.Request(f"{stack.console}/exceptions", headers={"Cookie": "ll_session=e30.e30.AAAA"})
    try:
        urllib.request.build_opener(NoRedirect()).open(forged, timeout=30)
        raise AssertionError("a forged token got the queue")
    except urllib.error.HTTPError as answer:
        assert answer.code == 303 and "why=" in answer.headers["Location"]


def test_sign_in_page_is_accessible_and_refuses_a_wrong_password(console, stack):
    console.driver.delete_all_cookies()
    console.open("/login")
    console.check("sign-in")
    console.driver.find_element(By.NAME, "username").send_keys("viewer")
    console.driver.find_element(By.NAME, "password").send_keys("not-the-password")
    text = console.click("form.signin button[type=submit]")
    assert "bad_credentials" in text and not console.driver.get_cookie("ll_session")


# Every action a role lacks, sent by that role as a crafted request (valid session and CSRF token): the server
# refuses it with 403 forbidden before it touches anything. (The actions a role has are exercised by the tests of
# each job.)
ACTIONS = {
    "work_cases": ("/exceptions/bulk", {"ids": "exc_0", "action": "ignore", "text": "x"}),
    "work_cases_one": ("/exceptions/exc_0/ignore", {"text": "x"}),
    "approve": ("/approvals/exc_0/approve", {"text": "x"}),
    "reject": ("/approvals/exc_0/reject", {"text": "x"}),
    "redrive": ("/operations/redrive", {"dry_run": "no"}),
    "replay": ("/operations/replay", {"document": "doc_0", "dry_run": "no"}),
    "configure": ("/configuration/impact", {"yaml": "version: 1"}),
}
MAY = {"viewer": set(), "finance_ops": {"work_cases", "work_cases_one"}, "approver": {"approve", "reject"},
       "ops_admin": {"redrive", "replay"}, "mapping_admin": {"configure"}}


@pytest.mark.parametrize("role", sorted(MAY))
def test_every_action_a_role_lacks_is_refused_by_the_server(stack, role):
    for action, (path, form) in ACTIONS.items():
        if action in MAY[role]:
            continue
        status, _, headers = stack.request(role, "POST", path, form)
        assert (status, headers.get("X-LedgerLink-Reason")) == (403, "forbidden"), (role, action)


def test_exceptions_queue_filter_export_and_counts(console, stack):
    console.sign_in("finance_ops")
    text = console.open("/exceptions")
    assert "Open cases by reason" in text and "approval_required" in text
    console.check("exceptions-queue")
    Select(console.driver.find_element(By.NAME, "reason")).select_by_value("approval_required")
    console.click("form.filters button[type=submit]")
    rows = console.driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")
    assert rows and all("approval_required" in row.text for row in rows)
    status, body, headers = stack.request("finance_ops", "GET", "/exceptions/export?reason=approval_required")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    exported = list(csv.DictReader(io.StringIO(body)))
    assert len(exported) == len(rows) and {row["reason"] for row in exported} == {"approval_required"}


def test_case_page_shows_document_fix_payload_history(console, stack):
    console.sign_in("finance_ops")
    console.open("/exceptions?reason=approval_required")
    text = console.click("main table tbody tr a")
    for part in ("Suggested fix", "History", "Document", "Raw payload (redacted)", "Trace of document"):
        assert part in text, part
    assert "@" not in console.driver.find_element(By.XPATH, "//h2[.='Raw payload (redacted)']/following::pre").text
    console.check("exception-case")


def test_viewer_cannot_work_cases(console, stack):
    console.sign_in("viewer")
    console.open("/exceptions")
    assert not console.driver.find_elements(By.ID, "bulk")          # the page hides the actions
    _, page, _ = stack.request("viewer", "GET", "/exceptions?reason=approval_required")
    case = page.split('/console/exceptions/exc_', 1)[1].split('"', 1)[0]
    status, body, headers = stack.request("viewer", "POST", f"/exceptions/exc_{case}/ignore", {"text": "nope"})
    assert status == 403 and headers["X-LedgerLink-Reason"] == "forbidden"   # and the server refuses them
    status, _, headers = stack.request("finance_ops", "POST", f"/exceptions/exc_{case}/ignore", {"text": "x"},
                                       csrf=False)
    assert status == 403 and headers["X-LedgerLink-Reason"] == "bad_csrf_token"


def _first_case(stack, reason, filters=""):
    _, page, _ = stack.request("viewer", "GET", f"/exceptions?reason={reason}{filters}")
    return "exc_" + page.split("/console/exceptions/exc_", 1)[1].split('"', 1)[0]


def test_approval_posts_once_and_only_approvers_decide(console, stack):
    case = _first_case(stack, "approval_required", "&max_amount=100")
    status, _, headers = stack.request("finance_ops", "POST", f"/approvals/{case}/approve", {"text": "looks fine"})
    assert status == 403 and headers["X-LedgerLink-Reason"] == "forbidden"
    console.sign_in("approver")
    text = console.open("/approvals")
    assert case in text
    console.check("approvals")
    row = console.driver.find_element(By.XPATH, f"//tr[td/a[.='{case}']]")
    document = row.find_element(By.XPATH, "td[2]/a").text
    row.find_element(By.NAME, "text").send_keys("within budget")
    text = console.click(f"form[action$='/approvals/{case}/approve'] button")
    assert f"{case}: approved" in text
    deadline = __import__("time").monotonic() + 90
    while True:
        text = console.open(f"/documents/{document}")
        if "posted" in text.split("status", 1)[1][:40] or __import__("time").monotonic() > deadline:
            break
        __import__("time").sleep(1)
    assert "not posted" not in text, text[:600]
    assert text.count("approve") >= 1
    status, body, headers = stack.request("approver", "POST", f"/approvals/{case}/approve", {"text": "again"})
    assert status == 409, body[:300]                                   # never a second posting


def test_a_rejection_needs_a_reason_and_ends_the_document(console, stack):
    case = _first_case(stack, "approval_required", "&max_amount=100")
    console.sign_in("approver")
    console.open("/approvals")
    reason = console.driver.find_element(By.CSS_SELECTOR, f"form[action$='/approvals/{case}/reject'] input[name=text]")
    assert console.driver.execute_script("return arguments[0].validity.valueMissing;", reason)  # the form asks
    status, _, headers = stack.request("approver", "POST", f"/approvals/{case}/reject", {"text": ""})
    assert status == 400 and headers["X-LedgerLink-Reason"] == "reason_required"   # and so does the server
    reason.send_keys("duplicate of an invoice already billed")
    text = console.click(f"form[action$='/approvals/{case}/reject'] button")
    assert f"{case}: rejected" in text and f"/exceptions/{case}" not in console.driver.page_source
    text = console.open(f"/exceptions/{case}")
    assert "rejected" in text and "duplicate of an invoice already billed" in text


def test_find_and_trace(console, stack):
    console.sign_in("viewer")
    console.open("/search")
    console.driver.find_element(By.NAME, "q").send_keys("20.00")
    text = console.click("form[role=search] button")
    assert "document(s)" in text and "matched on" in text
    console.check("search")
    link = console.driver.find_elements(By.CSS_SELECTOR, "main table tbody tr td a")
    assert link, text[:500]
    text = console.click("main table tbody tr td a")
    assert "Timeline" in text and "mapping (configuration) version" in text
    console.check("trace")


def test_reconciliation_calendar_and_close(console, stack):
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", "import sys; from ledgerlink.cli import main; sys.exit(main())",
                    "reconcile", "--date", "2022-03-26", "--entity", "us01", "--state-dir", str(stack.state_dir)],
                   check=False, capture_output=True, timeout=180)
    console.sign_in("viewer")
    text = console.open("/reconciliation?entity=us01&month=2022-03")
    assert "Mon" in text and ("balanced" in text or "difference" in text)
    console.check("reconciliation")
    text = console.click("a[href$='/reconciliation/us01/2022-03-26']")
    assert "Control totals" in text and "Status:" in text
    console.check("reconciliation-day")
    text = console.open("/close?entity=us01&period=2022-03")
    assert "Tie-outs of us01 for 2022-03" in text and "expected" in text
    drill = console.driver.find_elements(By.CSS_SELECTOR, "details summary")
    assert drill and "document(s)" in drill[0].text
    drill[0].click()
    assert console.driver.find_elements(By.CSS_SELECTOR, "details[open] table a[href*='/documents/doc_']")
    console.check("close")


def test_operations_redrive_and_replay_dry_run(console, stack):
    status, _, headers = stack.request("finance_ops", "POST", "/operations/replay", {"start": "2022-03-01",
                                                                                   "end": "2022-03-02"})
    assert status == 403 and headers["X-LedgerLink-Reason"] == "forbidden"
    status, _, headers = stack.request("viewer", "POST", "/operations/redrive", {"dry_run": "yes"})
    assert status == 403
    console.sign_in("ops_admin")
    text = console.open("/operations")
    assert "inbound DLQ" in text and "Standard executions running" in text
    console.check("operations")
    text = console.click("form[action$='/operations/redrive'] button")
    assert "dry run:" in text
    _, page, _ = stack.request("viewer", "GET", "/search?q=20.00")
    document = page.split("/console/documents/", 1)[1].split('"', 1)[0]
    console.open("/operations")
    console.driver.find_element(By.NAME, "document").send_keys(document)
    text = console.click("form[action$='/operations/replay'] button")
    assert "Would replay" in text and "Where each document would land" in text
    console.check("replay-dry-run")


def test_configuration_versions_and_proposal_impact(console, stack):
    config = (stack.state_dir.parent / "ledgerlink.fixed.yaml").read_text()
    status, _, headers = stack.request("finance_ops", "POST", "/configuration/impact", {"yaml": config})
    assert status == 403 and headers["X-LedgerLink-Reason"] == "forbidden"
    console.sign_in("mapping_admin")
    text = console.open("/configuration")
    assert "Configuration versions" in text and "applied by" in text
    console.check("configuration")
    area = console.driver.find_element(By.NAME, "yaml")
    console.driver.execute_script("arguments[0].value = arguments[1];", area, config)
    text = console.click("form[action$='/configuration/impact'] button")
    assert "open case(s) would be fixed" in text
    fixed = console.driver.find_elements(By.XPATH, "//tr[td[.='mapping_missing'] and td[.='would fix']]")
    assert fixed, text[:1500]                         # the payout's missing mapping is back in the proposal
    assert console.driver.find_elements(By.XPATH, "//tr[td[.='approval_required'] and td[.='still fails']]")
    console.check("configuration-impact")


def test_revenue_waterfall_drills_down_to_the_invoices(console, stack):
    import time

    annual = _first_case(stack, "approval_required", "&min_amount=1000")      # the annual subscription invoice
    status, body, _ = stack.request("approver", "POST", f"/approvals/{annual}/approve", {"text": "annual plan"})
    assert status == 303, body[:300]
    console.sign_in("viewer")
    deadline = time.monotonic() + 90
    while "schedule line(s) behind these figures" not in (text := console.open("/revenue?entity=us01")):
        assert time.monotonic() < deadline, text[:800]
        time.sleep(1)
    assert console.driver.find_elements(By.CSS_SELECTOR, "svg[role=img] rect")
    console.driver.find_element(By.CSS_SELECTOR, "details summary").click()
    invoices = console.driver.find_elements(By.CSS_SELECTOR, "details[open] table a[href*='/documents/doc_']")
    assert invoices
    console.check("revenue")
    text = console.click("details[open] table a[href*='/documents/doc_']")
    assert "Timeline" in text and "posted" in text


def test_assign_note_and_bulk_resolve_with_a_reason(console, stack):
    case = _first_case(stack, "mapping_missing")
    console.sign_in("finance_ops")
    console.open(f"/exceptions/{case}")
    assign = console.driver.find_element(By.CSS_SELECTOR, f"form[action$='/exceptions/{case}/assign'] input[name=text]")
    assign.clear()
    assign.send_keys("ana")
    console.click(f"form[action$='/exceptions/{case}/assign'] button")
    console.driver.find_element(By.CSS_SELECTOR, f"form[action$='/exceptions/{case}/note'] textarea").send_keys(
        "asked the controller for the clearing account")
    text = console.click(f"form[action$='/exceptions/{case}/note'] button")
    assert "asked the controller for the clearing account" in text and "ana" in text
    text = console.open("/exceptions?assignee=ana")
    assert case in text
    console.driver.find_element(By.CSS_SELECTOR, f"input[name=ids][value='{case}']").click()
    Select(console.driver.find_element(By.CSS_SELECTOR, "#bulk select[name=action]")).select_by_value("resolve")
    text = console.click("#bulk button[type=submit]")                      # no reason: refused, nothing changed
    assert "reason_required" in text
    assert case in console.open("/exceptions?assignee=ana")
    console.open("/exceptions?assignee=ana")
    console.driver.find_element(By.CSS_SELECTOR, f"input[name=ids][value='{case}']").click()
    Select(console.driver.find_element(By.CSS_SELECTOR, "#bulk select[name=action]")).select_by_value("resolve")
    console.driver.find_element(By.CSS_SELECTOR, "#bulk input[name=text]").send_keys("mapped by hand in the ERP")
    text = console.click("#bulk button[type=submit]")
    assert "resolve: 1 of 1 case(s) done" in text
    text = console.open("/exceptions?tab=resolved")
    assert case in text
    console.check("exceptions-resolved")


def test_audit_trail_names_each_console_user(console, stack):
    console.sign_in("viewer")
    text = console.open("/audit")
    for actor, action in (("console:approver", "exception_approve"), ("console:finance-ops", "exception_resolve"),
                          ("console:finance-ops", "exception_assign"), ("console:mapping-admin",
                                                                         "config_impact_checked")):
        assert any(actor in line and action in line for line in text.splitlines()), (actor, action)
    console.check("audit")
