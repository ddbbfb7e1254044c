"""Deployment options read from CDK context (cdk.json, ``-c key=value``); nothing else is consulted.

Synth makes no AWS or git calls: the stack is environment-agnostic and everything it needs is in the
repository (the config file, the functions, the layer build).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from constructs import Node

from ledgerlink.clock import now as clock_now

REPO = Path(__file__).resolve().parents[1]
STAGES = ("dev", "prod")
ARCHITECTURES = ("arm64", "x86_64")
DEFAULT_CONFIG = "config/ledgerlink.example.yaml"


@dataclass(frozen=True, slots=True)
class Slos:
    """Service-level objectives the alarms enforce (context keys in parentheses, defaults below)."""

    posting_latency_p95_seconds: int = 900        # webhook received → posted in the ERP (slo_posting_latency_seconds)
    exception_rate_percent: float = 2.0           # exceptions opened / documents posted, per hour (slo_exception_rate_percent)
    reconciliation_max_age_hours: int = 26        # a daily reconciliation must complete (slo_reconciliation_max_age_hours)
    reconcile_local_time: str = "02:30"           # when each entity's day is reconciled, in its time zone (reconcile_time)

    @classmethod
    def from_mapping(cls, context: dict[str, Any]) -> Slos:
        defaults = cls()
        try:
            slos = cls(
                posting_latency_p95_seconds=int(context.get("slo_posting_latency_seconds")
                                                or defaults.posting_latency_p95_seconds),
                exception_rate_percent=float(context.get("slo_exception_rate_percent")
                                             or defaults.exception_rate_percent),
                reconciliation_max_age_hours=int(context.get("slo_reconciliation_max_age_hours")
                                                 or defaults.reconciliation_max_age_hours),
                reconcile_local_time=str(context.get("reconcile_time") or defaults.reconcile_local_time),
            )
        except ValueError as exc:
            raise OptionsError(f"SLO context values must be numbers: {exc}") from None
        hour, _, minute = slos.reconcile_local_time.partition(":")
        if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
            raise OptionsError(f"context 'reconcile_time' must be HH:MM, not {slos.reconcile_local_time!r}")
        return slos


class OptionsError(ValueError):
    """A context value is missing or invalid (the message names the key and the allowed values)."""


# Object Lock retention (governance mode) when the context names none: prod keeps the evidence seven years
# (the usual retention of accounting records); dev one day, so a torn-down dev stack's buckets can be emptied.
DEFAULT_RETENTION_DAYS = {"prod": 2555, "dev": 1}
MAX_RETENTION_DAYS = 36_500               # S3's limit for a default retention period (100 years)
DEFAULT_WAF_RATE_LIMIT = 3000             # requests per source IP per 5 minutes (WAF's rate-based window)

# Operator roles (RBAC) → the context key naming who may assume each (comma-separated IAM ARNs or account ids).
# ``operator_principals`` names them all at once: {"ops_reader": [ARN, ...], ...} (a mapping in cdk.json, JSON
# text with ``-c``). A role named by neither trusts only MFA-authenticated principals of this account.
OPERATOR_ROLES = {
    "ops_reader": "ops_readers",
    "exception_resolver": "exception_resolvers",
    "replay_operator": "replay_operators",
    "mapping_admin": "mapping_admins",
}
OPERATOR_PRINCIPALS = "operator_principals"
# An account id or root ARN (its IAM users, with MFA), an IAM user (with MFA) or role ARN, path included
# (IAM Identity Center: role/aws-reserved/sso.amazonaws.com/<region>/AWSReservedSSO_<set>_<suffix>); a role
# ARN may end its name with "*" wildcards (the suffix Identity Center generates), never in the account.
_PRINCIPAL = re.compile(r"^(\d{12}|arn:aws[a-z-]*:iam::\d{12}:(root|user/[\w+=,.@/-]+|role/[\w+=,.@/*-]+))$")


@dataclass(frozen=True, slots=True)
class Protection:
    """Object Lock retention, the WAF and who may assume the operator roles (context keys in parentheses)."""

    archive_retention_days: int            # raw archive bucket (archive_retention_days)
    audit_retention_days: int              # audit bucket (audit_retention_days)
    waf: bool = False                      # a WAF web ACL in front of both APIs (waf; default on in prod)
    waf_rate_limit: int = DEFAULT_WAF_RATE_LIMIT   # per source IP per 5 minutes (waf_rate_limit)
    # role → principals (operator_principals or the per-role keys); empty means "MFA-authenticated principals
    # of this account that its IAM policies allow to assume the role" (see OperatorRoles)
    operators: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, context: dict[str, Any], stage: str) -> Protection:
        return cls(
            archive_retention_days=_days(context, "archive_retention_days", DEFAULT_RETENTION_DAYS[stage]),
            audit_retention_days=_days(context, "audit_retention_days", DEFAULT_RETENTION_DAYS[stage]),
            waf=_flag(context, "waf", default=stage == "prod"),
            waf_rate_limit=_number(context, "waf_rate_limit", DEFAULT_WAF_RATE_LIMIT, low=100, high=2_000_000_000),
            operators=_operators(context),
        )


def _number(context: Mapping[str, object], key: str, default: int, *, low: int, high: int) -> int:
    raw = context.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise OptionsError(f"context '{key}' must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise OptionsError(f"context '{key}' must be between {low} and {high}, not {value}")
    return value


def _days(context: Mapping[str, object], key: str, default: int) -> int:
    return _number(context, key, default, low=1, high=MAX_RETENTION_DAYS)


def _flag(context: Mapping[str, object], key: str, *, default: bool = False) -> bool:
    raw = context.get(key)
    if raw is None or raw == "":
        return default
    if raw is False:
        return False
    if raw is True:
        return True
    text = str(raw).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise OptionsError(f"context '{key}' must be true or false, not {raw!r}")


def _principals(raw: Any, key: str) -> tuple[str, ...]:
    if raw is None or raw == "":
        return ()
    items = raw if isinstance(raw, list | tuple) else str(raw).split(",")
    principals = tuple(dict.fromkeys(str(item).strip() for item in items if str(item).strip()))
    for principal in principals:
        if not _PRINCIPAL.match(principal):
            raise OptionsError(f"context '{key}': {principal!r} is not an AWS account id or an IAM role, user or "
                               "root ARN")
        if "*" in principal and not principal.rsplit("/", 1)[1].strip("*"):
            raise OptionsError(f"context '{key}': {principal!r} would match every role under its path; name the "
                               "role (e.g. .../AWSReservedSSO_FinanceOps_*)")
    return principals


def _operators(context: dict[str, Any]) -> dict[str, tuple[str, ...]]:
    """Who may assume each operator role: ``operator_principals`` (role → ARNs) or the per-role keys."""
    raw = context.get(OPERATOR_PRINCIPALS)
    if raw is None or raw == "":
        raw = {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise OptionsError(f"context '{OPERATOR_PRINCIPALS}' must be a JSON object of role → ARNs: {exc}") from None
    if not isinstance(raw, dict):
        raise OptionsError(f"context '{OPERATOR_PRINCIPALS}' must map operator roles to ARNs, not {raw!r}")
    unknown = sorted(set(raw) - set(OPERATOR_ROLES))
    if unknown:
        raise OptionsError(f"context '{OPERATOR_PRINCIPALS}': no operator role {', '.join(map(repr, unknown))} "
                           f"(roles: {', '.join(OPERATOR_ROLES)})")
    operators = {}
    for role, key in OPERATOR_ROLES.items():
        mapped = _principals(raw.get(role), f"{OPERATOR_PRINCIPALS}.{role}")
        listed = _principals(context.get(key), key)
        if mapped and listed:
            raise OptionsError(f"context names the {role} principals twice ('{OPERATOR_PRINCIPALS}' and '{key}'); "
                               "keep one")
        operators[role] = mapped or listed
    return operators


@dataclass(frozen=True, slots=True)
class DeploymentOptions:
    stage: Literal["dev", "prod"]
    arch: Literal["arm64", "x86_64"]
    config_path: Path
    # When the seeded configuration version says it was applied: the synth time unless pinned by
    # context ``config_applied_at`` or SOURCE_DATE_EPOCH (reproducible builds); see decisions-infra.md.
    config_applied_at: str
    slos: Slos = field(default_factory=lambda: Slos())
    protection: Protection = field(default_factory=lambda: Protection.from_mapping({}, "dev"))

    @property
    def is_prod(self) -> bool:
        return self.stage == "prod"

    @property
    def stack_name(self) -> str:
        return f"LedgerLink-{self.stage}"

    @classmethod
    def from_node(cls, node: Node) -> DeploymentOptions:
        return cls.from_mapping({key: node.try_get_context(key) for key in
                                 ("stage", "arch", "config", "config_applied_at", "slo_posting_latency_seconds",
                                  "slo_exception_rate_percent", "slo_reconciliation_max_age_hours",
                                  "reconcile_time", *CONTEXT_KEYS)})

    @classmethod
    def from_mapping(cls, context: dict[str, Any]) -> DeploymentOptions:
        stage = str(context.get("stage") or "dev")
        if stage not in STAGES:
            raise OptionsError(f"context 'stage' must be one of {', '.join(STAGES)}, not {stage!r}")
        arch = str(context.get("arch") or "arm64")
        if arch not in ARCHITECTURES:
            raise OptionsError(f"context 'arch' must be one of {', '.join(ARCHITECTURES)}, not {arch!r}")
        config_path = Path(str(context.get("config") or DEFAULT_CONFIG))
        if not config_path.is_absolute():
            config_path = REPO / config_path
        if not config_path.is_file():
            raise OptionsError(f"context 'config': no such file {config_path}")
        return cls(stage=stage, arch=arch, config_path=config_path,  # type: ignore[arg-type]
                   config_applied_at=str(context.get("config_applied_at") or _synth_time()),
                   slos=Slos.from_mapping(context), protection=Protection.from_mapping(context, stage))


# Context keys read by Protection (the stack reads no other source of settings).
CONTEXT_KEYS = ("archive_retention_days", "audit_retention_days", "waf", "waf_rate_limit", OPERATOR_PRINCIPALS,
                *OPERATOR_ROLES.values())


def _synth_time() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else clock_now()
    return moment.isoformat(timespec="seconds")
