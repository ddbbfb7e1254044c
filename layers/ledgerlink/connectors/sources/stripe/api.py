"""Stripe's balance transactions of a payout: the source of truth for what a payout settled (D83).

``payout.paid`` (and ``payout.reconciliation_completed``) only say how much reached the bank. What it settled —
each charge, refund, dispute and adjustment, and the fees Stripe kept on them (``fee_details``: Stripe's fee,
application fees, tax on fees) — is the list ``GET /v1/balance_transactions?payout=po_...`` (Stripe API reference,
"List all balance transactions": ``payout`` filters *automatic* payouts only; ``limit`` ≤ 100; cursor pagination
with ``has_more`` and ``starting_after``). Connected accounts' payouts are read with the ``Stripe-Account``
header. The key is a restricted key with read access to balance transactions, from the source's
``api.credentials`` secret (``{"api_key": "rk_..."}``), never logged.

Throttling (429) and 5xx are retried here a few times with backoff (Stripe's rate-limit guidance), so a long
payout's pages are not restarted for one busy answer; after that the message goes back to SQS
(``SourceApiUnavailable``) and is retried later. The fetched list is archived under ``fetched/`` by the caller.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from ledgerlink.config.sources import StripeSource
from ledgerlink.connectors.sources.http import Http, SourceApiError, SourceApiUnavailable, checked, credential

PAGE_SIZE = 100                 # Stripe's maximum ``limit``
MAX_PAGES = 1_000               # 100,000 balance transactions in one payout: past that, a case, not a loop
RETRY_DELAYS = (0.5, 1.0, 2.0)  # seconds between attempts of one page on 429 / 5xx
PAYOUT_EVENTS = frozenset({"payout.paid", "payout.reconciliation_completed"})


class StripeApiSession:
    def __init__(self, source: StripeSource, credentials: Mapping[str, Any], http: Http,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        assert source.api is not None
        self._key = credential(credentials, "api_key", source.api.credentials.secret_id)
        self._base = source.api.base_url
        self._timeout = source.api.timeout_seconds
        self._http = http
        self._sleep = sleep
        self.calls = 0

    def get(self, path: str, params: Mapping[str, str], *, account: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self._key}", "Accept": "application/json"}
        if account:
            headers["Stripe-Account"] = account
        url = f"{self._base}{path}?{urlencode(params)}"
        for delay in (*RETRY_DELAYS, None):
            self.calls += 1
            try:
                response = checked(self._http.request("GET", url, headers=headers, timeout=self._timeout),
                                   what=f"Stripe GET {path}")
                break
            except SourceApiUnavailable:
                if delay is None:
                    raise
                self._sleep(delay)
        try:
            page = json.loads(response.body)
        except ValueError:
            raise SourceApiError(f"Stripe GET {path} answered something other than JSON",
                                 reason="source_response_malformed") from None
        if not isinstance(page, dict):
            raise SourceApiError(f"Stripe GET {path} answered a {type(page).__name__}", reason="source_response_malformed")
        return page

    def payout_balance_transactions(self, payout_id: str, *, account: str | None = None) -> list[dict[str, Any]]:
        """Every balance transaction of an automatic payout, following ``has_more`` / ``starting_after``."""
        items: list[dict[str, Any]] = []
        # each item's charge or refund object: an item booked in another currency needs its booked amount
        params = {"payout": payout_id, "limit": str(PAGE_SIZE), "expand[]": "data.source"}
        for _ in range(MAX_PAGES):
            page = self.get("/v1/balance_transactions", params, account=account)
            data = page.get("data")
            if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
                raise SourceApiError("Stripe balance transactions page has no data list",
                                     reason="source_response_malformed")
            items += data
            if not page.get("has_more") or not data:
                return items
            last = data[-1].get("id")
            if not isinstance(last, str) or not last:
                raise SourceApiError("Stripe balance transaction without an id", reason="source_response_malformed")
            params = {**params, "starting_after": last}
        raise SourceApiError(f"payout {payout_id} has more than {MAX_PAGES * PAGE_SIZE} balance transactions",
                             reason="payout_too_large")


def connect(source: StripeSource, credentials: Mapping[str, Any], http: Http) -> StripeApiSession:
    return StripeApiSession(source, credentials, http)


def _payout(notification: Mapping[str, Any]) -> Mapping[str, Any]:
    data = notification.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    return obj if isinstance(obj, dict) else {}


def wants(notification: Mapping[str, Any], source: StripeSource) -> bool:
    """Automatic payouts whose contents Stripe can list: fetched when the source has cash-data API access."""
    if source.api is None or notification.get("type") not in PAYOUT_EVENTS:
        return False
    payout = _payout(notification)
    return payout.get("automatic") is True and isinstance(payout.get("id"), str)


def fetch(notification: Mapping[str, Any], source: StripeSource, session: StripeApiSession) -> dict[str, Any]:
    payout_id = str(_payout(notification)["id"])
    account = notification.get("account")
    transactions = session.payout_balance_transactions(payout_id, account=account if isinstance(account, str)
                                                        else None)
    return {"payout": payout_id, "balance_transactions": transactions}
