"""The configuration model of a SAP Concur source (its entry in ``sources:``)."""

from typing import Literal

from pydantic import Field

from ledgerlink.config.source_fields import ApiAccess, RoutedSourceFields
from ledgerlink.model.base import Identifier


class ConcurSource(RoutedSourceFields):
    """SAP Concur Event Subscription Service (``public.concur.expense.report``): ``Concur-Signature`` is an RSA
    (PKCS#1 v1.5, SHA-256) signature of the raw body; ``signing_secret`` holds Concur's published public key
    (PEM; two during a key change). Approved reports are fetched from Expense Reports v4 (``api.credentials``:
    ``{"client_id", "client_secret", "refresh_token"}``, a company-level refresh token). ESS retries for 72 h,
    so the window on the signed ``timeStamp`` is 3 days. ``account_entities`` maps ``companyId`` to an entity."""

    kind: Literal["concur"]
    api: ApiAccess
    tolerance_seconds: int = Field(default=259_200, ge=300, le=7 * 86_400)
    max_body_bytes: int = Field(default=262_144, ge=1_024, le=6_000_000)
    approved_statuses: tuple[str, ...] = Field(default=("A_APPR",), min_length=1,
                                               description="approvalStatusId values that make a report postable")
    cash_payment_types: tuple[str, ...] = Field(default=("CASH",), min_length=1,
                                                description="paymentType codes the employee paid (reimbursable)")
    default_category: Identifier = "uncategorized"


MODEL = ConcurSource
