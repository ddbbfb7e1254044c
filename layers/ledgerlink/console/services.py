"""What the console's pages call: the same services as the ops API and the CLI, built once per container."""

from __future__ import annotations

import os
from functools import cache, cached_property
from typing import TYPE_CHECKING

from ledgerlink import settings

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
    def target(self) -> Target:
        """This deployment as the operator commands address one (its resource names, from the environment)."""
        from ledgerlink.ops.target import OUTPUT_ENV, Target

        names = {variable: os.environ[variable] for variable in OUTPUT_ENV.values() if os.environ.get(variable)}
        return Target("console", names)


@cache
def console_services() -> ConsoleServices:
    return ConsoleServices(settings.read_settings(settings.ConsoleSettings))
