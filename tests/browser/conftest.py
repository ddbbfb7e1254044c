"""The console in a real browser: `ledgerlink local up` in a child process, Debian's Chromium driven by Selenium.

One stack per test session (module fixtures build on it): the example configuration plus an approval threshold
for us01 invoices, a few signed Stripe webhooks so the queue has cases. Screenshots of every page go to
``build/console-screenshots/`` (the test artifacts); every page is checked with axe-core (zero serious or critical
violations). Chromium and chromedriver must be installed (`make test` installs them): a missing browser fails the
session, it never skips.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from selenium.webdriver.common.by import By

from ledgerlink.connectors.sources.stripe.webhook import signature_header
from ledgerlink.console.app import COOKIE, csrf_token
from ledgerlink.local.demo import post

from tests.conftest import EVENTS, EXAMPLE_CONFIG, REPO

SCREENSHOTS = REPO / "build" / "console-screenshots"
AXE = REPO / "node_modules" / "axe-core" / "axe.min.js"
SECRET = "whsec_browser_tests_0123456789abcdef"
APPROVAL_THRESHOLD_USD = "10.00"     # the Stripe sample invoice is 20.00 USD: it waits for approval
STRIPE_SAMPLES = ("01-invoice.finalized.json", "02-invoice.paid.json", "07-invoice.finalized.jpy.json",
                  "09-invoice.finalized.closed-period.json", "10-payout.paid.json",
                  "14-invoice.paid.annual-subscription.json")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    url: str                      # http://127.0.0.1:PORT
    users: dict[str, dict[str, str]]
    state_dir: Path
    process: subprocess.Popen[bytes]

    @property
    def console(self) -> str:
        return f"{self.url}/console"

    def sign_in_token(self, role: str) -> str:
        """An ID token for the role's user, through the console's own sign-in form."""
        user = self.users[role]
        data = urllib.parse.urlencode({"username": user["username"], "password": user["password"]}).encode()
        request = urllib.request.Request(f"{self.console}/login", data=data, method="POST")
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            opener.open(request, timeout=30)
        except urllib.error.HTTPError as answer:
            cookie = answer.headers.get("Set-Cookie", "")
            assert answer.code == 303 and cookie.startswith(f"{COOKIE}="), (answer.code, cookie[:40])
            return cookie.split(";", 1)[0].split("=", 1)[1]
        raise AssertionError("sign-in did not redirect")

    def request(self, role: str, method: str, path: str, form: dict[str, str] | None = None,
                *, csrf: bool = True) -> tuple[int, str, dict[str, str]]:
        """A request as the role's user outside the browser (what a crafted request would do)."""
        token = self.sign_in_token(role)
        fields = dict(form or {})
        if csrf and method == "POST":
            fields["csrf"] = csrf_token(token)
        body = urllib.parse.urlencode(fields).encode() if method == "POST" else None
        request = urllib.request.Request(f"{self.console}{path}", data=body, method=method, headers={
            "Cookie": f"{COOKIE}={token}", "Content-Type": "application/x-www-form-urlencoded"})
        opener = urllib.request.build_opener(_NoRedirect())
        try:
            with opener.open(request, timeout=60) as answer:
                return answer.status, answer.read().decode(), dict(answer.headers)
        except urllib.error.HTTPError as answer:
            return answer.code, answer.read().decode(), dict(answer.headers)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


def _config(base: Path) -> Path:
    """The example configuration with an approval threshold for us01 invoices and without us01's Stripe
    ``payouts_in_transit`` mapping, so the payout sample opens ``mapping_missing`` (which the example's own mapping,
    proposed on the configuration page, would fix)."""
    config = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    stripe = next(row for row in config["account_mappings"]
                  if row.get("entity") == "us01" and row.get("source") == "stripe")
    del stripe["accounts"]["payouts_in_transit"]
    config.setdefault("controls", []).append({"entity": "us01", "approval_thresholds": [
        {"document_type": "invoice", "amount": APPROVAL_THRESHOLD_USD, "currency": "USD"}]})
    path = base / "ledgerlink.browser.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    stripe["accounts"]["payouts_in_transit"] = "Assets:US01:Clearing:PayoutsInTransit"
    (base / "ledgerlink.fixed.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _wait_for(path: Path, process: subprocess.Popen[bytes], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        if process.poll() is not None:
            raise AssertionError(f"ledgerlink local up exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"ledgerlink local up did not write {path.name} in {seconds:.0f} s")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    base = tmp_path_factory.mktemp("console")
    (base / "secrets.json").write_text(json.dumps({"stripe": SECRET}))
    port = _free_port()
    state = base / "state"
    log = (base / "local-up.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-c", "import sys; from ledgerlink.cli import main; sys.exit(main())", "local", "up",
         "--config", str(_config(base)), "--state-dir", str(state), "--port", str(port), "--fresh",
         "--secrets", str(base / "secrets.json"), "--snapshot-every", "0", "--poll-every", "0"],
        stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        _wait_for(state / "console-users.json", process, 180)
        users = json.loads((state / "console-users.json").read_text())["users"]
        stack = Stack(url=f"http://127.0.0.1:{port}", users=users, state_dir=state, process=process)
        for name in STRIPE_SAMPLES:
            body = (EVENTS / "stripe" / name).read_bytes()
            status, answer = post(f"{stack.url}/webhooks/stripe", body,
                                  signature_header(body, SECRET, int(time.time())))
            assert status == 202, (name, answer)
        _settle(stack)
        yield stack
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _settle(stack: Stack, seconds: float = 120) -> None:
    """Until the approval case is open (the pipeline has run the samples through)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, page, _ = stack.request("viewer", "GET", "/exceptions?reason=approval_required")
        if status == 200 and "approval_required" in page and "0 case(s)" not in page:
            time.sleep(1.0)
            return
        time.sleep(1.0)
    raise AssertionError("the approval case never opened")


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service  # noqa: I001

    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.fail("chromium and chromedriver are required for the console's browser tests (make test installs "
                    "them: apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1400,1000", "--disable-extensions", "--no-first-run"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(60)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


class Console:
    """The browser as one user: sign in, open pages, check them with axe, save a screenshot."""

    def __init__(self, driver: object, stack: Stack) -> None:
        self.driver = driver
        self.stack = stack

    def sign_in(self, role: str) -> None:
        d = self.driver
        d.delete_all_cookies()
        d.get(f"{self.stack.console}/login")
        user = self.stack.users[role]
        d.find_element(By.NAME, "username").send_keys(user["username"])
        d.find_element(By.NAME, "password").send_keys(user["password"])
        self.click("form.signin button[type=submit]")
        assert "/login" not in d.current_url, self.text()

    def click(self, selector: str) -> str:
        """Click (a link or a submit button) and wait for the next page."""
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        # A marker on the old page's window, gone once the next page has loaded. (Waiting for the old
        # <html> element to go stale raced Chromium: asked about a node mid-navigation it answered
        # "Node with given id does not belong to the document", an error staleness_of does not expect.)
        self.driver.execute_script("window.__llOldPage = true;")
        self.driver.find_element(By.CSS_SELECTOR, selector).click()

        def next_page_loaded(driver: object) -> bool:
            return bool(driver.execute_script(  # type: ignore[attr-defined]
                "return window.__llOldPage === undefined && document.readyState === 'complete';"))

        WebDriverWait(self.driver, 60, ignored_exceptions=(WebDriverException,)).until(next_page_loaded)
        return self.text()

    def open(self, path: str) -> str:
        self.driver.get(f"{self.stack.console}{path}")
        return self.text()

    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def check(self, name: str) -> None:
        """axe-core on the current page: zero serious or critical violations; then a screenshot."""
        self.driver.execute_script(AXE.read_text())
        result = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations)).catch(e => done("
            "[{id: 'axe-error', impact: 'critical', description: String(e), nodes: []}]));")
        serious = [(v["id"], v["impact"], v["description"], [n.get("target") for n in v.get("nodes", [])][:3])
                   for v in result if v.get("impact") in ("serious", "critical")]
        self.driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))
        assert not serious, serious


@pytest.fixture
def console(browser: object, stack: Stack) -> Console:
    return Console(browser, stack)
