"""What the console's pages call: the same services as the ops API and the CLI, built once per container."""

from __future__ import annotations

import os
from functools import cache, cached_property
from typing import TYPE_CHECKING

from ledgerlink import settings

if TYPE_CHECKING:
    from ledgerlink.console.auth import CognitoAuth
    from ledgerlink.ops.dlq import DlqTool
    from ledgerlink.ops.replay import Replayer
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

    # The DLQ tool and the replayer are built here from this deployment's settings and the ops services' stores, not
    # through ``ops.commands`` (its ``Target.activate`` repoints every client: locally the console shares its process
    # with the other functions).

    @cached_property
    def dlq(self) -> DlqTool:
        from ledgerlink.ops.dlq import DlqTool
        from ledgerlink.store.clients import client

        return DlqTool(client("sqs"), dlq_url=self.settings.inbound_dlq_url,
                       source_url=self.settings.inbound_queue_url, claims=self.ops.inbox.get)

    @cached_property
    def replayer(self) -> Replayer:
        from ledgerlink.ops.replay import Replayer
        from ledgerlink.store.queue import SqsQueue

        return Replayer(config=self.ops.config, archive=self.archive, ledger=self.ops.ledger, inbox=self.ops.inbox,
                        queue=SqsQueue(self.settings.inbound_queue_url))


@cache
def console_services() -> ConsoleServices:
    return ConsoleServices(settings.read_settings(settings.ConsoleSettings))

