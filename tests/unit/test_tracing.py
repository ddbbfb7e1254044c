"""ledgerlink.tracing: off outside Lambda (the handler itself, nothing patched); in Lambda, a Powertools Tracer whose
provider sends one X-Ray subsegment document per handler run, AWS call and ERP request to the daemon (UDP), without
payloads, responses or error messages."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator

import boto3
import pytest
from aws_lambda_powertools import Tracer
from botocore.client import BaseClient
from botocore.stub import Stubber

from ledgerlink import tracing
from ledgerlink.connectors.erps.http import HttpClient, HttpResponse

TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
SECRET = "4111 1111 1111 1111 Jane Doe"   # stands for anything financial or personal: it must never be sent


class Daemon:
    """Stands in for the X-Ray daemon: the UDP socket the provider opens (unit tests open no real socket)."""

    AF_INET, SOCK_DGRAM = socket.AF_INET, socket.SOCK_DGRAM
    ADDRESS = ("169.254.79.129", 2000)

    def __init__(self) -> None:
        self.datagrams: list[bytes] = []

    def socket(self, family: int, kind: int) -> Daemon:
        assert (family, kind) == (socket.AF_INET, socket.SOCK_DGRAM)
        return self

    def setblocking(self, flag: bool) -> None:
        assert flag is False

    def sendto(self, data: bytes, address: tuple[str, int]) -> int:
        assert address == self.ADDRESS
        self.datagrams.append(data)
        return len(data)


@pytest.fixture
def daemon(monkeypatch: pytest.MonkeyPatch) -> Iterator[Daemon]:
    """The Lambda environment with active tracing, pointing at a stand-in daemon."""
    stand_in = Daemon()
    monkeypatch.setitem(sys.modules, "socket", stand_in)   # tracing imports socket when it first sends
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv(tracing.DAEMON_ADDRESS, "169.254.79.129:2000")
    monkeypatch.setenv(tracing.TRACE_HEADER, TRACE)
    monkeypatch.delenv(tracing.TRACE_DISABLED, raising=False)
    monkeypatch.setattr(BaseClient, "_make_api_call", BaseClient._make_api_call)   # restored after the test
    monkeypatch.setattr(tracing, "_provider", None)
    Tracer._reset_config()
    yield stand_in
    Tracer._reset_config()


def received(daemon: Daemon, count: int) -> list[dict[str, object]]:
    assert len(daemon.datagrams) == count
    documents = []
    for datagram in daemon.datagrams:
        header, _, body = datagram.partition(b"\n")
        assert json.loads(header) == {"format": "json", "version": 1}
        documents.append(json.loads(body))
    return documents


def test_off_outside_lambda_returns_the_handler_itself_and_patches_nothing(monkeypatch):
    monkeypatch.delenv("LAMBDA_TASK_ROOT", raising=False)
    before = BaseClient._make_api_call

    def handler(event, context):
        return event

    assert tracing.traced_handler("ledgerlink-test")(handler) is handler
    assert BaseClient._make_api_call is before


@pytest.mark.parametrize("environ, enabled", [
    ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000"}, True),
    ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
      "POWERTOOLS_TRACE_DISABLED": "true"}, False),
    ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000", "AWS_SAM_LOCAL": "true"},
     False),
    ({"LAMBDA_TASK_ROOT": "/var/task"}, False),
    ({"AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000"}, False),
])
def test_tracing_is_on_only_in_lambda_with_a_daemon_and_not_disabled(environ, enabled):
    assert tracing.tracing_enabled(environ) is enabled


def test_the_daemon_address_may_name_udp_and_tcp():
    assert tracing._daemon_address("tcp:10.0.0.1:2001 udp:10.0.0.2:2002") == ("10.0.0.2", 2002)
    assert tracing._daemon_address("169.254.79.129:2000") == ("169.254.79.129", 2000)


def test_a_handler_run_and_its_aws_call_are_subsegments_of_the_lambda_segment_without_payloads(daemon):
    client = boto3.client("dynamodb", region_name="eu-west-1", aws_access_key_id="k", aws_secret_access_key="s")

    @tracing.traced_handler("ledgerlink-test")
    def handler(event, context):
        with Stubber(client) as stub:
            stub.add_response("get_item", {"Item": {"pk": {"S": SECRET}},
                                           "ResponseMetadata": {"RequestId": "R1", "HTTPStatusCode": 200,
                                                                "RetryAttempts": 1}},
                              {"TableName": "ledger", "Key": {"pk": {"S": SECRET}}})
            client.get_item(TableName="ledger", Key={"pk": {"S": SECRET}})
        return {"card": SECRET}

    assert handler({"card": SECRET}, None) == {"card": SECRET}
    call, run = received(daemon, 2)
    assert SECRET not in json.dumps([call, run])
    assert run["name"] == "## handler" and run["parent_id"] == "53995c3f42cd8ad8"
    assert run["trace_id"] == "1-5759e988-bd862e3fe1be46a994272793" and run["type"] == "subsegment"
    assert set(run["annotations"]) == {"ColdStart", "Service"} and "metadata" not in run
    assert run["annotations"]["Service"] == "ledgerlink-test" and isinstance(run["annotations"]["ColdStart"], bool)
    assert call["name"] == "dynamodb" and call["namespace"] == "aws" and call["parent_id"] == run["id"]
    assert call["aws"] == {"operation": "GetItem", "region": "eu-west-1", "request_id": "R1", "retries": 1}
    assert call["http"] == {"response": {"status": 200}} and "fault" not in call and "error" not in call
    assert run["start_time"] <= call["start_time"] <= call["end_time"] <= run["end_time"]


def test_a_failing_handler_records_the_exception_type_only(daemon):
    @tracing.traced_handler("ledgerlink-test")
    def handler(event, context):
        raise ValueError(SECRET)

    with pytest.raises(ValueError):
        handler({}, None)
    (run,) = received(daemon, 1)
    assert SECRET not in json.dumps(run) and "metadata" not in run
    assert run["fault"] is True and [e["type"] for e in run["cause"]["exceptions"]] == ["ValueError"]


def test_an_erp_request_is_a_remote_subsegment_named_by_host_with_method_and_status(daemon, monkeypatch):
    @tracing.traced_handler("ledgerlink-test")
    def handler(event, context):
        client = HttpClient("https://api.erp.example/v2")
        posted = client.request("POST", f"/invoices?q={SECRET}", json_body=SECRET)
        token = client.request(method="GET", path="https://login.erp.example/token")   # keywords, an absolute URL
        return posted.status, token.status

    def answer(self, method, path, **kwargs):
        return HttpResponse(status=429 if method == "POST" else 200, body=b"{}", url=self.url(path), headers={})

    monkeypatch.setattr(HttpClient, "request", tracing.remote_request(answer))
    assert handler({}, None) == (429, 200)
    request, token, run = received(daemon, 3)
    assert SECRET not in json.dumps([request, token, run])
    assert token["name"] == "login.erp.example" and token["http"] == {"request": {"method": "GET"},
                                                                       "response": {"status": 200}}
    assert request["name"] == "api.erp.example" and request["namespace"] == "remote"
    assert request["parent_id"] == run["id"]
    assert request["http"] == {"request": {"method": "POST"}, "response": {"status": 429}}
    assert request["throttle"] is True and request["error"] is True and "fault" not in request


def test_an_unsampled_invocation_sends_nothing(daemon, monkeypatch):
    monkeypatch.setenv(tracing.TRACE_HEADER, TRACE.replace("Sampled=1", "Sampled=0"))

    @tracing.traced_handler("ledgerlink-test")
    def handler(event, context):
        return 1

    assert handler({}, None) == 1
    assert received(daemon, 0) == []


def test_every_handler_is_traced_under_its_powertools_service_name():
    from ledgerlink.settings import FUNCTION_SETTINGS

    from tests.conftest import REPO

    for name in FUNCTION_SETTINGS:
        source = (REPO / "functions" / name / "handler.py").read_text()
        service = "ledgerlink-" + name.replace("_", "-")   # infra/constructs/function.py service_name()
        assert f'@traced_handler("{service}")\ndef handler(' in source, name
