"""The operator commands behind the CLI, each acting on a :class:`~ledgerlink.ops.target.Target`."""

from __future__ import annotations

import getpass
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from ledgerlink import settings, wiring
from ledgerlink.clock import now as clock_now
from ledgerlink.ops.dlq import DlqTool, RedriveResult
from ledgerlink.ops.replay import Replayer, ReplayPlan
from ledgerlink.ops.target import Target
from ledgerlink.store import clients
from ledgerlink.store.workflow import running_executions


def actor(target: Target) -> str:
    if target.name == "local":
        return f"local:{getpass.getuser()}"
    try:
        return str(clients.client("sts").get_caller_identity()["Arn"])
    except Exception:
        return "unknown"


def audit(target: Target, action: str, subject: str, detail: dict[str, object]) -> None:
    from ledgerlink.store.audit import DynamoAudit

    DynamoAudit(target.get(settings.AUDIT_TABLE)).record(action, actor=actor(target), subject=subject, detail=detail)


def _as_deployed(target: Target, config: Any) -> Any:
    """The local stack serves the vendor APIs from its fakes: a file applied there keeps pointing at them."""
    if target.api_base_url:
        from ledgerlink.config.model import with_api_base_url

        return with_api_base_url(config, target.api_base_url)
    return config


def config_diff(target: Target, config: Any) -> tuple[int | None, list[Any]]:
    """(active version or None, the changes ``config`` would make to it)."""
    from ledgerlink.config.changes import diff
    from ledgerlink.errors import ConfigError
    from ledgerlink.store.config_store import DynamoConfigStore

    target.activate()
    config = _as_deployed(target, config)
    store = DynamoConfigStore(target.get(settings.CONFIG_TABLE), cache_seconds=0)
    try:
        version, body = store.active_raw()
    except ConfigError as error:
        if error.reason != "config_missing":
            raise
        version, body = None, None
    return version, diff(body, config.model_dump(mode="json"))


def config_apply(target: Target, config: Any, *, applied_by: str | None = None) -> dict[str, Any]:
    """Store ``config`` as the new active version, with its change summary, and audit who/when/what."""
    import json

    from ledgerlink.config.changes import summary
    from ledgerlink.config.loader import config_hash
    from ledgerlink.store.config_store import DynamoConfigStore

    config = _as_deployed(target, config)
    previous, changes = config_diff(target, config)
    who = applied_by or actor(target)
    changed_summary = summary(changes)
    version, changed = DynamoConfigStore(target.get(settings.CONFIG_TABLE)).apply(
        config, applied_by=who, content_hash=config_hash(config), changes=changed_summary)
    if changed:
        audit(target, "config_apply", f"config/v{version}",
              {"version": version, "previous_version": previous or 0, "content_hash": config_hash(config),
               "applied_by": who, "changes": json.dumps(changed_summary, sort_keys=True, default=str)})
    return {"version": version, "previous_version": previous, "changed": changed, "applied_by": who,
            "changes": changed_summary}


def config_history(target: Target) -> list[dict[str, Any]]:
    from ledgerlink.store.config_store import DynamoConfigStore

    target.activate()
    return DynamoConfigStore(target.get(settings.CONFIG_TABLE)).history()


def reconcile(target: Target, business_date: str, entity: str | None) -> Any:
    target.activate()
    report = wiring.reconciler().run(business_date, [entity] if entity else None)
    audit(target, "reconcile", f"{business_date}/{entity or 'all'}",
          {"status": report.status, "differences": len(report.differences), "report_key": report.report_key})
    return report


def status(target: Target) -> dict[str, Any]:
    from ledgerlink.store.control_totals import DynamoControlTotals
    from ledgerlink.store.exceptions import DynamoExceptions

    target.activate()
    sqs = clients.client("sqs")
    depths = {}
    for label, variable in (("inbound", settings.INBOUND_QUEUE_URL), ("inbound-dlq", settings.INBOUND_DLQ_URL)):
        attributes = sqs.get_queue_attributes(QueueUrl=target.get(variable), AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        depths[label] = {"visible": int(attributes["ApproximateNumberOfMessages"]),
                         "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"])}
    cases = DynamoExceptions(target.get(settings.EXCEPTIONS_TABLE)).list("open")
    summaries = DynamoControlTotals(target.get(settings.TOTALS_TABLE)).latest_summaries(1)
    return {"target": target.name, "queues": depths,
            "running_executions": len(running_executions(target.get(settings.STATE_MACHINE_ARN))),
            "happy_path": happy_path_activity(target.get(settings.HAPPY_PATH_STATE_MACHINE_ARN)),
            "open_exceptions": len(cases), "open_exceptions_by_reason": dict(Counter(c["reason"] for c in cases)),
            "last_reconciliation": summaries[0] if summaries else None}


# the Express machine's CloudWatch metrics (namespace AWS/States, dimension StateMachineArn) → status keys
HAPPY_PATH_METRICS = {"started": "ExecutionsStarted", "succeeded": "ExecutionsSucceeded",
                      "failed": "ExecutionsFailed", "timed_out": "ExecutionsTimedOut", "aborted": "ExecutionsAborted"}


def happy_path_activity(state_machine_arn: str, *, now: datetime | None = None) -> dict[str, int | dict[str, int]]:
    """What the Express happy path (D76) is doing. The local stack lists its running executions; AWS refuses
    ListExecutions on an Express machine (``StateMachineTypeNotSupported``) and keeps no history of them, so on AWS
    this is the machine's own CloudWatch execution counts over the last hour (sums of one-minute periods)."""
    try:
        return {"running": len(running_executions(state_machine_arn))}
    except ClientError as error:
        if error.response["Error"]["Code"] != "StateMachineTypeNotSupported":
            raise
    end = now or clock_now()
    response = clients.client("cloudwatch").get_metric_data(
        StartTime=end - timedelta(hours=1), EndTime=end, MetricDataQueries=[
            {"Id": key, "ReturnData": True, "MetricStat": {"Period": 60, "Stat": "Sum", "Metric": {
                "Namespace": "AWS/States", "MetricName": name,
                "Dimensions": [{"Name": "StateMachineArn", "Value": state_machine_arn}]}}}
            for key, name in HAPPY_PATH_METRICS.items()])
    sums = {result["Id"]: int(sum(result["Values"])) for result in response["MetricDataResults"]}
    return {"last_hour": {key: sums.get(key, 0) for key in HAPPY_PATH_METRICS}}


def dlq_tool(target: Target) -> DlqTool:
    from ledgerlink.store.inbox import DynamoInbox

    target.activate()
    inbox = DynamoInbox(target.get(settings.INBOX_TABLE), totals_table=target.get(settings.TOTALS_TABLE))
    return DlqTool(clients.client("sqs"), dlq_url=target.get(settings.INBOUND_DLQ_URL),
                   source_url=target.get(settings.INBOUND_QUEUE_URL), claims=inbox.get)


def dlq_redrive(target: Target, *, dry_run: bool) -> RedriveResult:
    result = dlq_tool(target).redrive(dry_run=dry_run)
    if not dry_run:
        audit(target, "dlq_redrive", target.get(settings.INBOUND_DLQ_URL),
              {"mode": result.mode, "moved": result.moved, "task_handle": result.task_handle or ""})
    return result


def replayer(target: Target) -> Replayer:
    from ledgerlink.store.archive import S3Archive
    from ledgerlink.store.config_store import DynamoConfigStore
    from ledgerlink.store.inbox import DynamoInbox
    from ledgerlink.store.ledger import DynamoLedger
    from ledgerlink.store.queue import SqsQueue

    target.activate()
    totals = target.get(settings.TOTALS_TABLE)
    return Replayer(config=DynamoConfigStore(target.get(settings.CONFIG_TABLE)).active,
                    archive=S3Archive(target.get(settings.ARCHIVE_BUCKET)),
                    ledger=DynamoLedger(target.get(settings.LEDGER_TABLE), totals_table=totals),
                    inbox=DynamoInbox(target.get(settings.INBOX_TABLE), totals_table=totals),
                    queue=SqsQueue(target.get(settings.INBOUND_QUEUE_URL)))


def replay(target: Target, *, document_id: str | None = None, start: date | None = None, end: date | None = None,
           source_id: str | None = None, config_version: int | None = None, dry_run: bool = False,
           on_sent: Any = None) -> tuple[ReplayPlan, int]:
    tool = replayer(target)
    if document_id:
        plan = tool.plan_document(document_id, config_version=config_version)
    else:
        assert start is not None and end is not None
        plan = tool.plan_range(start, end, source_id=source_id, config_version=config_version)
    sent = 0 if dry_run else tool.execute(plan, on_sent=on_sent)
    if not dry_run:
        audit(target, "replay", document_id or f"{start}..{end}/{source_id or 'all'}",
              {"messages": sent, "config_version": config_version if config_version is not None else "active",
               "skipped": len(plan.skipped)})
    return plan, sent
