"""Bounded, defused parsing of untrusted bodies (stdlib + defusedxml: the ingest hot path imports this).

Every webhook body (JSON or Salesforce SOAP) and every camt.053 bank statement is read through here, so the same
limits hold for every source, and a body that breaks them is an :class:`UnreadableInput` with a snake_case
``reason`` (ingest answers it 400; a bank file becomes a ``malformed_statement`` case), never an exception that
looks like a storage outage (ingest's 503, D95):

- **JSON** is UTF-8 only (``json.loads(bytes)`` would also guess UTF-16/32) → else ``malformed_json``; arrays and
  objects nest at most :data:`MAX_JSON_DEPTH` deep, measured on the bytes before the parser runs (CPython's
  parser recurses, and past ~1,000 levels raises ``RecursionError``) → ``payload_too_deep``; and no string or key
  holds a lone surrogate (``"\\ud800"`` is valid JSON, but no UTF-8 encoder — the HMAC's, DynamoDB's, S3's — can
  write it) → ``invalid_unicode``.
- **XML** goes through defusedxml with ``forbid_dtd``: expat reports a DOCTYPE — and so every entity declaration,
  internal or external — to a handler that refuses it, in whatever encoding the document is written (UTF-16 with
  or without a byte-order mark included), which a byte-pattern check cannot do → ``xml_dtd_forbidden``. Elements
  nest at most :data:`MAX_XML_DEPTH` deep, counted while parsing (the document is never built deeper)
  → ``payload_too_deep``. Anything else expat cannot read, an unknown or multi-byte encoding it cannot decode
  from bytes included, is ``malformed_xml``.

Sizes are limited before anything is parsed, where they always were: a webhook source's ``max_body_bytes``
(256 KiB by default, 413 ``payload_too_large``), a bank source's ``max_body_bytes`` (10 MB, ``file_too_large``).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from itertools import accumulate
from typing import TYPE_CHECKING

# imported here, not on first use, although JSON sources never need it (~5 ms at cold start): defusedxml swaps
# xml.etree modules in sys.modules while it imports, which must not happen while other threads run (local stack)
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

if TYPE_CHECKING:
    from ledgerlink.model.json import JsonValue

# Real payloads nest far less (events/ and the contract files): a Stripe event 9 levels, Adyen/HubSpot/Ramp/Brex/
# Concur ≤ 6, a Salesforce outbound message 6 elements, a camt.053 statement 13. 64 leaves room for any provider's
# growth and keeps every recursive reader downstream (json.dumps, the normalizers, sobject_fields) far from Python's
# recursion limit.
MAX_JSON_DEPTH = 64
MAX_XML_DEPTH = 64


class UnreadableInput(ValueError):
    """A body that cannot be read within the limits; ``reason`` is a stable snake_case code."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


# ---- JSON ---------------------------------------------------------------------------------------------

_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = bytes(sorted(set(range(256)) - set(b"[]{}")))
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}
# \uD800–\uDFFF escapes: the only way a lone surrogate gets into valid UTF-8 JSON (a raw one is not UTF-8)
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def json_depth(body: bytes) -> int:
    """How deep arrays and objects nest in ``body``, without parsing it: strings are cut out (a bracket in a string
    is text), then the brackets are counted. UTF-8 multi-byte sequences hold no ASCII byte, so bytes are enough.
    Exact for valid JSON; for invalid JSON it may overcount, never undercount what the parser would reach."""
    brackets = _JSON_STRING.sub(b"", body).translate(None, _NOT_BRACKET)
    if not brackets:
        return 0
    return max(0, max(accumulate(map(_STEP.__getitem__, brackets))))


def load_json(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> JsonValue:
    """The body as JSON, within the limits above, or :class:`UnreadableInput`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableInput("body is not valid UTF-8", "malformed_json") from None
    depth = json_depth(body)
    if depth > max_depth:
        raise UnreadableInput(f"JSON nests {depth} levels deep; at most {max_depth} are read", "payload_too_deep")
    try:
        payload: JsonValue = json.loads(text)
    except RecursionError:  # cannot happen after the count above; kept so that it can never become a 5xx
        raise UnreadableInput(f"JSON nests more than {max_depth} levels deep", "payload_too_deep") from None
    except ValueError:
        raise UnreadableInput("body is not valid JSON", "malformed_json") from None
    if b"\\u" in body and _SURROGATE_ESCAPE.search(body):
        try:  # escaped pairs are fine; a lone half is not (depth is bounded: this cannot recurse too far)
            json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise UnreadableInput("JSON text holds a lone surrogate (an unpaired \\ud800-\\udfff escape)",
                                  "invalid_unicode") from None
    return payload


# ---- XML ----------------------------------------------------------------------------------------------

class _DepthLimitedBuilder:
    """An ElementTree target that refuses to build deeper than ``max_depth``."""

    def __init__(self, max_depth: int) -> None:
        self._builder = ET.TreeBuilder()
        self._depth = 0
        self._max_depth = max_depth

    def start(self, tag: str, attrib: dict[str, str]) -> ET.Element:
        self._depth += 1
        if self._depth > self._max_depth:
            raise UnreadableInput(f"XML elements nest more than {self._max_depth} levels deep", "payload_too_deep")
        return self._builder.start(tag, attrib)

    def end(self, tag: str) -> ET.Element:
        self._depth -= 1
        return self._builder.end(tag)

    def data(self, data: str) -> None:
        self._builder.data(data)

    def close(self) -> ET.Element:
        return self._builder.close()


def parse_xml(body: bytes, *, max_depth: int = MAX_XML_DEPTH) -> ET.Element:
    """The document element of ``body`` (bytes: expat reads the encoding from the BOM or the XML declaration), or
    :class:`UnreadableInput`. No DTD, entity declaration or external reference is ever processed."""
    parser = DefusedXMLParser(target=_DepthLimitedBuilder(max_depth), forbid_dtd=True, forbid_entities=True,
                              forbid_external=True)
    try:
        parser.feed(body)
        return parser.close()
    except UnreadableInput:
        raise
    except DefusedXmlException:
        raise UnreadableInput("XML with a DOCTYPE, entity declaration or external reference is refused",
                              "xml_dtd_forbidden") from None
    except ET.ParseError as exc:  # expat's text names the error and its line and column, never the content
        raise UnreadableInput(f"not well-formed XML: {exc}", "malformed_xml") from None
    except (LookupError, ValueError):  # the XML declaration names an encoding expat does not know or cannot read
        raise UnreadableInput("not well-formed XML: unreadable encoding declaration", "malformed_xml") from None
