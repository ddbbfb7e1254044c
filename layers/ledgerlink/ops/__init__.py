"""Operator tooling behind the ``ledgerlink`` CLI: reconcile, status, DLQ redrive, replay, audit.

Commands act on a *target*: the running local stack (``.ledgerlink/local/stack.json``, written by
``ledgerlink local up``) or a deployed stack (``--stack NAME``: resource names from its CloudFormation
outputs, the operator's own AWS credentials). Not shipped in the Lambda layer.
"""
