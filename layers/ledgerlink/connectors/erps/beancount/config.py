"""The configuration model of a Beancount book connection."""

import re
from datetime import date
from typing import Literal

from pydantic import Field

from ledgerlink.config.base import ConfigModel
from ledgerlink.connectors.erps.connection import BacklogDeadlineConfig, ConnectionLimitsConfig
from ledgerlink.model.base import Identifier

BEANCOUNT_ACCOUNT = re.compile(r"^(Assets|Liabilities|Equity|Income|Expenses)(:[A-Z0-9][A-Za-z0-9\-]*)+$")

class BeancountConnection(ConfigModel):
    """The embedded ERP: a Beancount double-entry book (a directory locally, an S3 prefix on AWS)."""

    id: Identifier
    kind: Literal["beancount"]
    book: Identifier = Field(default="main", description="book name; one directory/prefix per book")
    open_date: date = Field(default=date(2000, 1, 1), description="date of the book's open directives")
    title: str = "LedgerLink books"
    limits: ConnectionLimitsConfig | None = Field(
        default=None, description="an API budget to rehearse locally: the book's writes go through the limiter")
    backlog_deadline: BacklogDeadlineConfig | None = None

    def account_problem(self, account: str) -> str | None:
        if BEANCOUNT_ACCOUNT.match(account):
            return None
        return (f"{account!r} is not a Beancount account name "
                "(Assets|Liabilities|Equity|Income|Expenses:Capitalized:Parts)")
