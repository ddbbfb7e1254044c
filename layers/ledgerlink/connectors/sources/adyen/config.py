"""The configuration model of an Adyen source (its entry in ``sources:``)."""

from typing import Literal

from pydantic import Field

from ledgerlink.config.base import ConfigModel, SecretRef, TimeZone
from ledgerlink.config.source_fields import ApiUrl, RoutedSourceFields


class AdyenReports(ConfigModel):
    """Settlement report download for ``REPORT_AVAILABLE``: the report user's basic-auth credentials
    (``{"username": "report_...@Company.X", "password": "..."}``). The notification's URL must be on an
    ``adyen.com`` host; its path is fetched from ``base_url``. Report dates are read in ``time_zone`` (the
    report time-zone setting of the Adyen account)."""

    base_url: ApiUrl = "https://ca-live.adyen.com"
    credentials: SecretRef
    timeout_seconds: int = Field(default=30, ge=1, le=120)
    time_zone: TimeZone = Field(default="Europe/Amsterdam", description="IANA zone of the report's Creation Date")


class AdyenSource(RoutedSourceFields):
    """Adyen standard notifications: HMAC-SHA256 per item with the hex key in ``signing_secret``;
    ``account_entities`` maps ``merchantAccountCode`` to an entity. ``tolerance_seconds`` is unused: the HMAC
    does not cover ``eventDate``, so there is no signed time to bound (replays dedupe by document id)."""

    kind: Literal["adyen"]
    reports: AdyenReports | None = Field(default=None, description="settlement report download; without it "
                                         "REPORT_AVAILABLE is recorded as ignored")
    post_sales_on: Literal["CAPTURE", "AUTHORISATION"] = Field(
        default="CAPTURE", description="CAPTURE for manual/delayed capture; AUTHORISATION for immediate auto-capture "
                                       "accounts (Adyen then sends no CAPTURE notification)")
    sales: Literal["receipt", "payment_only"] = Field(
        default="receipt", description="receipt: each sale is also a sales receipt (Dr receivable · Cr revenue) that "
                                       "its payment settles, so the receivable nets to zero (no order system feeds "
                                       "LedgerLink); payment_only: another source books the order or invoice, and "
                                       "the payment only credits the receivable it left")


MODEL = AdyenSource
