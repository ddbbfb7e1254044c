"""The core Lambda layer: the ``ledgerlink`` library and its pinned dependencies, built without Docker.

``layers.build`` produces ``build/layer/<arch>-<digest>/python/`` (building it first in a clean clone);
the digest is the asset hash, so an unchanged layer is neither re-fingerprinted nor re-uploaded.
"""

from __future__ import annotations

from aws_cdk import AssetHashType
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from layers.build import ensure_layer

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}


class CoreLayer(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, arch: str) -> None:
        super().__init__(scope, construct_id)
        build = ensure_layer(arch)
        self.build = build
        self.layer = lambda_.LayerVersion(
            self, "Layer",
            code=lambda_.Code.from_asset(str(build.path), asset_hash_type=AssetHashType.CUSTOM,
                                         asset_hash=f"ledgerlink-core-{build.arch}-{build.digest}"),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURES[arch]],
            description=f"LedgerLink core library + pinned dependencies ({arch}, {build.digest}); "
                        "boto3 comes from the runtime",
        )
