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
