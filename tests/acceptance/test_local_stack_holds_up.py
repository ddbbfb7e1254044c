"""The local stack holds up (issue 18, item 6): its HTTP front takes a burst of simultaneous connections without a
reset, and `ledgerlink local up` stops cleanly on SIGTERM and Ctrl-C. How fast it stops, how fast it ingests and
whether its memory stays flat are measured by `make bench` (bench/local_stack.py), never asserted here."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter

import pytest

from ledgerlink.connectors.sources.stripe.webhook import signature_header
from ledgerlink.local.http_front import FrontServer
from ledgerlink.local.runtime import LocalOptions, LocalRuntime, lean_moto
from ledgerlink.store.ledger import DynamoLedger

from tests.conftest import EVENTS, EXAMPLE_CONFIG, REPO

pytestmark = pytest.mark.slow

CONNECTIONS = 64
DUPLICATES = 16   # of the 64, these repeat another connection's event at the same instant


def _invoice_event(number: int) -> bytes:
    event = json.loads((EVENTS / "stripe" / "01-invoice.finalized.json").read_text())
    event["id"] = f"evt_burst{number:04d}"
    event["data"]["object"]["id"] = f"in_burst{number:04d}"
    return json.dumps(event).encode()


def test_the_front_answers_64_simultaneous_connections_without_a_reset(tmp_path):
    assert FrontServer.request_queue_size >= 128 and FrontServer.daemon_threads   # socketserver's default is 5
    runtime = LocalRuntime(LocalOptions(config_path=EXAMPLE_CONFIG, state_dir=tmp_path / "state", port=0,
                                        secrets_default_file=tmp_path / "secrets.json", flush_interval_seconds=0))
    runtime.start()
    try:
        secret = runtime.secrets["stripe"].values[0]
        unique = CONNECTIONS - DUPLICATES
        bodies = [_invoice_event(n % unique) for n in range(CONNECTIONS)]
        barrier = threading.Barrier(CONNECTIONS)
        answers: list[tuple[int, dict] | BaseException] = [None] * CONNECTIONS  # type: ignore[list-item]

        def deliver(index: int) -> None:
            body = bodies[index]
            connection = http.client.HTTPConnection("127.0.0.1", runtime.front.port, timeout=120)
            try:
                barrier.wait(timeout=30)   # every connect at the same instant
                connection.request("POST", "/webhooks/stripe", body=body, headers={
                    "Content-Type": "application/json", **signature_header(body, secret, int(time.time()))})
                response = connection.getresponse()
                answers[index] = (response.status, json.loads(response.read() or b"{}"))
            except BaseException as error:  # noqa: BLE001 - a reset or refusal is what this test looks for
                answers[index] = error
            finally:
                connection.close()

        threads = [threading.Thread(target=deliver, args=(i,)) for i in range(CONNECTIONS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=180)
        failures = [answer for answer in answers if not isinstance(answer, tuple)]
        assert failures == [], failures   # no ConnectionResetError, ConnectionRefusedError, RemoteDisconnected
        # every event accepted once; its simultaneous repeat answered 200 "duplicate", as the README documents
        assert Counter((status, body["status"]) for status, body in answers) == {
            (202, "accepted"): unique, (200, "duplicate"): DUPLICATES}
        assert runtime.wait_idle(timeout=300)
        tables = runtime.resources.tables
        documents = DynamoLedger(tables["ledger"], totals_table=tables["totals"]).scan()
        assert Counter(d["status"] for d in documents) == {"posted": unique}
        # the Express happy path keeps no finished executions, as on AWS (moto kept each one with its history)
        assert runtime.client("stepfunctions").list_executions(
            stateMachineArn=runtime.resources.happy_path_arn)["executions"] == []
    finally:
        runtime.stop()


def _start_local_up(tmp_path, stderr):
    secrets_file = tmp_path / "secrets.json"
    secrets_file.write_text(json.dumps({"stripe": "whsec_stop_test"}))
    process = subprocess.Popen(
        [sys.executable, "-m", "ledgerlink.cli", "local", "up", "--config", str(EXAMPLE_CONFIG), "--port", "0",
         "--secrets", str(secrets_file), "--state-dir", str(tmp_path / "state")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=stderr, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1"})
    lines: list[str] = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                break
            continue
        lines.append(line)
        if "Ctrl-C to stop" in line:
            return process, "".join(lines)
    process.kill()
    raise AssertionError(f"local up did not come up: {lines}")


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
def test_local_up_stops_cleanly_on_a_signal_even_while_busy(tmp_path, signum):
    with (tmp_path / "stderr.txt").open("w+") as stderr:
        process, output = _start_local_up(tmp_path, stderr)
        try:
            port = int(re.search(r"POST http://127\.0\.0\.1:(\d+)/webhooks/stripe", output).group(1))
            # Given webhooks in flight (acknowledged ones queued, executions running)
            for number in range(8):
                body = _invoice_event(number)
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                connection.request("POST", "/webhooks/stripe", body=body, headers={
                    "Content-Type": "application/json",
                    **signature_header(body, "whsec_stop_test", int(time.time()))})
                response = connection.getresponse()
                assert (response.status, json.loads(response.read())["status"]) == (202, "accepted")
                connection.close()
            # When the stack is told to stop
            process.send_signal(signum)
            # Then it exits by itself, with status 0 and no traceback (how fast: bench/local_stack.py). The CLI
            # exits by itself 10 s after the stop began whatever happens; 60 s leaves room for a loaded CI machine.
            try:
                rest, _ = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                process.send_signal(signal.SIGABRT)   # PYTHONFAULTHANDLER: every thread's stack to stderr
                process.communicate(timeout=10)
                stderr.seek(0)
                raise AssertionError(f"no exit 60 s after the signal:\n{stderr.read()[-8000:]}") from None
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr.seek(0)
        errors = stderr.read()
    assert process.returncode == 0, errors
    assert "Traceback" not in errors, errors
    assert "stopping the local stack" in rest


def test_a_failed_transaction_puts_back_exactly_the_items_it_wrote_and_moto_keeps_no_copies(monkeypatch):
    # lean_moto: item-level rollback instead of moto's whole-table copies, and no instance tracking (memory per event)
    import boto3
    from botocore.exceptions import ClientError
    from moto import mock_aws
    from moto.dynamodb.models.dynamo_type import Item

    from ledgerlink.local.aws import atomic_dynamodb

    for name, value in {"AWS_ACCESS_KEY_ID": "t", "AWS_SECRET_ACCESS_KEY": "t", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(), lean_moto(), atomic_dynamodb():
        dynamodb = boto3.client("dynamodb")
        for table in ("a", "b"):
            dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                  KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                             {"AttributeName": "sk", "KeyType": "RANGE"}],
                                  AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                        {"AttributeName": "sk", "AttributeType": "S"}])
        key = {"pk": {"S": "doc"}, "sk": {"S": "1"}}
        guard = {"pk": {"S": "guard"}, "sk": {"S": "1"}}
        dynamodb.put_item(TableName="a", Item={**key, "n": {"N": "1"}})
        dynamodb.put_item(TableName="a", Item=guard)
        tracked = len(Item.instances_tracked)

        def transact(check: str) -> None:
            dynamodb.transact_write_items(TransactItems=[
                {"Update": {"TableName": "a", "Key": key, "UpdateExpression": "SET n = n + :one",
                            "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                {"Put": {"TableName": "b", "Item": {**key, "v": {"S": "new"}}}},
                {"Delete": {"TableName": "a", "Key": {"pk": {"S": "other"}, "sk": {"S": "1"}}}},
                {"ConditionCheck": {"TableName": "a", "Key": guard, "ConditionExpression": check}}])

        # When the last operation's condition fails after the first two were applied
        with pytest.raises(ClientError) as cancelled:
            transact("attribute_not_exists(pk)")
        assert cancelled.value.response["Error"]["Code"] == "TransactionCanceledException"
        # Then both are undone, and nothing else changed
        assert dynamodb.get_item(TableName="a", Key=key)["Item"]["n"] == {"N": "1"}
        assert "Item" not in dynamodb.get_item(TableName="b", Key=key)
        assert dynamodb.scan(TableName="a")["Count"] == 2 and dynamodb.scan(TableName="b")["Count"] == 0
        # And a transaction that passes applies every operation
        transact("attribute_exists(pk)")
        assert dynamodb.get_item(TableName="a", Key=key)["Item"]["n"] == {"N": "2"}
        assert dynamodb.get_item(TableName="b", Key=key)["Item"]["v"] == {"S": "new"}
        assert len(Item.instances_tracked) == tracked   # nothing moto made was kept for its dashboard
