"""The CDK app: ``python -m infra.app`` (run by ``cdk synth``; cdk.json names it).

Context: ``stage`` (dev|prod), ``arch`` (arm64|x86_64, default arm64), ``config`` (the reviewed config file,
default config/ledgerlink.example.yaml). The config is validated at synth — an invalid file fails the synth
with the same line-numbered errors as ``ledgerlink config validate``.
"""

from __future__ import annotations

import sys
from typing import Any

from aws_cdk import App, Tags

from infra.compliance import add_checks
from infra.options import DeploymentOptions, OptionsError
from infra.stacks.ledgerlink_stack import LedgerLinkStack
from ledgerlink.config import load_config_file
from ledgerlink.errors import ConfigError


def build_app(context: dict[str, Any] | None = None, outdir: str | None = None) -> tuple[App, LedgerLinkStack]:
    app = App(context=context, outdir=outdir)
    options = DeploymentOptions.from_node(app.node)
    config = load_config_file(options.config_path)
    stack = LedgerLinkStack(
        app, options.stack_name, options=options, config=config,
        description=f"LedgerLink finance-integration middleware ({options.stage}, {options.arch})",
        termination_protection=options.is_prod,
    )
    Tags.of(app).add("project", "ledgerlink")
    Tags.of(app).add("ledgerlink:stage", options.stage)
    add_checks(app)
    return app, stack


def main() -> int:
    try:
        app, _ = build_app()
    except (OptionsError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
