"""ERP connection kinds. Add a connection kind here (one class with ``kind: Literal[...]``) and to the union.

Each class may define ``account_problem(account) -> str | None`` to check account names/ids against
what that ERP accepts; the top-level model calls it for every mapped account of entities on it.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from ledgerlink.config.base import ConfigModel
from ledgerlink.model.base import Identifier

BEANCOUNT_ACCOUNT = re.compile(r"^(Assets|Liabilities|Equity|Income|Expenses)(:[A-Z0-9][A-Za-z0-9\-]*)+$")


class BeancountConnection(ConfigModel):
    """The embedded ERP: a Beancount double-entry book (a directory locally, an S3 prefix on AWS)."""

    id: Identifier
    kind: Literal["beancount"]
    book: Identifier = Field(default="main", description="book name; one directory/prefix per book")
    open_date: date = Field(default=date(2000, 1, 1), description="date of the book's open directives")
    title: str = "LedgerLink books"

    def account_problem(self, account: str) -> str | None:
        if BEANCOUNT_ACCOUNT.match(account):
            return None
        return (f"{account!r} is not a Beancount account name "
                "(Assets|Liabilities|Equity|Income|Expenses:Capitalized:Parts)")


ErpConnection = Annotated[BeancountConnection, Field(discriminator="kind")]
