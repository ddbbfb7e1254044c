"""The configuration model of a legacy GL import-file connection."""

import re
from typing import Literal

from pydantic import Field

from ledgerlink.config.base import ConfigModel
from ledgerlink.model.base import Identifier


class LegacyFileConnection(ConfigModel):
    """A legacy GL's import file: one CSV or fixed-width file per entity and accounting day, with a control-total
    trailer, written to the legacy-files location (S3 on AWS, a directory locally)."""

    id: Identifier
    kind: Literal["legacy_file"]
    format: Literal["csv", "fixed_width"] = "csv"
    prefix: Identifier = Field(default="gl", description="folder under the legacy-files location")
    company_code: str = Field(default="LL", pattern=r"^[A-Z0-9]{1,8}$", description="first field of every record")

    def account_problem(self, account: str) -> str | None:
        width = 20 if self.format == "fixed_width" else 100   # the fixed-width account field is 20 characters
        if re.fullmatch(r"[A-Za-z0-9.:_\-]+", account) and len(account) <= width:
            return None
        return f"{account!r} does not fit a legacy GL account field (1-{width} of A-Z a-z 0-9 . : _ -)"
