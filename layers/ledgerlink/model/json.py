"""JSON as it arrives, before it is parsed into a typed model.

Use these only where data is genuinely raw JSON: a vendor payload before the connector has read it, a
response body from an ERP, a column stored as JSON text. Values are ``JsonValue`` (not ``Any``), so reading
one means narrowing it (``isinstance``) or handing it to a pydantic model; data passed between LedgerLink's
own steps has a dataclass or pydantic model in ``model/`` instead.
"""

from __future__ import annotations

from decimal import Decimal

# Decimal: LedgerLink parses JSON numbers with ``parse_float=Decimal`` (never float for money); float stays for
# bodies read by json.loads without it.
type JsonScalar = str | int | float | Decimal | bool | None
type JsonValue = JsonScalar | list[JsonValue] | dict[str, JsonValue]
type JsonObject = dict[str, JsonValue]
type JsonArray = list[JsonValue]
