"""Every failure of the ``ledgerlink`` command as one line that says what to do, with its exit code.

Exit codes: 2 — the command did not understand its input or the configuration (nothing was done); 1 — it could
not do what was asked (stack down, credentials, a refused operation, an unexpected error); 130 — interrupted;
141 — the reader of its output went away (``--json | head``: quiet, as coreutils under ``pipefail``).
``--debug`` prints the traceback as well.
"""

from __future__ import annotations

import errno
import re
from dataclasses import dataclass

from ledgerlink.cli_support.args import UsageError
from ledgerlink.errors import ConfigError, LedgerLinkError, OpsError

BROKEN_PIPE = 141                    # 128 + SIGPIPE
INTERRUPTED = 130                    # 128 + SIGINT

CREDENTIAL_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "UnrecognizedClientException",
                              "InvalidClientTokenId", "InvalidSignatureException", "SignatureDoesNotMatch",
                              "RequestExpired", "InvalidAccessKeyId"})
ACCESS_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})


@dataclass(frozen=True)
class Failure:
    code: int
    line: str | None                 # None: say nothing (broken pipe)


def _aws_failure(exc: BaseException) -> Failure | None:
    try:
        from botocore import exceptions as aws
    except ImportError:   # pragma: no cover - botocore is a dependency of the package
        return None
    if isinstance(exc, aws.NoRegionError):
        return Failure(1, "error: aws_region_missing: no AWS region is configured: set AWS_DEFAULT_REGION (or use a "
                          "profile that has a region: AWS_PROFILE), then run the command again")
    if isinstance(exc, aws.NoCredentialsError | aws.PartialCredentialsError):
        return Failure(1, "error: aws_credentials_missing: no AWS credentials found: log in (aws sso login / "
                          "AWS_PROFILE / AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then run the command again")
    if isinstance(exc, aws.TokenRetrievalError | aws.SSOTokenLoadError | aws.UnauthorizedSSOTokenError):
        return Failure(1, "error: aws_credentials_expired: the AWS session has expired: run `aws sso login` "
                          "(or refresh the credentials), then run the command again")
    if isinstance(exc, aws.EndpointConnectionError | aws.ConnectTimeoutError | aws.ConnectionClosedError):
        url = str(getattr(exc, "kwargs", {}).get("endpoint_url") or "")
        if re.match(r"^https?://(127\.0\.0\.1|localhost|\[::1\])[:/]", url):
            return Failure(1, f"error: local_stack_down: the local stack does not answer at {url} (stack.json is "
                              "left from a stack that stopped): start it with `ledgerlink local up` (same "
                              "--state-dir), or name a deployed stack with --stack NAME")
        return Failure(1, f"error: aws_unreachable: cannot reach {url or 'AWS'}: check the network, the region "
                          "and AWS_ENDPOINT_URL, then run the command again")
    if isinstance(exc, aws.ClientError):
        error = exc.response.get("Error", {})
        code, message = str(error.get("Code", "")), str(error.get("Message", "")).strip()
        operation = getattr(exc, "operation_name", "")
        if code in CREDENTIAL_CODES:
            return Failure(1, f"error: aws_credentials_invalid: AWS refused the credentials ({code}): refresh them "
                              "(aws sso login / AWS_PROFILE), then run the command again")
        if code in ACCESS_CODES:
            return Failure(1, f"error: access_denied: {operation or 'the call'} was denied: {message} — ask for the "
                              "operator role of this stack")
        if operation == "DescribeStacks" and "does not exist" in message:
            return Failure(1, f"error: stack_not_found: {message}: check --stack and the region (AWS_REGION)")
        if code == "ResourceNotFoundException":
            return Failure(1, f"error: resource_not_found: {message}: the stack does not have what this command "
                              "reads (an older version, or a stopped local stack's state): deploy or start it again")
        return Failure(1, f"error: aws_error: {operation or 'AWS'} failed with {code}: {message}")
    if isinstance(exc, aws.BotoCoreError):
        return Failure(1, f"error: aws_error: {exc}")
    return None


def describe(exc: BaseException) -> Failure:
    """The exit code and the one line for ``exc``."""
    if isinstance(exc, BrokenPipeError):
        return Failure(BROKEN_PIPE, None)
    if isinstance(exc, KeyboardInterrupt):
        return Failure(INTERRUPTED, "interrupted")
    if isinstance(exc, UsageError):
        return Failure(exc.code, f"error: {exc.reason}: {exc.message}")
    if isinstance(exc, ConfigError):
        text = str(exc)
        return Failure(2, text if text.startswith("error: ") else f"error: {text}")
    if isinstance(exc, OpsError):
        return Failure(1, f"error: {exc.reason}: {exc.message}")
    if isinstance(exc, LedgerLinkError):
        return Failure(1, f"error: {exc.reason}: {exc.message}")
    aws_failure = _aws_failure(exc)
    if aws_failure is not None:
        return aws_failure
    if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
        return Failure(1, "error: port_in_use: the port is already taken (another `ledgerlink local up`?): stop "
                          "what holds it, or pass --port N (0 = any free port)")
    if isinstance(exc, PermissionError):
        return Failure(1, f"error: permission_denied: {exc.filename or ''}: {exc.strerror}")
    if isinstance(exc, FileNotFoundError):
        return Failure(1, f"error: file_not_found: {exc.filename}: {exc.strerror}")
    if isinstance(exc, OSError):
        return Failure(1, f"error: os_error: {exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}")
    text = str(exc).splitlines()[0] if str(exc) else ""
    return Failure(1, f"error: internal_error: {type(exc).__name__}{f': {text}' if text else ''} — run again with "
                      "--debug for the traceback and report it")
