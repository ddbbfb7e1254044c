"""One Secrets Manager secret per ERP connection that calls an API (``credentials.secret_id``): OAuth 2.0 client
credentials and refresh token (QuickBooks Online, Xero, Business Central) or NetSuite token-based-auth keys.

The stack creates each with a generated placeholder; the operator stores the connection's JSON credentials
after the first deploy (keys per kind in ``ledgerlink.config.erps``). QuickBooks and Xero rotate refresh tokens
on every refresh, so the post and flush functions may *write* a new version (``PutSecretValue``) — which is
also why Secrets Manager's own rotation is not configured here. Values never appear in the template, env
vars or logs.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.compliance import acknowledge
from infra.constructs.secrets import pascal
from ledgerlink.config.model import LedgerLinkConfig


class ErpSecrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: LedgerLinkConfig, key: kms.IKey,
                 prod: bool) -> None:
        super().__init__(scope, construct_id)
        self.by_connection: dict[str, secretsmanager.ISecret] = {}
        for connection in config.erp_connections:
            credentials = getattr(connection, "credentials", None)
            if credentials is None:
                continue   # the Beancount book and legacy files need no credentials
            secret_id = credentials.secret_id
            if secret_id.startswith("arn:"):
                self.by_connection[connection.id] = secretsmanager.Secret.from_secret_complete_arn(
                    self, pascal(connection.id), secret_id)
            else:
                self.by_connection[connection.id] = self._build_secret(connection.id, connection.kind, secret_id,
                                                                       key, prod)

    @property
    def secrets(self) -> list[secretsmanager.ISecret]:
        return list(self.by_connection.values())

    def _build_secret(self, connection_id: str, kind: str, name: str, key: kms.IKey,
                      prod: bool) -> secretsmanager.Secret:
        secret = secretsmanager.Secret(
            self, pascal(connection_id),
            secret_name=name,
            description=f"LedgerLink credentials of ERP connection '{connection_id}' ({kind}). Replace the "
                        "generated placeholder with the connection's JSON credentials after the first deploy.",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(password_length=48, exclude_punctuation=True),
            removal_policy=RemovalPolicy.RETAIN if prod else RemovalPolicy.DESTROY,
        )
        acknowledge(secret, "SMG4", "ERP credentials are issued by the ERP (an app connection or token-based-auth "
                                    "token); OAuth refresh tokens are rotated by the ERP on every refresh and "
                                    "LedgerLink writes each new one back, so a Secrets Manager rotation Lambda "
                                    "would only break the connection.")
        return secret
