"""What the console's pages call: the same services as the ops API and the CLI, built once per container."""

from __future__ import annotations

import os
from functools import cache, cached_property
from typing import TYPE_CHECKING

from ledgerlink import settings
from ledgerlink.ops.dlq import DlqTool
from ledgerlink.ops.replay import Replayer

if TYPE_CHECKING:
    from ledgerlink.console.auth import CognitoAuth
    from ledgerlink.ops.target import Target
    from ledgerlink.service.exceptions import ExceptionsService
    from ledgerlink.service.ops import OpsServices
    from ledgerlink.store.archive import S3Archive
    from ledgerlink.store.audit import DynamoAudit


class ConsoleServices:
    def __init__(self, values: settings.ConsoleSettings) -> None:
        self.settings = values

    @cached_property
    def auth(self) -> CognitoAuth:
        from ledgerlink.console.auth import CognitoAuth

        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        return CognitoAuth(user_pool_id=self.settings.user_pool_id, client_id=self.settings.client_id,
                           region=region, endpoint_url=os.environ.get("AWS_ENDPOINT_URL") or None)

    @cached_property
    def ops(self) -> OpsServices:
        from ledgerlink import wiring

        return wiring.ops_services()

    @property
    def exceptions(self) -> ExceptionsService:
        service: ExceptionsService = self.ops.exceptions
        return service

    @cached_property
    def audit(self) -> DynamoAudit:
        from ledgerlink.store.audit import DynamoAudit

        return DynamoAudit(self.settings.audit_table)

    @cached_property
    def archive(self) -> S3Archive:
        from ledgerlink.store.archive import S3Archive

        return S3Archive(self.settings.archive_bucket)

    @cached_property
    def dlq(self) -> DlqTool:
        tool, _ = _ops_tools(self.settings)
        assert isinstance(tool, DlqTool)
        return tool

    @cached_property
    def replayer(self) -> Replayer:
        _, replayer = _ops_tools(self.settings)
        assert isinstance(replayer, Replayer)
        return replayer

    @cached_property
    def target(self) -> Target:
        """This deployment as the operator commands address one (its resource names, from the environment)."""
        from ledgerlink.ops.target import OUTPUT_ENV, Target

        names = {variable: os.environ[variable] for variable in OUTPUT_ENV.values() if os.environ.get(variable)}
        return Target("console", names)


@cache
def console_services() -> ConsoleServices:
    return ConsoleServices(settings.read_settings(settings.ConsoleSettings))


def _ops_tools(values: settings.ConsoleSettings) -> tuple[object, object]:
    """The DLQ tool and the replayer, built from this deployment's settings (no ``Target.activate``: the console
    runs beside other functions in one process locally, and must not repoint their clients)."""
    from ledgerlink import wiring
    from ledgerlink.ops.dlq import DlqTool
    from ledgerlink.ops.replay import Replayer
    from ledgerlink.store.archive import S3Archive
    from ledgerlink.store.clients import client
    from ledgerlink.store.inbox import DynamoInbox
    from ledgerlink.store.ledger import DynamoLedger
    from ledgerlink.store.queue import SqsQueue

    inbox = DynamoInbox(values.inbox_table, totals_table=values.totals_table)
    dlq = DlqTool(client("sqs"), dlq_url=values.inbound_dlq_url, source_url=values.inbound_queue_url,
                  claims=inbox.get)
    replayer = Replayer(config=wiring.config_reader().active, archive=S3Archive(values.archive_bucket),
                        ledger=DynamoLedger(values.ledger_table, totals_table=values.totals_table), inbox=inbox,
                        queue=SqsQueue(values.inbound_queue_url))
    return dlq, replayer
