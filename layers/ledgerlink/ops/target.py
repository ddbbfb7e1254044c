"""Resolve where operator commands act: the local stack or a deployed CloudFormation stack."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from ledgerlink import settings, wiring
from ledgerlink.errors import ConfigError
from ledgerlink.store import clients

LOCAL_STATE = Path(".ledgerlink/local")
STACK_FILE = "stack.json"

# CloudFormation output → the settings variable it fills (infra/stacks/ledgerlink_stack.py names them).
OUTPUT_ENV: dict[str, str] = {
    "ConfigTableName": settings.CONFIG_TABLE,
    "InboxTableName": settings.INBOX_TABLE,
    "LedgerTableName": settings.LEDGER_TABLE,
    "ExceptionsTableName": settings.EXCEPTIONS_TABLE,
    "TotalsTableName": settings.TOTALS_TABLE,
    "LimiterTableName": settings.LIMITER_TABLE,
    "AuditTableName": settings.AUDIT_TABLE,
    "ArchiveBucketName": settings.ARCHIVE_BUCKET,
    "ReportsBucketName": settings.REPORTS_BUCKET,
    "BooksUri": settings.BOOKS_URI,
    "LegacyFilesUri": settings.LEGACY_FILES_URI,
    "InboundQueueUrl": settings.INBOUND_QUEUE_URL,
    "InboundDlqUrl": settings.INBOUND_DLQ_URL,
    "StateMachineArn": settings.STATE_MACHINE_ARN,
    "HappyPathStateMachineArn": settings.HAPPY_PATH_STATE_MACHINE_ARN,
    "RevenueTableName": settings.REVENUE_TABLE,
}


@dataclass(frozen=True)
class Target:
    name: str                       # "local" or the stack name
    environment: dict[str, str]     # settings variables (resource names), plus the endpoint for local
    webhook_base: str | None = None
    api_base_url: str | None = None  # local: the fake vendor APIs every source's api.base_url points at

    def activate(self) -> None:
        """Point the library's settings and boto3 clients at this target (this process only)."""
        os.environ.update(self.environment)
        if self.name == "local":
            os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
            os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
            os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        wiring.reset()
        clients.reset()

    def get(self, variable: str) -> str:
        try:
            return self.environment[variable]
        except KeyError:
            raise ConfigError(f"target {self.name} does not define {variable}") from None


def write_local_target(state_dir: Path, *, endpoint: str, environment: dict[str, str], webhook_base: str,
                       api_base_url: str | None = None) -> Path:
    path = state_dir / STACK_FILE
    path.write_text(json.dumps({"endpoint": endpoint, "environment": environment, "webhook_base": webhook_base,
                                "api_base_url": api_base_url}, indent=2))
    return path


def load_target(stack: str | None = None, state_dir: Path = LOCAL_STATE) -> Target:
    if stack:
        return _aws_target(stack)
    path = state_dir / STACK_FILE
    if not path.exists():
        raise ConfigError(f"no_local_stack: no local stack found ({path} is missing): start one with `ledgerlink "
                          "local up` (`--state-dir .ledgerlink/demo` opens the demo's) or name a deployed stack with "
                          "--stack NAME")
    try:
        data = json.loads(path.read_text())
        environment = {**data["environment"], "AWS_ENDPOINT_URL": data["endpoint"]}
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"stack_file_unreadable: {path} is not a stack file `ledgerlink local up` wrote "
                          f"({type(exc).__name__}): start the local stack again, which rewrites it") from None
    return Target("local", environment, data.get("webhook_base"), data.get("api_base_url"))


def _aws_target(stack: str) -> Target:
    response = clients.client("cloudformation").describe_stacks(StackName=stack)
    outputs = {item["OutputKey"]: item["OutputValue"] for item in response["Stacks"][0].get("Outputs", [])}
    environment = {variable: outputs[name] for name, variable in OUTPUT_ENV.items() if name in outputs}
    missing = sorted(set(OUTPUT_ENV) - set(outputs))
    if missing:
        raise ConfigError(f"stack_outputs_missing: stack {stack} lacks outputs {missing}: is it a LedgerLink stack "
                          "of this version? (deploy this version, or use the CLI of the deployed one)")
    return Target(stack, environment, outputs.get("WebhookUrl"))
