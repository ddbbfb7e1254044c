"""Run the Lambda handlers in-process, as Lambda runs them: up to ``concurrency`` containers per function, each a
separately loaded copy of the handler module (its own module globals, like a container's), each running one
invocation at a time; a container is created on first need (a cold start) and reused after (warm)."""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Any, Protocol, TypedDict

DEFAULT_CONCURRENCY = 8   # containers per function (Lambda scales each function out the same way)
FUNCTION_NAMES: tuple[str, ...] = ("ingest", "normalize", "enrich", "validate", "post", "open_exception",
                                   "reconcile", "bank_file", "poll", "ops", "flush", "master_data",
                                   "revenue_release", "console")


def functions_dir() -> Path:
    configured = os.environ.get("LEDGERLINK_FUNCTIONS_DIR")
    if configured:
        return Path(configured)
    # editable install / checkout: layers/ledgerlink/local/functions.py → repo root
    return Path(__file__).resolve().parents[3] / "functions"


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that Powertools and our handlers read."""

    function_name: str
    timeout_seconds: int = 60
    memory_limit_in_mb: int = 256
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return "local"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.timeout_seconds - (time.monotonic() - self.started)) * 1000))


class LambdaCrash(Exception):
    """A simulated crash of the function's process: Lambda reports it as ``Runtime.ExitError``."""

    error_type = "Runtime.ExitError"
    retryable = True   # the process died: nothing after it ran, SQS or Step Functions delivers the work again


class LambdaErrorPayload(TypedDict):
    """What Lambda returns for an unhandled exception (the body of a function error)."""

    errorType: str          # noqa: N815 - Lambda's field names
    errorMessage: str       # noqa: N815
    stackTrace: list[str]   # noqa: N815


class FunctionError(Exception):
    def __init__(self, payload: LambdaErrorPayload) -> None:
        super().__init__(payload.get("errorMessage"))
        self.payload = payload


class Faults(Protocol):
    """Fault injection for chaos runs: ``before`` may raise (a crash before the handler ran), ``after``
    may raise (a crash after it did its work but before its result got back)."""

    def before(self, name: str, event: Any) -> None: ...
    def after(self, name: str, event: Any, result: Any) -> None: ...


class FunctionHost:
    def __init__(self, *, prefix: str = "ledgerlink-local", log_stream: IO[str] | None = None,
                 timeouts: dict[str, int] | None = None, faults: Faults | None = None,
                 concurrency: int = DEFAULT_CONCURRENCY) -> None:
        self.prefix = prefix
        self._dir = functions_dir()
        self._modules: dict[tuple[str, int], ModuleType] = {}
        self.concurrency = max(1, concurrency)
        # the free containers of each function, lowest first (sequential invocations always find container 0 warm)
        self._free: dict[str, list[int]] = {name: list(range(self.concurrency)) for name in FUNCTION_NAMES}
        self._containers = threading.Condition()
        self._load_lock = threading.Lock()
        self._log_stream = log_stream
        self._timeouts = timeouts or {}
        self.faults = faults
        self.invocations: dict[str, int] = {name: 0 for name in FUNCTION_NAMES}
        self.errors: dict[str, int] = {name: 0 for name in FUNCTION_NAMES}
        self._in_flight = 0
        self._started = 0
        self._in_flight_lock = threading.Lock()

    @property
    def activity(self) -> tuple[int, int]:
        """(invocations in flight, invocations started so far). An idle check reads it before and after what
        it inspects: equal snapshots with nothing in flight mean no handler ran in between — an execution whose
        step has not returned is not parked, even when a case it opened already carries its task token."""
        with self._in_flight_lock:
            return self._in_flight, self._started

    def _count(self, delta: int) -> None:
        with self._in_flight_lock:
            self._in_flight += delta
            self._started += max(delta, 0)

    def physical_name(self, name: str) -> str:
        return f"{self.prefix}-{name.replace('_', '-')}"

    def logical_name(self, physical: str) -> str:
        short = physical.rsplit(":", 1)[-1] if physical.startswith("arn:") else physical
        short = short.split(":")[0]
        for name in FUNCTION_NAMES:
            if self.physical_name(name) == short:
                return name
        raise KeyError(physical)

    def module(self, name: str, container: int = 0) -> ModuleType:
        """The handler module of one container of ``name`` (loaded on first use: its cold start)."""
        key = (name, container)
        module = self._modules.get(key)
        if module is not None:
            return module
        with self._load_lock:
            if key not in self._modules:
                path = self._dir / name / "handler.py"
                suffix = "" if container == 0 else f"_container{container}"
                spec = importlib.util.spec_from_file_location(f"ledgerlink_functions.{name}.handler{suffix}", path)
                if spec is None or spec.loader is None:
                    raise FileNotFoundError(path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module
                spec.loader.exec_module(module)
                self._redirect_logs(module)
                self._modules[key] = module
            return self._modules[key]

    def _acquire(self, name: str) -> int:
        """A free container of ``name`` (waits while all of them run an invocation, as Lambda throttles at the
        function's concurrency limit)."""
        with self._containers:
            free = self._free[name]
            while not free:
                self._containers.wait()
            return free.pop(0)

    def _release(self, name: str, container: int) -> None:
        with self._containers:
            free = self._free[name]
            free.append(container)
            free.sort()
            self._containers.notify()

    def _redirect_logs(self, module: ModuleType) -> None:
        logger = getattr(module, "logger", None)
        if logger is None or self._log_stream is None:
            return
        handler = logger.registered_handler
        if isinstance(handler, logging.StreamHandler):
            # not setStream(): it flushes the previous stream, which a previous runtime may have closed
            handler.acquire()
            try:
                handler.stream = self._log_stream
            finally:
                handler.release()

    def invoke(self, name: str, event: Any) -> Any:
        """Call the handler; raise :class:`FunctionError` with Lambda's error payload on failure."""
        self._count(+1)
        try:
            return self._invoke(name, event)
        finally:
            self._count(-1)

    def _invoke(self, name: str, event: Any) -> Any:
        context = LambdaContext(function_name=self.physical_name(name), timeout_seconds=self._timeouts.get(name, 60))
        container = self._acquire(name)
        try:
            module = self.module(name) if container == 0 else self.module(name, container)
            with self._in_flight_lock:
                self.invocations[name] += 1
            try:
                if self.faults is not None:
                    self.faults.before(name, event)
                result = module.handler(event, context)
                if self.faults is not None:
                    self.faults.after(name, event, result)
                return result
            except Exception as exc:
                with self._in_flight_lock:
                    self.errors[name] += 1
                raise FunctionError({
                    "errorType": getattr(exc, "error_type", type(exc).__name__), "errorMessage": str(exc),
                    "stackTrace": traceback.format_exception(exc)[-5:],
                }) from exc
        finally:
            self._release(name, container)
