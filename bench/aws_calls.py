"""Billable AWS calls per document on the hot path, counted through botocore events against moto:
every API call LedgerLink's clients make from the webhook to the ERP reference being recorded, plus
Step Functions state transitions of the Standard workflow (billed per transition), divided by documents.
The Express happy path is billed per request (its StartExecution, counted as an API call) and by duration,
not per transition (D76): its transitions are reported beside, not added."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from collections import Counter
from typing import Any

from bench.report import REPO, table, verdict, write_section


def run(events: int) -> dict[str, Any]:
    from moto import mock_aws

    from ledgerlink import wiring
    from ledgerlink.config.loader import load_config_file
    from ledgerlink.local.aws import (
        MOTO_CONFIG,
        apply_config,
        atomic_dynamodb,
        create_resources,
        in_process_lambdas,
        store_secrets,
    )
    from ledgerlink.local.functions import FunctionHost
    from ledgerlink.store import clients

    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        os.environ.pop(name, None)
    os.environ.update({"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1",
                       "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_METRICS_NAMESPACE": "Bench",
                       "POWERTOOLS_LOG_LEVEL": "ERROR"})
    calls: Counter[str] = Counter()
    counting = {"on": False}
    original_client = clients.client

    observer_only = {"ListExecutions", "GetExecutionHistory", "DescribeExecution", "Scan"}  # the bench's own polling

    def count(model: Any, **_: Any) -> None:  # must return None: a value would replace the response
        if counting["on"] and model.name not in observer_only:
            calls.update([f"{model.service_model.service_name}:{model.name}"])

    def counted_client(service: str) -> Any:
        client = original_client(service)
        if not getattr(client, "_bench_counted", False):
            client.meta.events.register("before-call", count)
            client._bench_counted = True  # noqa: SLF001
        return client

    template = json.loads((REPO / "events" / "stripe" / "02-invoice.paid.json").read_text())
    config = load_config_file(REPO / "config" / "ledgerlink.example.yaml")
    secret = "whsec_bench"  # noqa: S105
    with mock_aws(config=MOTO_CONFIG):
        clients.client = counted_client  # type: ignore[assignment]
        import ledgerlink.store.clients as module

        module.client = counted_client  # adapters call clients.client via their module import
        wiring.reset()
        host = FunctionHost(prefix="bench", log_stream=io.StringIO())
        with in_process_lambdas(host), atomic_dynamodb():
            books = REPO / "build" / "bench-books"
            resources = create_resources(prefix="bench", books_dir=books, host=host)
            os.environ.update(resources.environment())
            apply_config(resources, config, applied_by="bench")
            store_secrets(config, {source.id: (secret,) for source in config.sources})
            sqs = original_client("sqs")
            counting["on"] = True
            for number in range(events):
                _ingest_one(host, template, secret, number)
            _drain_queue(sqs, resources, host, calls)
            sfn = original_client("stepfunctions")
            machines = (resources.happy_path_arn, resources.state_machine_arn)
            _wait_for_executions(sfn, machines)
            counting["on"] = False
            transitions, executions = _transitions(sfn, machines)
            ledger_items = original_client("dynamodb").scan(TableName=resources.tables["ledger"])["Items"]
            posted = sum(1 for item in ledger_items if item["status"]["S"] == "posted")
        clients.client = original_client  # type: ignore[assignment]
        module.client = original_client
        wiring.reset()
    documents = len(ledger_items)
    api_calls = sum(calls.values())
    by_service: Counter[str] = Counter()
    for key, made in calls.items():   # (not ``count``: that name is the hook still registered on cached clients)
        by_service[key.split(":")[0]] += made
    standard = transitions[resources.state_machine_arn]
    per_document = (api_calls + standard) / documents
    return {"events": events, "documents": documents, "posted": posted, "api_calls": api_calls,
            "state_transitions": standard, "billable_per_document": round(per_document, 2),
            "api_calls_per_document": round(api_calls / documents, 2),
            "transitions_per_document": round(standard / documents, 2),
            "standard_executions": len(executions[resources.state_machine_arn]),
            "express_executions": len(executions[resources.happy_path_arn]),
            "express_transitions_per_document": round(transitions[resources.happy_path_arn] / documents, 2),
            "by_operation_per_document": {k: round(v / documents, 2) for k, v in sorted(calls.items())},
            "by_service_per_document": {k: round(v / documents, 2) for k, v in sorted(by_service.items())},
            "target_per_document": 6, "target_met": per_document <= 6}


def _ingest_one(host: Any, template: dict[str, Any], secret: str, number: int) -> None:
    """One signed invoice.paid webhook (its own event and invoice ids) through the ingest function."""
    from ledgerlink.connectors.sources.stripe.webhook import signature_header
    from ledgerlink.local.http_front import api_gateway_event

    event = {**template, "id": f"evt_calls_{number:06d}"}
    obj = dict(event["data"]["object"], id=f"in_calls{number:06d}")
    event["data"] = {"object": obj}
    body = json.dumps(event).encode()
    response = host.invoke("ingest", api_gateway_event(
        "POST", "/webhooks/stripe", signature_header(body, secret, int(time.time())), body, "127.0.0.1"))
    assert response["statusCode"] == 202, response


def _drain_queue(sqs: Any, resources: Any, host: Any, calls: Counter[str]) -> None:
    """The event source mapping: batches of 10 (its receive/delete calls count too)."""
    from ledgerlink.local.sqs_poller import deliver_batch

    while True:
        messages = sqs.receive_message(QueueUrl=resources.inbound_queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            break
        calls.update(["sqs:ReceiveMessage"])
        deliver_batch(sqs, resources.inbound_queue_url, resources.inbound_queue_arn,
                      lambda batch: host.invoke("normalize", batch), messages)
        calls.update(["sqs:DeleteMessageBatch"])


def _wait_for_executions(sfn: Any, machines: tuple[str, str]) -> None:
    deadline = time.monotonic() + 120
    while any(sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"]
              for arn in machines) and time.monotonic() < deadline:
        time.sleep(0.05)


def _transitions(sfn: Any, machines: tuple[str, str]) -> tuple[dict[str, int], dict[str, list[Any]]]:
    """States entered per machine, and each machine's executions (boto3's ListExecutions items)."""
    transitions = dict.fromkeys(machines, 0)
    executions = {arn: sfn.list_executions(stateMachineArn=arn)["executions"] for arn in machines}
    for arn in machines:  # moto keeps Express histories too (AWS does not): the bench reads both
        for execution in executions[arn]:
            history = sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
            transitions[arn] += sum(1 for e in history if e["type"].endswith("StateEntered"))
    return transitions, executions


def format_result(result: dict[str, Any]) -> str:
    rows = [[operation, value] for operation, value in result["by_operation_per_document"].items()]
    rows.append(["Step Functions Standard state transitions", result["transitions_per_document"]])
    rows.append(["TOTAL billable per document", result["billable_per_document"]])
    return table(f"AWS calls per document ({result['events']} invoice.paid events → {result['documents']} documents, "
                 f"{result['posted']} posted)", ["call", "per document"], rows) + (
        f"Express happy path: {result['express_executions']} executions "
        f"({result['express_transitions_per_document']} transitions per document, billed per request and duration); "
        f"{result['standard_executions']} Standard executions\n"
        f"target ≤ 6 billable calls per document: {verdict(result['target_met'])}\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.aws_calls")
    parser.add_argument("--events", type=int, default=50)
    args = parser.parse_args(argv)
    result = run(args.events)
    print(format_result(result))
    write_section("aws_calls", result)
    return 0 if result["target_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
