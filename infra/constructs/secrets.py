"""Secrets Manager secrets per configured source: its webhook signing secret (``signing_secret.secret_id``) and,
for sources LedgerLink calls back (Ramp, HubSpot, SAP Concur, Adyen reports, Expensify), its API credentials
(``api.credentials`` / ``reports.credentials``).

The stack creates each secret with a generated placeholder; the operator pastes the provider's value
(``whsec_...`` or ``{"secrets": ["new", "old"]}`` during a rotation; a JSON object for API credentials) after the
first deploy. Values never appear in the template, env vars or logs. Ingest may read only signing secrets; the
normalize step (fetch) and the poller only the API credentials of their sources.
"""

from __future__ import annotations

import re

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.compliance import acknowledge
from ledgerlink.config.model import LedgerLinkConfig
from ledgerlink.config.sources import api_credentials
from ledgerlink.connectors.sources import POLLED_KINDS


def pascal(identifier: str) -> str:
    """``stripe-eu.v2`` → ``StripeEuV2`` (construct ids and output names)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", identifier) if part)


class SourceSecrets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: LedgerLinkConfig, key: kms.IKey,
                 prod: bool) -> None:
        super().__init__(scope, construct_id)
        signed = [source for source in config.sources if source.signing_secret is not None]  # bank files: none
        self.names = {source.id: source.signing_secret.secret_id for source in signed}
        self.by_source: dict[str, secretsmanager.ISecret] = {}
        for source in signed:
            secret_id = source.signing_secret.secret_id
            if secret_id.startswith("arn:"):
                # An existing secret named by ARN: granted to ingest, not created (its key is the owner's
                # business: it must let this account's ingest role decrypt through Secrets Manager).
                self.by_source[source.id] = secretsmanager.Secret.from_secret_complete_arn(
                    self, pascal(source.id), secret_id)
            else:
                self.by_source[source.id] = self._build_secret(source.id, secret_id, source.kind, key, prod)
        # API credentials: fetched by normalize (webhook sources) or used by the poller (polled sources)
        self.api_names: dict[str, str] = {}
        self.api_by_source: dict[str, secretsmanager.ISecret] = {}
        for source in config.sources:
            credentials = api_credentials(source)
            if credentials is None:
                continue
            self.api_names[source.id] = credentials.secret_id
            if credentials.secret_id.startswith("arn:"):
                self.api_by_source[source.id] = secretsmanager.Secret.from_secret_complete_arn(
                    self, f"{pascal(source.id)}Api", credentials.secret_id)
            else:
                self.api_by_source[source.id] = self._build_secret(
                    source.id, credentials.secret_id, source.kind, key, prod, api=True)
        self.polled = {source.id for source in config.sources if source.kind in POLLED_KINDS}

    @property
    def secrets(self) -> list[secretsmanager.ISecret]:
        """Webhook signing secrets (ingest)."""
        return list(self.by_source.values())

    @property
    def fetch_credentials(self) -> list[secretsmanager.ISecret]:
        """API credentials of webhook sources (the normalize step fetches what their notifications name)."""
        return [secret for source, secret in self.api_by_source.items() if source not in self.polled]

    @property
    def poll_credentials(self) -> list[secretsmanager.ISecret]:
        """API credentials of polled sources (the poller)."""
        return [secret for source, secret in self.api_by_source.items() if source in self.polled]

    def _build_secret(self, source_id: str, name: str, kind: str, key: kms.IKey, prod: bool, *,
                      api: bool = False) -> secretsmanager.Secret:
        what = ("API credentials (JSON; keys per the source kind's docs)" if api else "webhook signing secret")
        secret = secretsmanager.Secret(
            self, pascal(source_id) + ("Api" if api else ""),
            secret_name=name,
            description=f"LedgerLink {what} of source '{source_id}' ({kind}). Replace the "
                        "generated placeholder with the provider's value after the first deploy.",
            encryption_key=key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=48, exclude_punctuation=True),
            removal_policy=RemovalPolicy.RETAIN if prod else RemovalPolicy.DESTROY,
        )
        if api:
            acknowledge(secret, "SMG4", "Vendor API credentials (OAuth client, private-app token, report user) are "
                                        "issued and rotated in the vendor's console, not by AWS; the operator "
                                        "stores the new value and sessions re-read it when the old one is refused.")
        else:
            acknowledge(secret, "SMG4", "Webhook signing secrets are issued and rotated by the provider (e.g. the "
                                        "Stripe dashboard), not generated by AWS; the operator stores the new value "
                                        "and ingest accepts old and new side by side during the overlap.")
        return secret
