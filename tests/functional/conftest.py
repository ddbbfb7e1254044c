"""Functional tier: the real handlers and the real state machine definition against moto (in-process).

``stack`` creates every resource the way the local runtime does, applies a configuration, stores a
signing secret, routes Step Functions task invocations to the handlers in-process, and offers
``webhook()`` (API Gateway → ingest) and ``drain()`` (SQS → normalize → executions finished).
"""

from __future__ import annotations

import contextlib
import io
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto import mock_aws

from ledgerlink import wiring
from ledgerlink.config.loader import parse_config_text
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.connectors.sources.stripe.webhook import signature_header
from ledgerlink.local.aws import (
    MOTO_CONFIG,
    Resources,
    apply_config,
    atomic_dynamodb,
    create_resources,
    in_process_lambdas,
    store_api_credentials,
    store_secrets,
    waiting_for_decisions,
)
from ledgerlink.local.fake_apis import FakeSourceApis, generate_credentials
from ledgerlink.local.functions import FunctionHost
from ledgerlink.local.http_front import api_gateway_event
from ledgerlink.local.runtime import with_api_base_url
from ledgerlink.local.sqs_poller import deliver_batch
from ledgerlink.store import clients
from ledgerlink.store.exceptions import DynamoExceptions
from ledgerlink.store.inbox import DynamoInbox
from ledgerlink.store.ledger import DynamoLedger

from tests.conftest import EVENTS, EXAMPLE_CONFIG

SECRET = "whsec_functional_test_secret_0123456789"  # noqa: S105 - a test fixture, stored only in moto


@dataclass
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]


class Stack:
    def __init__(self, resources: Resources, host: FunctionHost, config: LedgerLinkConfig, root: Path) -> None:
        self.resources = resources
        self.host = host
        self.config = config
        self.root = root
        self.ledger = DynamoLedger(resources.tables["ledger"], totals_table=resources.tables["totals"])
        self.inbox = DynamoInbox(resources.tables["inbox"], totals_table=resources.tables["totals"])
        self.exceptions = DynamoExceptions(resources.tables["exceptions"])

    # ---- webhook side ----------------------------------------------------------------------------

    def webhook(self, body: bytes, headers: dict[str, str] | None = None, *, source: str = "stripe",
                method: str = "POST") -> Reply:
        event = api_gateway_event(method, f"/webhooks/{source}", headers or {}, body, "198.51.100.7")
        response = self.host.invoke("ingest", event)
        return Reply(response["statusCode"], json.loads(response["body"]), response["headers"])

    def send(self, body: bytes, *, secret: str = SECRET, timestamp: int | None = None, source: str = "stripe") -> Reply:
        return self.webhook(body, signature_header(body, secret, timestamp or int(time.time())), source=source)

    def send_event(self, name: str, **overrides: Any) -> Reply:
        return self.send(event_bytes(name, **overrides))

    # ---- queue side ------------------------------------------------------------------------------

    def receive(self, max_messages: int = 10) -> list[dict[str, Any]]:
        return clients.client("sqs").receive_message(
            QueueUrl=self.resources.inbound_queue_url, MaxNumberOfMessages=max_messages,
            AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])

    def queue_depth(self, url: str | None = None) -> int:
        attributes = clients.client("sqs").get_queue_attributes(
            QueueUrl=url or self.resources.inbound_queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def deliver(self, messages: list[dict[str, Any]]) -> tuple[int, int]:
        return deliver_batch(clients.client("sqs"), self.resources.inbound_queue_url, self.resources.inbound_queue_arn,
                             lambda event: self.host.invoke("normalize", event), messages)

    def drain(self, timeout: float = 60.0) -> None:
        """Deliver every queued message to normalize, then wait for all executions to finish."""
        while True:
            messages = self.receive()
            if not messages:
                break
            self.deliver(messages)
        self.wait_for_executions(timeout)

    def executions(self, status: str | None = None, *, workflow: str | None = None) -> list[dict[str, Any]]:
        """Executions of both workflows, or of one: ``"happy_path"`` (Express; moto lists those, AWS does not)
        or ``"standard"``."""
        kwargs = {"statusFilter": status} if status else {}
        arns = {"happy_path": self.resources.happy_path_arn, "standard": self.resources.state_machine_arn}
        return [execution for name, arn in arns.items() if workflow in (None, name)
                for execution in clients.client("stepfunctions").list_executions(
                    stateMachineArn=arn, **kwargs)["executions"]]

    def _running_summary(self) -> list[tuple[str, list[str]]]:
        sfn = clients.client("stepfunctions")
        summary = []
        for execution in self.executions("RUNNING")[:3]:
            events = sfn.get_execution_history(executionArn=execution["executionArn"], reverseOrder=True,
                                               maxResults=6)["events"]
            summary.append((execution["name"], [e["type"] + str(e.get("lambdaFunctionFailedEventDetails", {})
                                                                  .get("cause", ""))[:200] for e in events]))
        return summary

    def _idle(self) -> bool:
        """No handler ran while the executions and cases were read, and every running execution waits on a case.
        A step still running (the open-exception handler between writing the case with its task token and
        marking the document) is not a parked execution, whatever the exceptions table already says."""
        before = self.host.activity
        parked = len(self.executions("RUNNING")) <= waiting_for_decisions(self.resources.tables["exceptions"])
        return parked and before[0] == 0 and self.host.activity == before

    def wait_for_executions(self, timeout: float = 60.0) -> None:
        """Until every execution finished or waits on an exception case's task token (a person's decision)."""
        deadline = time.monotonic() + timeout
        while not self._idle():
            if time.monotonic() > deadline:
                raise TimeoutError(f"executions still running: {self._running_summary()}")
            time.sleep(0.05)

    # ---- results ---------------------------------------------------------------------------------

    def documents(self, status: str | None = None) -> list[dict[str, Any]]:
        return [item for item in self.ledger.scan() if status is None or item["status"] == status]

    @property
    def book_dir(self) -> Path:
        return self.root / "books" / "main"

    def postings(self) -> list[Path]:
        return sorted((self.book_dir / "postings").glob("*.beancount"))

    def archived(self, key: str) -> bytes:
        return clients.client("s3").get_object(Bucket=self.resources.archive_bucket, Key=key)["Body"].read()

    def forget_stored_result(self, document_id: str) -> None:
        """Remove the ledger guard (D11 guard 2): the item goes back to ``received`` without its ERP reference,
        as if the posted write had been lost, so only the ERP's lookup by external id stands in the way. Written
        directly (no counters move): tests that use it do not reconcile afterwards."""
        clients.client("dynamodb").update_item(
            TableName=self.resources.tables["ledger"], Key={"document_id": {"S": document_id}},
            UpdateExpression="SET #s = :received REMOVE erp_ref, erp_connection, posted_at, lease_until, lease_holder",
            ExpressionAttributeNames={"#s": "status"}, ExpressionAttributeValues={":received": {"S": "received"}})

    def run_again(self, document_item: dict[str, Any]) -> dict[str, Any]:
        """The same document through the state machine under a new execution name (removes guard 1); the
        execution's output."""
        payload = {"document_id": document_item["document_id"], "correlation_id": "rerun", "source_id": "stripe",
                   "archive_key": document_item["archive_key"], "config_version": 1,
                   "document": json.loads(document_item["document"])}
        sfn = clients.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=self.resources.state_machine_arn,
                                  name=f"rerun-{uuid.uuid4().hex[:8]}", input=json.dumps(payload))["executionArn"]
        self.wait_for_executions()
        return json.loads(sfn.describe_execution(executionArn=arn)["output"])


def event_bytes(name: str, **overrides: Any) -> bytes:
    """A sample from events/stripe with top-level overrides (e.g. a fresh event id)."""
    event = json.loads((EVENTS / "stripe" / name).read_text())
    event.update(overrides)
    return json.dumps(event).encode()


def config_with(**changes: Any) -> LedgerLinkConfig:
    """The example configuration with a few edits applied to its YAML data."""
    data = yaml.safe_load(EXAMPLE_CONFIG.read_text())
    for path, value in changes.items():
        target = data
        *parents, leaf = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is _DELETE:
            del target[leaf]
        else:
            target[leaf] = value
    return parse_config_text(yaml.safe_dump(data), origin="test-config")


def served_like(config: LedgerLinkConfig, stack: Stack) -> LedgerLinkConfig:
    """``config`` with its vendor APIs at the base URLs the stack serves them (its local fake), so a diff against the
    stack's active configuration shows only the edits."""
    urls = {source.id: (getattr(source, "api", None), getattr(source, "reports", None)) for source in stack.config.sources}
    sources = []
    for source in config.sources:
        for attribute, served in zip(("api", "reports"), urls.get(source.id, (None, None)), strict=True):
            access = getattr(source, attribute, None)
            if access is not None and served is not None:
                source = source.model_copy(update={attribute: access.model_copy(update={"base_url": served.base_url})})
        sources.append(source)
    return config.model_copy(update={"sources": sources})


_DELETE = object()
DELETE = _DELETE


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "LedgerLinkTest")


@pytest.fixture
def stack_config() -> LedgerLinkConfig:
    """Override in a test module (or parametrize) to run the stack on another configuration."""
    return parse_config_text(EXAMPLE_CONFIG.read_text(), origin=str(EXAMPLE_CONFIG))


def _remote_api_sources(config: LedgerLinkConfig) -> list[Any]:
    from ledgerlink.config.sources import api_credentials

    return [source for source in config.sources if api_credentials(source) is not None
            and not str(getattr(getattr(source, "api", None) or getattr(source, "reports", None), "base_url", ""))
            .startswith("http://127.0.0.1")]


@pytest.fixture
def stack(aws_env: None, stack_config: LedgerLinkConfig, tmp_path: Path,
          monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    # vendor APIs the configuration names at their real hosts are served by the local fake, as in `make demo`
    # (a module with its own fake points its configuration there first, and keeps it)
    remote = _remote_api_sources(stack_config)
    with contextlib.ExitStack() as vendors:
        if remote:
            credentials = {source.kind: generate_credentials(source.kind) for source in remote}
            vendor = vendors.enter_context(FakeSourceApis(EVENTS, credentials=credentials))
            stack_config = with_api_base_url(stack_config, vendor.url)
        yield from _stack(stack_config, tmp_path, monkeypatch,
                          {source.id: credentials[source.kind] for source in remote} if remote else {})


def _stack(stack_config: LedgerLinkConfig, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
           api_credentials: dict[str, dict[str, str]]) -> Iterator[Stack]:
    with mock_aws(config=MOTO_CONFIG):
        wiring.reset()  # clients must be created inside the mock
        host = FunctionHost(prefix="ll-test", log_stream=io.StringIO())
        with in_process_lambdas(host), atomic_dynamodb():
            resources = create_resources(prefix="ll-test", books_dir=tmp_path / "books", host=host, master_data_wait_seconds=1,
                                         visibility_timeout_seconds=1, max_receive_count=2)
            for key, value in resources.environment().items():
                monkeypatch.setenv(key, value)
            apply_config(resources, stack_config, applied_by="functional-test")
            store_secrets(stack_config, {source.id: (SECRET,) for source in stack_config.sources})
            if api_credentials:
                store_api_credentials(stack_config, api_credentials)
            yield Stack(resources, host, stack_config, tmp_path)
        wiring.reset()
