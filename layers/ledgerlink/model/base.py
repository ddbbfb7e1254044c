"""The one pydantic base for canonical models, and reusable annotated field types."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints


class Schema(BaseModel):
    """Canonical models are immutable, reject unknown fields and validate defaults."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True, defer_build=True)


NonEmptyStr = Annotated[str, StringConstraints(min_length=1, max_length=512, strip_whitespace=True)]
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}$")]
