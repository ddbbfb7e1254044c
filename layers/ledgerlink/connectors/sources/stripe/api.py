"""Stripe's cash data: a payout's balance transactions (D83) and a charge's refunds (D89).

``payout.paid`` (and ``payout.reconciliation_completed``) only say how much reached the bank. What it settled —
each charge, refund, dispute and adjustment, and the fees Stripe kept on them (``fee_details``: Stripe's fee,
application fees, tax on fees) — is the list ``GET /v1/balance_transactions?payout=po_...`` (Stripe API reference,
"List all balance transactions": ``payout`` filters *automatic* payouts only; ``limit`` ≤ 100; cursor pagination
with ``has_more`` and ``starting_after``). Connected accounts' payouts are read with the ``Stripe-Account``
header. The key is a restricted key with read access to balance transactions and refunds, from the source's
``api.credentials`` secret (``{"api_key": "rk_..."}``), never logged.

Throttling (429) and 5xx are retried here a few times with backoff (Stripe's rate-limit guidance), so a long
payout's pages are not restarted for one busy answer; after that the message goes back to SQS
(``SourceApiUnavailable``) and is retried later. The fetched list is archived under ``fetched/`` by the caller.

Refunds: newer API versions' ``charge.refunded`` no longer embeds ``charge.refunds``, so the event says how much
was refunded but not which refund did it, and a credit note names its refunds by id (``refunds[].refund``). With the
cash-data API, such an event lists ``GET /v1/refunds?charge=ch_...`` (Stripe API reference, "List all refunds":
``charge`` filter, newest first, same cursor pagination), so the refund posts under its own id (the key needs read
access to refunds too).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from ledgerlink.config.sources import StripeSource
from ledgerlink.connectors.sources.http import Http, SourceApiError, SourceApiUnavailable, checked, credential
from ledgerlink.connectors.sources.reading import array_at, obj_at, objects
from ledgerlink.model.json import JsonArray, JsonObject, JsonValue

PAGE_SIZE = 100                 # Stripe's maximum ``limit``
MAX_PAGES = 1_000               # 100,000 balance transactions in one payout: past that, a case, not a loop
RETRY_DELAYS = (0.5, 1.0, 2.0)  # seconds between attempts of one page on 429 / 5xx
PAYOUT_EVENTS = frozenset({"payout.paid", "payout.reconciliation_completed"})
MAX_REFUND_PAGES = 10           # 1,000 refunds of one charge: past that, a case


class StripeApiSession:
    def __init__(self, source: StripeSource, credentials: Mapping[str, object], http: Http,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        assert source.api is not None
        self._key = credential(credentials, "api_key", source.api.credentials.secret_id)
        self._base = source.api.base_url
        self._timeout = source.api.timeout_seconds
        self._http = http
        self._sleep = sleep
        self.calls = 0

    def get(self, path: str, params: Mapping[str, str], *, account: str | None = None) -> JsonObject:
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
            page: JsonValue = json.loads(response.body)
        except ValueError:
            raise SourceApiError(f"Stripe GET {path} answered something other than JSON",
                                 reason="source_response_malformed") from None
        if not isinstance(page, dict):
            raise SourceApiError(f"Stripe GET {path} answered a {type(page).__name__}", reason="source_response_malformed")
        return page

    def _listed(self, path: str, params: dict[str, str], *, account: str | None, max_pages: int,
                what: str) -> list[JsonObject] | None:
        """Every item of a Stripe list, following ``has_more`` / ``starting_after``; None past ``max_pages``."""
        items: list[JsonObject] = []
        for _ in range(max_pages):
            page = self.get(path, params, account=account)
            data = page.get("data")
            if not isinstance(data, list) or len(objects(data)) != len(data):
                raise SourceApiError(f"Stripe {what} page has no data list", reason="source_response_malformed")
            items += objects(data)
            if not page.get("has_more") or not data:
                return items
            last = items[-1].get("id")
            if not isinstance(last, str) or not last:
                raise SourceApiError(f"Stripe {what.removesuffix('s')} without an id",
                                     reason="source_response_malformed")
            params = {**params, "starting_after": last}
        return None

    def payout_balance_transactions(self, payout_id: str, *, account: str | None = None) -> list[JsonObject]:
        """Every balance transaction of an automatic payout, following ``has_more`` / ``starting_after``."""
        # each item's charge or refund object: an item booked in another currency needs its booked amount
        params = {"payout": payout_id, "limit": str(PAGE_SIZE), "expand[]": "data.source"}
        items = self._listed("/v1/balance_transactions", params, account=account, max_pages=MAX_PAGES,
                             what="balance transactions")
        if items is None:
            raise SourceApiError(f"payout {payout_id} has more than {MAX_PAGES * PAGE_SIZE} balance transactions",
                                 reason="payout_too_large")
        return items

    def charge_refunds(self, charge_id: str, *, account: str | None = None) -> list[JsonObject]:
        """Every refund of a charge (``GET /v1/refunds?charge=``), following ``has_more`` / ``starting_after``."""
        params = {"charge": charge_id, "limit": str(PAGE_SIZE)}
        items = self._listed("/v1/refunds", params, account=account, max_pages=MAX_REFUND_PAGES, what="refunds")
        if items is None:
            raise SourceApiError(f"charge {charge_id} has more than {MAX_REFUND_PAGES * PAGE_SIZE} refunds",
                                 reason="source_response_malformed")
        return items


def connect(source: StripeSource, credentials: Mapping[str, object], http: Http) -> StripeApiSession:
    return StripeApiSession(source, credentials, http)


def _object(notification: JsonObject) -> JsonObject:
    return obj_at(notification.get("data"), "object")


def embeds_refunds(charge: JsonObject) -> bool:
    """Older API versions embed the charge's refunds (``charge.refunds.data``); newer ones do not."""
    return bool(array_at(charge.get("refunds"), "data"))


def wants(notification: JsonObject, source: StripeSource) -> bool:
    """Fetched when the source has cash-data API access: automatic payouts (whose contents Stripe can list), and
    ``charge.refunded`` events that do not embed their refunds (to post each refund under its own id)."""
    if source.api is None:
        return False
    obj = _object(notification)
    if notification.get("type") in PAYOUT_EVENTS:
        return obj.get("automatic") is True and isinstance(obj.get("id"), str)
    if notification.get("type") == "charge.refunded":
        return isinstance(obj.get("id"), str) and not embeds_refunds(obj)
    return False


def fetch(notification: JsonObject, source: StripeSource, session: StripeApiSession) -> JsonObject:
    obj_id = str(_object(notification)["id"])
    account = notification.get("account")
    on_behalf = account if isinstance(account, str) else None
    if notification.get("type") == "charge.refunded":
        refunds: JsonArray = [*session.charge_refunds(obj_id, account=on_behalf)]
        return {"charge": obj_id, "refunds": refunds}
    transactions: JsonArray = [*session.payout_balance_transactions(obj_id, account=on_behalf)]
    return {"payout": obj_id, "balance_transactions": transactions}
