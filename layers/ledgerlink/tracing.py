"""X-Ray tracing of the Lambda handlers: a Powertools ``Tracer`` whose provider writes subsegments to the X-Ray daemon.

Each function's Lambda segment (active tracing) gets a ``## handler`` subsegment from
``Tracer.capture_lambda_handler`` (annotations ``ColdStart`` and ``Service``), one subsegment per AWS API call
(botocore, namespace ``aws``: service, operation, region, request id, status) and one per ERP (or source API) HTTP
request (:func:`remote_request` on ``connectors.erps.http.HttpClient.request``, namespace ``remote``: host, method,
status). Nothing of a request or response body, URL path, query or error message is recorded — traces hold no financial or
personal data — and a handler's response and errors are never added as metadata (``capture_response=False``,
``capture_error=False``); a failed call records its exception's type only.

The provider is not the X-Ray SDK: importing ``aws_xray_sdk.core`` builds a recorder whose sampler creates two
botocore X-Ray clients (about 150 ms per cold start here, more on a small Lambda), and in Lambda the sampling
decision is already made (``Sampled=`` of ``_X_AMZN_TRACE_ID``). :class:`DaemonProvider` sends each closed
subsegment as its own segment document over UDP, as the SDK does in Lambda with streaming on. See
docs/decisions.md.

Tracing is on only in Lambda with a daemon address and ``POWERTOOLS_TRACE_DISABLED`` unset (Powertools' own rule);
anywhere else — tests, ``ledgerlink local``, the bench — :func:`tracer` returns a tracer whose decorator returns the
handler itself and nothing is patched.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import urlsplit

from ledgerlink import clock

if TYPE_CHECKING:
    import socket

    from aws_lambda_powertools.tracing.base import BaseProvider

TRACE_HEADER = "_X_AMZN_TRACE_ID"
DAEMON_ADDRESS = "AWS_XRAY_DAEMON_ADDRESS"
TRACE_DISABLED = "POWERTOOLS_TRACE_DISABLED"
LOCAL_EMULATORS = ("AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE")
DOCUMENT_HEADER = b'{"format": "json", "version": 1}\n'
PATCHABLE = ("botocore",)

type Primitive = str | int | float | bool


class LambdaHandler[E, R](Protocol):
    def __call__(self, event: E, context: object, /) -> R: ...


def tracing_enabled(environ: Mapping[str, str] | None = None) -> bool:
    """In Lambda (not an emulator), a daemon to send to, and not switched off."""
    environ = os.environ if environ is None else environ
    if environ.get(TRACE_DISABLED, "false").strip().lower() in ("1", "true", "yes", "on"):
        return False
    if any(environ.get(name) for name in LOCAL_EMULATORS):
        return False
    return bool(environ.get("LAMBDA_TASK_ROOT")) and bool(environ.get(DAEMON_ADDRESS))


@dataclass(frozen=True, slots=True)
class TraceContext:
    """The invocation's trace (``Root``), the Lambda segment to attach to (``Parent``) and the sampling decision."""

    trace_id: str
    parent_id: str
    sampled: bool

    @classmethod
    def from_header(cls, header: str | None) -> TraceContext | None:
        fields = dict(part.split("=", 1) for part in (header or "").split(";") if "=" in part)
        if not fields.get("Root") or not fields.get("Parent"):
            return None
        return cls(trace_id=fields["Root"], parent_id=fields["Parent"], sampled=fields.get("Sampled") == "1")


def _new_id() -> str:
    return os.urandom(8).hex()


@dataclass(slots=True)
class Subsegment:
    """One timed piece of work; becomes one segment document when it closes (Powertools' ``BaseSegment`` interface,
    without importing Powertools: the ERP HTTP client imports this module outside Lambda handlers too)."""

    name: str
    trace: TraceContext
    parent_id: str
    namespace: str | None = None
    id: str = field(default_factory=_new_id)
    start_time: float = field(default_factory=clock.epoch)
    end_time: float | None = None
    annotations: dict[str, Primitive] = field(default_factory=dict)
    metadata: dict[str, dict[str, Primitive | None]] = field(default_factory=dict)
    http: dict[str, dict[str, str | int]] = field(default_factory=dict)
    aws: dict[str, str | int] = field(default_factory=dict)
    exception_types: list[str] = field(default_factory=list)
    status: int | None = None

    def close(self, end_time: int | None = None) -> None:
        self.end_time = clock.epoch() if end_time is None else float(end_time)

    def add_subsegment(self, subsegment: Any) -> None:
        """Children are sent on their own (they name this one as their parent)."""

    def remove_subsegment(self, subsegment: Any) -> None:
        """Nothing to remove: children are never held."""

    def put_annotation(self, key: str, value: Any) -> None:
        if isinstance(value, str | int | float | bool):
            self.annotations[key] = value

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        """Scalars only: an object (an event, a response, an exception) is never copied into a trace."""
        if value is None or isinstance(value, str | int | float | bool):
            self.metadata.setdefault(namespace, {})[key] = value

    def add_exception(self, exception: BaseException, stack: Any = None, remote: bool = False) -> None:
        self.exception_types.append(type(exception).__name__)

    def document(self) -> dict[str, object]:
        document: dict[str, object] = {
            "type": "subsegment", "name": self.name, "id": self.id, "trace_id": self.trace.trace_id,
            "parent_id": self.parent_id, "start_time": self.start_time,
            "end_time": self.end_time if self.end_time is not None else clock.epoch()}
        optional = {"namespace": self.namespace, "annotations": self.annotations, "metadata": self.metadata,
                    "http": self.http, "aws": self.aws}
        document.update({key: value for key, value in optional.items() if value})
        document.update(_outcome(self.status, self.exception_types))
        return document


def _outcome(status: int | None, exception_types: Sequence[str]) -> dict[str, object]:
    """X-Ray's flags: ``throttle`` (429) and ``error`` for 4xx, ``fault`` for 5xx or an exception without a status."""
    flags: dict[str, object] = {}
    if status == 429:
        flags["throttle"] = True
    if status is not None and 400 <= status < 500:
        flags["error"] = True
    elif (status is not None and status >= 500) or exception_types:
        flags["fault"] = True
    if exception_types:
        flags["cause"] = {"exceptions": [{"id": _new_id(), "type": name} for name in exception_types]}
    return flags


class _Unsampled(Subsegment):
    """Stands in when the invocation is not sampled or not traced: records nothing, sends nothing."""


def _daemon_address(value: str) -> tuple[str, int]:
    """``host:port`` or ``tcp:host:port udp:host:port`` (the UDP one is used)."""
    choices = value.split()
    chosen = next((choice.removeprefix("udp:") for choice in choices if choice.startswith("udp:")), choices[0])
    host, _, port = chosen.rpartition(":")
    return host, int(port)


class DaemonProvider:
    """A Powertools tracing provider (``BaseProvider``'s interface) that sends each closed subsegment to the X-Ray
    daemon over UDP."""

    def __init__(self, address: str, environ: Mapping[str, str] | None = None) -> None:
        self._address = _daemon_address(address)
        self._environ = os.environ if environ is None else environ
        self._socket: socket.socket | None = None
        self._open: ContextVar[tuple[Subsegment, ...]] = ContextVar("ledgerlink_open_subsegments", default=())

    def current(self) -> Subsegment | None:
        stack = self._open.get()
        return stack[-1] if stack else None

    def _start(self, name: str, namespace: str | None) -> Subsegment:
        parent = self.current()
        if parent is not None:
            trace, parent_id = parent.trace, parent.id
        else:
            context = TraceContext.from_header(self._environ.get(TRACE_HEADER))
            if context is None:
                return _Unsampled(name=name, trace=TraceContext("", "", sampled=False), parent_id="")
            trace, parent_id = context, context.parent_id
        kind = Subsegment if trace.sampled and not isinstance(parent, _Unsampled) else _Unsampled
        return kind(name=name, trace=trace, parent_id=parent_id, namespace=namespace)

    @contextlib.contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Iterator[Subsegment]:
        subsegment = self._start(name or "anonymous", kwargs.get("namespace"))
        token = self._open.set((*self._open.get(), subsegment))
        try:
            yield subsegment
        except BaseException as error:
            subsegment.add_exception(error)
            raise
        finally:
            self._open.reset(token)
            subsegment.close()
            self._send(subsegment)

    @contextlib.asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncIterator[Subsegment]:
        with self.in_subsegment(name, **kwargs) as subsegment:
            yield subsegment

    def put_annotation(self, key: str, value: Any) -> None:
        current = self.current()
        if current is not None:
            current.put_annotation(key, value)

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        current = self.current()
        if current is not None:
            current.put_metadata(key, value, namespace)

    def patch(self, modules: Sequence[str]) -> None:
        if "botocore" in modules:
            _patch_botocore(self)

    def patch_all(self) -> None:
        self.patch(PATCHABLE)

    def _send(self, subsegment: Subsegment) -> None:
        if isinstance(subsegment, _Unsampled):
            return
        try:
            if self._socket is None:
                import socket  # only when tracing sends: the module is imported by every handler (cold start)

                self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._socket.setblocking(False)
            self._socket.sendto(DOCUMENT_HEADER + json.dumps(subsegment.document()).encode(), self._address)
        except OSError:
            pass   # a trace is never worth failing the work it describes


_provider: DaemonProvider | None = None


def _patch_botocore(provider: DaemonProvider) -> None:
    """Every AWS API call in a subsegment: the service, operation, region, request id and HTTP status."""
    from botocore.client import BaseClient

    original = BaseClient._make_api_call
    if getattr(original, "__ledgerlink_traced__", False):
        return

    @functools.wraps(original)
    def traced(client: Any, operation_name: str, api_params: Any) -> Any:
        with provider.in_subsegment(client.meta.service_model.endpoint_prefix, namespace="aws") as subsegment:
            subsegment.aws.update(operation=operation_name, region=client.meta.region_name)
            try:
                response = original(client, operation_name, api_params)
            except Exception as error:
                _record_aws_response(subsegment, getattr(error, "response", None))
                raise
            _record_aws_response(subsegment, response)
            return response

    traced.__ledgerlink_traced__ = True   # type: ignore[attr-defined]
    BaseClient._make_api_call = traced


def _record_aws_response(subsegment: Subsegment, response: object) -> None:
    metadata = response.get("ResponseMetadata") if isinstance(response, dict) else None
    if not isinstance(metadata, dict):
        return
    if isinstance(metadata.get("RequestId"), str):
        subsegment.aws["request_id"] = metadata["RequestId"]
    if isinstance(metadata.get("RetryAttempts"), int):
        subsegment.aws["retries"] = metadata["RetryAttempts"]
    if isinstance(metadata.get("HTTPStatusCode"), int):
        subsegment.status = metadata["HTTPStatusCode"]
        subsegment.http["response"] = {"status": metadata["HTTPStatusCode"]}


class Tracer(Protocol):
    def capture_lambda_handler[E, R](self, lambda_handler: LambdaHandler[E, R] | None = None, *,
                                     capture_response: bool | None = None,
                                     capture_error: bool | None = None) -> Any: ...


class _Off:
    """Tracing off: the handler is returned as it is (no wrapper, nothing patched, nothing imported)."""

    def capture_lambda_handler[E, R](self, lambda_handler: LambdaHandler[E, R] | None = None, *,
                                     capture_response: bool | None = None,
                                     capture_error: bool | None = None) -> Any:
        if lambda_handler is None:
            return lambda handler: handler
        return lambda_handler


def tracer(service: str, environ: Mapping[str, str] | None = None) -> Tracer:
    """The function's tracer (``service``: its Powertools service name, e.g. ``ledgerlink-post``)."""
    global _provider
    environ = os.environ if environ is None else environ
    if not tracing_enabled(environ):
        return _Off()
    from aws_lambda_powertools import Tracer as PowertoolsTracer

    if _provider is None:
        _provider = DaemonProvider(environ[DAEMON_ADDRESS], environ)
    return PowertoolsTracer(service=service, disabled=False, auto_patch=True, patch_modules=PATCHABLE,
                            provider=cast("BaseProvider", _provider))


def traced_handler[E, R](service: str) -> Callable[[LambdaHandler[E, R]], LambdaHandler[E, R]]:
    """``@traced_handler("ledgerlink-post")``: the handler in a ``## handler`` subsegment, its response and errors
    never recorded."""
    chosen = tracer(service)

    def decorate(handler: LambdaHandler[E, R]) -> LambdaHandler[E, R]:
        wrapped: LambdaHandler[E, R] = chosen.capture_lambda_handler(handler, capture_response=False,
                                                                       capture_error=False)
        return wrapped

    return decorate


class _HttpClient(Protocol):
    base_url: str


def remote_request[**P, R](send: Callable[P, R]) -> Callable[P, R]:
    """Decorates ``HttpClient.request(self, method, path, ...)``, which every ERP request (and every source API fetch)
    goes through: one ``remote`` subsegment per request, named by host, with the method and the response status
    (never the path, query or body)."""

    @functools.wraps(send)
    def traced(*args: P.args, **kwargs: P.kwargs) -> R:
        provider = _provider
        if provider is None:
            return send(*args, **kwargs)
        named = dict(zip(("self", "method", "path"), args, strict=False)) | kwargs
        client, method, path = named.get("self"), str(named.get("method", "")), str(named.get("path", ""))
        url = path if path.startswith(("http://", "https://")) else str(getattr(client, "base_url", ""))
        with provider.in_subsegment(urlsplit(url).hostname or "erp", namespace="remote") as subsegment:
            subsegment.http["request"] = {"method": method}
            response = send(*args, **kwargs)
            status = getattr(response, "status", None)
            if isinstance(status, int):
                subsegment.status = status
                subsegment.http["response"] = {"status": status}
            return response

    return traced
