"""Deployment options read from CDK context (cdk.json, ``-c key=value``); nothing else is consulted.

Synth makes no AWS or git calls: the stack is environment-agnostic and everything it needs is in the
repository (the config file, the functions, the layer build).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from constructs import Node

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


@dataclass(frozen=True, slots=True)
class DeploymentOptions:
    stage: Literal["dev", "prod"]
    arch: Literal["arm64", "x86_64"]
    config_path: Path
    # When the seeded configuration version says it was applied: the synth time unless pinned by
    # context ``config_applied_at`` or SOURCE_DATE_EPOCH (reproducible builds); see decisions-infra.md.
    config_applied_at: str
    slos: Slos = field(default_factory=lambda: Slos())

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
                                  "reconcile_time")})

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
                   slos=Slos.from_mapping(context))


def _synth_time() -> str:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    moment = datetime.fromtimestamp(int(epoch), UTC) if epoch else datetime.now(UTC)
    return moment.isoformat(timespec="seconds")
