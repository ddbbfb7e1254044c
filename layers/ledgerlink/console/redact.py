"""A raw payload as finance ops may see it: personal data replaced, amounts, ids, dates and types kept.

A value is redacted when its key names personal data (``PERSONAL_KEYS``: a whole key or a part of a snake/camel
case key, e.g. ``billing_email``, ``cardholderName``, ``address.line1``) or when it is text that looks like an email
address or a phone number. Keys are never redacted: the shape of the payload stays readable.
"""

from __future__ import annotations

import json
import re

PERSONAL_KEYS = frozenset({
    "email", "name", "firstname", "lastname", "fullname", "phone", "mobile", "address", "line1", "line2", "street",
    "city", "postal", "postcode", "zip", "ssn", "tax", "taxid", "vat", "iban", "account_number", "accountnumber",
    "routing", "ip", "birth", "dob", "cardholder", "holder", "last4", "fingerprint", "shipping", "billing_details",
    "owner", "contact", "recipient", "payer", "employee", "user",
})
KEPT_KEYS = frozenset({"id", "type", "object", "currency", "amount", "status", "created", "livemode"})
REDACTED = "[redacted]"
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"^\+?[\d\s().-]{9,}$")
_PARTS = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


def _personal(key: str) -> bool:
    lowered = key.lower()
    if lowered in KEPT_KEYS or lowered.endswith("id"):   # identifiers stay: they are how a case is traced
        return False
    parts = {part.lower() for part in _PARTS.findall(key)} | {lowered}
    return bool(parts & PERSONAL_KEYS)


def redact(value: object) -> object:
    if isinstance(value, dict):
        return {key: REDACTED if isinstance(key, str) and _personal(key) and item not in (None, "")
                else redact(item) for key, item in value.items()}
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, str) and (_EMAIL.search(value) or _PHONE.match(value)):
        return REDACTED
    return value


def redacted_text(raw: bytes, limit: int = 20_000) -> str:
    """Pretty JSON with personal data replaced; a body that is not JSON is not shown (it may hold anything)."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return f"(not JSON: {len(raw)} bytes, not shown)"
    text = json.dumps(redact(parsed), indent=2, sort_keys=True, default=str)
    return text if len(text) <= limit else text[:limit] + "\n… (cut at 20,000 characters)"
