"""schemathesis against the ops API's OpenAPI document (``docs/ops-api.openapi.json``), through the local HTTP
front (``ledgerlink.local.http_front``, on 127.0.0.1) into the real ops handler on moto.

Checks on every generated request (positive and negative data, every operation): never a 5xx (a handler crash is
the front's 502, as API Gateway's would be), every answer conforms to the document, and every error is JSON with
a snake_case ``reason``. A few real exception cases and a ledger document are seeded so that ids can hit.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ledgerlink.local.http_front import WebhookFront
from ledgerlink.store.exceptions import DynamoExceptions

from tests.fuzz.conftest import EXAMPLES, FuzzStack
from tests.fuzz.ops_openapi import DOCUMENT, ops_openapi

REASON = re.compile(r"^[a-z][a-z0-9_]*$")
CALLER = "arn:aws:iam::123456789012:user/fuzz"
STATUSES: Counter[str] = Counter()


def reason_on_every_error(ctx: object, response: schemathesis.Response, case: schemathesis.Case) -> bool | None:
    """Every 4xx/5xx answer is a JSON object whose ``reason`` is a machine-readable code."""
    STATUSES[str(response.status_code)] += 1
    if response.status_code < 400:
        return None
    try:
        body = json.loads(response.content or b"")
    except ValueError:
        raise AssertionError(f"{response.status_code} without a JSON body: {response.content[:200]!r}") from None
    if not isinstance(body, dict) or not isinstance(body.get("reason"), str) or not REASON.match(body["reason"]):
        raise AssertionError(f"{response.status_code} without a reason code: {body!r}")
    return True


@pytest.fixture(scope="module")
def seeded_cases(fuzz_stack: FuzzStack) -> list[str]:
    cases = DynamoExceptions(fuzz_stack.resources.tables["exceptions"])
    ids = []
    for number, reason in enumerate(("mapping_missing", "period_closed", "cash_unmatched")):
        exception_id, _ = cases.open(subject=f"doc_fuzz{number:027d}", reason=reason, message="seeded for fuzzing",
                                     correlation_id=f"fuzz-{number:04d}", document_id=f"doc_fuzz{number:027d}",
                                     archive_key=f"raw/stripe/fuzz/{number}.json", suggested_fix="none",
                                     entity_id="us01", source="stripe", detail={})
        ids.append(exception_id)
    return ids


@pytest.fixture(scope="module")
def ops_front(fuzz_stack: FuzzStack) -> Iterator[WebhookFront]:
    front = WebhookFront(lambda event: fuzz_stack.host.invoke("ingest", event),
                         ops=lambda event: fuzz_stack.host.invoke("ops", event), caller=CALLER)
    front.start()
    yield front
    front.stop()


@pytest.fixture(scope="module")
def ops_schema(ops_front: WebhookFront, seeded_cases: list[str]) -> schemathesis.BaseSchema:
    document = copy.deepcopy(ops_openapi())
    document["servers"] = [{"url": ops_front.url}]
    for path, operations in document["paths"].items():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if parameter["name"] == "exception_id":   # real ids too, not only random strings
                    parameter["examples"] = {f"case{i}": {"value": v} for i, v in enumerate(seeded_cases)}
                if parameter["name"] == "document_id":
                    parameter["examples"] = {"seeded": {"value": "doc_fuzz000000000000000000000000000"}}
        del path
    return schemathesis.openapi.from_dict(document)


OPERATIONS = [(path, method.upper()) for path, methods in sorted(ops_openapi()["paths"].items()) for method in methods]


def _constrained(operation: dict[str, object]) -> bool:
    """Has something negative data can violate (an enum, a query parameter, a body); free-text ids have not."""
    parameters = operation.get("parameters") or []
    return "requestBody" in operation or any(p["in"] == "query" or "enum" in p["schema"] for p in parameters)


CASES = [(path, method, mode) for path, method in OPERATIONS
         for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
         if mode is GenerationMode.POSITIVE or _constrained(ops_openapi()["paths"][path][method.lower()])]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          reason_on_every_error]


# schemathesis' own pytest loader does not run on pytest 9 yet: its strategies drive hypothesis directly here
@pytest.mark.parametrize(("path", "method", "mode"), CASES, ids=[f"{m} {p} {g.value}" for p, m, g in CASES])
def test_ops_api_never_answers_5xx_and_every_error_has_a_reason(ops_schema, ops_front, path, method, mode):
    operation = ops_schema[path][method]

    @settings(max_examples=max(10, EXAMPLES // 5), deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def property_(case: schemathesis.Case) -> None:
        STATUSES["cases"] += 1
        response = case.call(base_url=ops_front.url)
        case.validate_response(response, checks=CHECKS)

    property_()


def test_the_fuzzing_above_reached_both_answers_and_errors(record_property):
    """Runs after the parametrized operations (same module, same worker): the count of cases they ran."""
    statuses = {k: v for k, v in sorted(STATUSES.items()) if k != "cases"}
    record_property("fuzz_cases", f"ops API (schemathesis): {STATUSES['cases']} cases, statuses {statuses}")
    assert STATUSES["cases"] >= len(CASES) * 10
    assert any(k.startswith("2") for k in statuses) and any(k.startswith("4") for k in statuses), statuses


def test_the_committed_openapi_document_is_the_generated_one():
    """docs/ops-api.openapi.json is what ``python -m tests.fuzz.ops_openapi`` writes: routes cannot drift."""
    assert json.loads(DOCUMENT.read_text()) == ops_openapi()
