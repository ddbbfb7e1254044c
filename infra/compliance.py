"""cdk-nag 3 wiring: the AwsSolutions pack and acknowledgements that always carry a reason.

Acknowledgements use the plugin-qualified id (``AwsSolutions::AwsSolutions-IAM5[Resource::...]``): the
CDK validation engine then records each acknowledged finding, with its reason and the construct that
acknowledged it, under ``suppressedViolations`` in ``cdk.out/validation-report.json`` (the audit
trail ``infra.summary`` prints). Unacknowledged findings fail the synth.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, CfnElement, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

PACK = "AwsSolutions"


def add_checks(app: App) -> None:
    Validations.of(app).add_plugins(AwsSolutionsChecks(app, verbose=True))


def acknowledge(scope: IConstruct, rule: str, reason: str, *, finding: str | None = None) -> None:
    """Acknowledge ``AwsSolutions-<rule>`` (one ``finding`` of it, if given) on ``scope`` and below."""
    if len(reason.split()) < 6:
        raise ValueError(f"acknowledging {rule} needs a real reason, not {reason!r}")
    rule_id = f"{PACK}-{rule}" + (f"[{finding}]" if finding else "")
    Validations.of(scope).acknowledge(Acknowledgment(id=f"{PACK}::{rule_id}", reason=reason))


def logical_id(construct: IConstruct) -> str:
    """The logical id of ``construct``'s CloudFormation resource, as cdk-nag spells it in finding ids."""
    stack = Stack.of(construct)
    element = construct if isinstance(construct, CfnElement) else construct.node.default_child
    return stack.resolve(stack.get_logical_id(element))
