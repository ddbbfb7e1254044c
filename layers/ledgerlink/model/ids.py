"""Deterministic identifiers.

A canonical document's id is a fingerprint of *what* it represents (source system, object type,
object id, version) — never of *when* or *how often* it was delivered — so every delivery of the same
fact maps to the same id. The id is the Step Functions execution name, the posting-ledger key and the
ERP external id, which is what makes posting exactly once.
"""

from __future__ import annotations

import functools
import hashlib
import uuid

DOCUMENT_ID_PREFIX = "doc_"


def fingerprint(*parts: str) -> str:
    """128-bit hex digest of the parts, unambiguous (length-prefixed, so ("a|b","c") != ("a","b|c"))."""
    digest = hashlib.sha256()
    for part in parts:
        encoded = part.encode("utf-8")
        digest.update(len(encoded).to_bytes(4, "big"))
        digest.update(encoded)
    return digest.hexdigest()[:32]


@functools.lru_cache(maxsize=65_536)  # validators and steps ask for the same ids repeatedly
def document_id(system: str, object_type: str, object_id: str, version: str) -> str:
    """``doc_`` + 32 hex chars: valid as an SFN execution name, DynamoDB key and ERP external id."""
    return DOCUMENT_ID_PREFIX + fingerprint(system, object_type, object_id, version)


def new_correlation_id() -> str:
    return str(uuid.uuid4())
