"""Salesforce outbound messages (stdlib + defusedxml only: ingest hot path).

A workflow/flow outbound message is a SOAP 1.1 POST of ``notifications`` (OrganizationId, ActionId, up to 100
``Notification`` elements, each an ``Id`` and an ``sObject`` with the selected fields). Salesforce signs
nothing: the endpoint URL configured on the outbound message carries a secret token (``?token=...``), which
is compared in constant time with the source's signing secret (two live during a rotation); the normalizer
then refuses messages from any organization but the configured one. Salesforce retries a message until it
receives the SOAP ``Ack``; ingest answers it only after the notifications are stored.

Security of the XML parse (``safe_parse.parse_xml``): defusedxml refuses a DOCTYPE outright — so no entity of
any kind is declared or expanded — in every encoding expat reads (a byte check for ``<!DOCTYPE`` let a UTF-16
body through, D95); elements nest at most 64 deep; the size limit applies before parsing.
"""

from __future__ import annotations

import hmac
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlsplit

from ledgerlink.connectors.sources import safe_parse
from ledgerlink.connectors.sources.webhooks import Acknowledgement, SignedRequest, WebhookEvent
from ledgerlink.errors import MalformedPayload, SignatureInvalid

if TYPE_CHECKING:
    from ledgerlink.model.json import JsonObject

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
TOKEN_PARAMETER = "token"
BODY_IS_EVENT = False  # the body is SOAP XML; the normalizer reads each notification as parsed JSON
_ID = re.compile(r"^[A-Za-z0-9]{15}([A-Za-z0-9]{3})?$")

ACK = ('<?xml version="1.0" encoding="UTF-8"?>'
       f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}"><soapenv:Body>'
       f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>true</Ack></notificationsResponse>'
       '</soapenv:Body></soapenv:Envelope>')


def url_token(url: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(TOKEN_PARAMETER)
    return values[0] if values else None


def verify(url: str, secrets: Sequence[str]) -> None:
    if not secrets:
        raise SignatureInvalid("no endpoint token configured for this source", reason="signature_unverifiable")
    supplied = url_token(url)
    if not supplied:
        raise SignatureInvalid("the endpoint URL has no token parameter", reason="signature_missing")
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(secret.encode("utf-8"), supplied.encode("utf-8", "replace"))
    if not matched:
        raise SignatureInvalid("the endpoint token does not match", reason="signature_mismatch")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _parse(body: bytes) -> ET.Element:
    try:
        return safe_parse.parse_xml(body)
    except safe_parse.UnreadableInput as exc:  # xml_dtd_forbidden, payload_too_deep, malformed_xml
        raise MalformedPayload(exc.message, reason=exc.reason) from None


def sobject_fields(element: ET.Element) -> JsonObject:
    """``<sf:Amount>120000.0</sf:Amount>`` → ``{"Amount": "120000.0"}``; ``xsi:nil`` → None; text stays text."""
    fields: JsonObject = {}
    for child in element:
        if child.get(f"{{{XSI_NS}}}nil") == "true":
            fields[_local(child.tag)] = None
        elif len(child):
            fields[_local(child.tag)] = sobject_fields(child)
        else:
            fields[_local(child.tag)] = (child.text or "").strip()
    return fields


def parse(body: bytes) -> list[WebhookEvent]:
    root = _parse(body)
    if _local(root.tag) != "Envelope":
        raise MalformedPayload("not a SOAP envelope", reason="malformed_xml")
    notifications = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
    if notifications is None:
        raise MalformedPayload("SOAP body has no outbound-message notifications", reason="missing_event_object")
    organization = (notifications.findtext(f"{{{OUTBOUND_NS}}}OrganizationId") or "").strip()
    action = (notifications.findtext(f"{{{OUTBOUND_NS}}}ActionId") or "").strip()
    if not _ID.match(organization):
        raise MalformedPayload("notifications have no valid OrganizationId", reason="missing_field")
    events = []
    for position, notification in enumerate(notifications.findall(f"{{{OUTBOUND_NS}}}Notification")):
        notification_id = (notification.findtext(f"{{{OUTBOUND_NS}}}Id") or "").strip()
        sobject = notification.find(f"{{{OUTBOUND_NS}}}sObject")
        if not _ID.match(notification_id):
            raise MalformedPayload(f"Notification[{position}] has no valid Id", reason="missing_event_id")
        if sobject is None:
            raise MalformedPayload(f"Notification[{position}] has no sObject", reason="missing_event_object")
        sobject_type = (sobject.get(f"{{{XSI_NS}}}type") or "sf:unknown").split(":")[-1]
        events.append(WebhookEvent(
            event_id=notification_id, event_type=f"outbound_message.{sobject_type}", created=None,
            payload={"organization_id": organization, "action_id": action, "notification_id": notification_id,
                     "sobject_type": sobject_type, "fields": sobject_fields(sobject)}))
    if not events:
        raise MalformedPayload("outbound message has no Notification", reason="missing_event_object")
    return events


def notifications_body(organization_id: str, notifications: list[tuple[str, str, dict[str, str]]],
                       action_id: str = "04k000000000001AAA") -> bytes:
    """An outbound message as Salesforce sends it: ``[(notification id, sObject type, fields)]`` (demo, tests)."""
    def escape(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    items = []
    for notification_id, sobject_type, fields in notifications:
        values = "".join(f"<sf:{name}>{escape(value)}</sf:{name}>" for name, value in fields.items())
        items.append(f"<Notification><Id>{notification_id}</Id><sObject xsi:type=\"sf:{sobject_type}\" "
                     f"xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">{values}</sObject></Notification>")
    return ('<?xml version="1.0" encoding="UTF-8"?>'
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
            f'xmlns:xsi="{XSI_NS}"><soapenv:Body><notifications xmlns="{OUTBOUND_NS}">'
            f'<OrganizationId>{organization_id}</OrganizationId><ActionId>{action_id}</ActionId>'
            '<SessionId xsi:nil="true"/><EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/60.0</'
            'EnterpriseUrl><PartnerUrl>https://example.my.salesforce.com/services/Soap/u/60.0</PartnerUrl>'
            + "".join(items) + "</notifications></soapenv:Body></soapenv:Envelope>").encode("utf-8")


# ---- the common webhook-module contract (see connectors/sources/webhooks.py) ----------------------

def verify_request(request: SignedRequest, secrets: Sequence[str], tolerance_seconds: int, now: float) -> None:
    verify(request.url, secrets)


def parse_events(body: bytes) -> list[WebhookEvent]:
    return parse(body)


def acknowledge(accepted: int, duplicates: int) -> Acknowledgement:
    """Salesforce stops retrying only on this SOAP Ack (duplicates included: they are already stored)."""
    return Acknowledgement(status=200, body=ACK, content_type="text/xml; charset=utf-8")


# ---- the webhook contract's optional parts (connectors/sources/webhooks.py) ----
# the event id is in the body, not in a header: parse_events reads it (no whole-request parser)
parse_request = None
