"""Base class and shared field types of the configuration models.

The configuration modules do not use ``from __future__ import annotations``: pydantic would then
evaluate every annotation string at class creation, which costs cold-start time in every Lambda
that imports the models.
"""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


class ConfigModel(BaseModel):
    # defer_build: validators are built when a model is first validated (once for the whole tree under
    # LedgerLinkConfig), not per class at import; a step that never reads the configuration never pays.
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class SecretRef(ConfigModel):
    """A Secrets Manager secret (name or ARN). Values never appear in config, env vars or logs."""

    secret_id: str = Field(min_length=1, max_length=2048)


def time_zone_name(name: str) -> str:
    """An IANA time zone name, checked against the zone database (entities, report dates, close days)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc
    return name


TimeZone = Annotated[str, AfterValidator(time_zone_name)]
