"""LedgerLink CDK app (the AWS twin of ``ledgerlink.local.runtime``): ``python -m infra.app``.

``app.py`` builds the app, ``stacks/`` composes, ``constructs/`` holds one construct per part of
the architecture (docs/architecture.md), ``summary.py`` prints what a synth produced.
"""
