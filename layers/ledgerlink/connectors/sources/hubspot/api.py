"""HubSpot CRM API client: fetch the deal a ``deal.propertyChange`` of ``dealstage`` names.

Auth: a private-app access token (``Authorization: Bearer``), from the ``api.credentials`` secret
(``{"access_token": "pat-..."}``). Object: ``GET /crm/v3/objects/deals/{dealId}`` with the properties the
normalizer reads and the company/contact associations (the customer). Only stage changes to a configured
closed-won stage are fetched; every other event is recorded without an API call.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from ledgerlink.config.sources import HubSpotSource
from ledgerlink.connectors.sources.http import Http, SourceApiError, checked, credential

DEAL_PROPERTIES = ("amount", "closedate", "dealname", "dealstage", "deal_currency_code", "hs_is_closed_won",
                   "pipeline")


class HubSpotSession:
    def __init__(self, source: HubSpotSource, credentials: Mapping[str, object], http: Http) -> None:
        self._token = credential(credentials, "access_token", source.api.credentials.secret_id)
        self._base = source.api.base_url
        self._timeout = source.api.timeout_seconds
        self._http = http

    def get(self, path: str, *, what: str) -> str:
        return checked(self._http.request("GET", f"{self._base}{path}", timeout=self._timeout, headers={
            "Authorization": f"Bearer {self._token}", "Accept": "application/json"}), what=what).text()


def connect(source: HubSpotSource, credentials: Mapping[str, object], http: Http) -> HubSpotSession:
    return HubSpotSession(source, credentials, http)


def is_closed_won_change(event: Mapping[str, object], source: HubSpotSource) -> bool:
    return (event.get("subscriptionType") == "deal.propertyChange" and event.get("propertyName") == "dealstage"
            and event.get("propertyValue") in source.closed_won_stages)


def wants(notification: Mapping[str, object], source: HubSpotSource) -> bool:
    return is_closed_won_change(notification, source)


def fetch(notification: Mapping[str, object], source: HubSpotSource, session: HubSpotSession) -> dict[str, str]:
    deal_id = notification.get("objectId")
    if isinstance(deal_id, bool) or not isinstance(deal_id, int) or deal_id <= 0:
        raise SourceApiError("the HubSpot event names no deal id", reason="missing_field", field="objectId")
    query = urlencode({"properties": ",".join(DEAL_PROPERTIES), "associations": "companies,contacts",
                       "archived": "false"})
    return {"deal": session.get(f"/crm/v3/objects/deals/{deal_id}?{query}", what="HubSpot deal")}
