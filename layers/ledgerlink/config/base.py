"""Base class and shared field types of the configuration models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ConfigModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SecretRef(ConfigModel):
    """A Secrets Manager secret (name or ARN). Values never appear in config, env vars or logs."""

    secret_id: str = Field(min_length=1, max_length=2048)
