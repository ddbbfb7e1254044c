"""Signing secrets for the local stack, so anyone can sign requests with their own tools.

Where a source's secret comes from, first match wins:
1. ``--secrets FILE``: JSON ``{"<source id>": "<secret>"}`` (or a list of secrets during rotation);
2. the environment variable ``LEDGERLINK_LOCAL_SECRET_<SOURCE ID>`` (upper case, ``-`` → ``_``);
3. ``.ledgerlink/local-secrets.json``, generated on first use (mode 0600) and kept between runs.

These are local test secrets stored in moto's Secrets Manager; on AWS the Lambdas read the real ones
from Secrets Manager and no secret value is ever put in an environment variable.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ledgerlink.connectors.sources.local_stack import whsec_secret
from ledgerlink.local.signers import local_source

DEFAULT_FILE = Path(".ledgerlink") / "local-secrets.json"


def env_name(source_id: str) -> str:
    return "LEDGERLINK_LOCAL_SECRET_" + re.sub(r"[^A-Z0-9]", "_", source_id.upper())


@dataclass(frozen=True)
class LocalSecret:
    source_id: str
    values: tuple[str, ...]
    origin: str          # where it came from, printed by `ledgerlink local up`


def _as_values(raw: object) -> tuple[str, ...]:
    if isinstance(raw, str) and raw:
        return (raw,)
    if isinstance(raw, list) and all(isinstance(v, str) and v for v in raw) and raw:
        return tuple(raw)
    raise ValueError("a local secret must be a non-empty string or list of strings")


def generate(kind: str | None) -> str:
    """A fresh local secret in the form the provider issues it (the verifier parses it the same way): the kind's
    ``LOCAL.new_secret``; a ``whsec_`` secret for an unknown kind or none."""
    local = local_source(kind) if kind else None
    return (local.new_secret if local is not None else whsec_secret)()


def resolve(source_ids: list[str], *, secrets_file: Path | None = None,
            default_file: Path = DEFAULT_FILE, kinds: Mapping[str, str] | None = None) -> dict[str, LocalSecret]:
    explicit = json.loads(secrets_file.read_text()) if secrets_file else {}
    stored = json.loads(default_file.read_text()) if default_file.exists() else {}
    resolved: dict[str, LocalSecret] = {}
    generated = False
    for source_id in source_ids:
        if source_id in explicit:
            resolved[source_id] = LocalSecret(source_id, _as_values(explicit[source_id]), str(secrets_file))
        elif os.environ.get(env_name(source_id)):
            resolved[source_id] = LocalSecret(source_id, (os.environ[env_name(source_id)],),
                                              f"${env_name(source_id)}")
        else:
            if source_id not in stored:
                stored[source_id] = generate((kinds or {}).get(source_id))
                generated = True
            resolved[source_id] = LocalSecret(source_id, _as_values(stored[source_id]), str(default_file))
    if generated:
        default_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(default_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle, indent=2)
    return resolved
