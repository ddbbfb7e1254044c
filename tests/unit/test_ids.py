"""Deterministic ids: what a document *is* decides its id, never when or how often it was delivered."""

from __future__ import annotations

import re
import uuid

from ledgerlink.connectors.erps.beancount import posting_name
from ledgerlink.model.ids import document_id, fingerprint, new_correlation_id

# Step Functions execution names: 1-80 characters from [A-Za-z0-9_-] (AWS StartExecution docs).
SFN_EXECUTION_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,80}$")


def test_document_id_is_stable_and_usable_as_execution_name_and_external_id() -> None:
    # Given the same fact described twice
    first = document_id("stripe", "invoice", "in_123", "finalized")
    second = document_id("stripe", "invoice", "in_123", "finalized")
    # Then it gets the same id, valid as an SFN execution name and as a book file name
    assert first == second
    assert re.fullmatch(r"doc_[0-9a-f]{32}", first)
    assert SFN_EXECUTION_NAME.match(first)
    assert posting_name(first).endswith(f"{first}.beancount")


def test_each_part_of_the_fact_changes_the_id() -> None:
    base = ("stripe", "invoice", "in_123", "finalized")
    ids = {document_id(*base)}
    for position, replacement in enumerate(("adyen", "invoice_payment", "in_124", "paid")):
        parts = list(base)
        parts[position] = replacement
        ids.add(document_id(*parts))
    assert len(ids) == 5


def test_fingerprint_is_unambiguous_about_part_boundaries() -> None:
    # naive concatenation would make these equal
    assert fingerprint("a|b", "c") != fingerprint("a", "b|c")
    assert fingerprint("ab", "") != fingerprint("a", "b")
    assert fingerprint("ab") != fingerprint("a", "b")


def test_new_correlation_ids_are_unique_random_uuids() -> None:
    ids = {new_correlation_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(uuid.UUID(value).version == 4 for value in ids)
