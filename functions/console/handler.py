"""The finance-ops web console (API Gateway REST proxy): server-rendered pages, sign-in with the Cognito user pool.

Every request is authenticated from its session cookie (a Cognito ID token, signature and claims verified) and
every action authorized by role on the server (``ledgerlink.console``); every change is audited under the user.
"""

from aws_lambda_powertools import Logger

from ledgerlink.console.app import handle
from ledgerlink.tracing import traced_handler

logger = Logger(service="ledgerlink-console")


@logger.inject_lambda_context
@traced_handler("ledgerlink-console")
def handler(event: dict, context: object) -> dict:
    return handle(event)
