"""LocalRuntime: start the whole LedgerLink stack in one process, on moto, with a Beancount book.

    runtime = LocalRuntime(LocalOptions(config_path=Path("config/ledgerlink.example.yaml")))
    runtime.start()            # moto server, resources, config, secrets, functions, pollers, HTTP front
    runtime.webhook_url("<source id>")
    runtime.poll("<source id>")  # a polled source: what EventBridge Scheduler does on AWS
    runtime.wait_idle()
    runtime.stop()

Same handlers, same state machine definition (``ledgerlink.workflow``), same table shapes
(``ledgerlink.store.tables``) as the CDK app. What is local: moto instead of AWS, a directory instead
of an S3 prefix for the book, in-process Lambda invocations, shorter queue timeouts (options), and the
vendor APIs (each source package's ``fake_api.py``): the sources' ``api.base_url`` is pointed at
an HTTP fake serving ``events/<source>/api/`` with freshly generated credentials (``fake_source_apis``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast
from unittest import mock

from ledgerlink import settings, wiring
from ledgerlink.config.loader import load_config_file
from ledgerlink.config.model import (
    LedgerLinkConfig,
    with_api_base_url,
)
from ledgerlink.local import secrets as local_secrets
from ledgerlink.local.aws import (
    MOTO_CONFIG,
    REGION,
    Resources,
    apply_config,
    atomic_dynamodb,
    create_resources,
    in_process_lambdas,
    store_api_credentials,
    store_secrets,
    waiting_for_decisions,
)
from ledgerlink.local.fake_apis import FakeSourceApis, generate_credentials
from ledgerlink.local.functions import FUNCTION_NAMES, FunctionHost, functions_dir
from ledgerlink.local.http_front import WebhookFront
from ledgerlink.local.sqs_poller import SqsPoller
from ledgerlink.local.state import (
    LocalStateError,
    Recovery,
    StateDir,
    capture,
    recover,
    restore,
    s3_write_through,
)
from ledgerlink.model.json import JsonObject, JsonValue
from ledgerlink.store import clients
from ledgerlink.store.workflow import running_executions

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment
    from moto.core.config import DefaultConfig

    from ledgerlink.local.faults import FaultPlan, InjectedFaults
    from ledgerlink.local.functions import Faults

# one process hosts every container of every function, all on the same cached boto3 clients: botocore's default pool of
# 10 connections per client made every request beyond it open (and drop) a new connection to moto
CLIENT_POOL_CONNECTIONS = 64
_AWS_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION",
            "AWS_REGION", "MOTO_PORT", "POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_LOG_LEVEL",
            "POWERTOOLS_METRICS_NAMESPACE", "AWS_PROFILE")


@dataclass
class LocalOptions:
    config_path: Path
    state_dir: Path = Path(".ledgerlink/local")
    port: int = 8787                      # webhook HTTP front; 0 = any free port
    secrets_file: Path | None = None
    secrets_default_file: Path = local_secrets.DEFAULT_FILE
    visibility_timeout_seconds: int = 10  # AWS: 6x the normalize timeout; shorter locally to see redelivery
    max_receive_count: int = 3            # AWS: 5
    batch_size: int = 10
    pollers: int = 1                      # concurrent batches (Lambda starts with five; moto's SQS receive is not
                                          # thread-safe, and the stack is bound by one core: more bought nothing)
    prefix: str = "ledgerlink-local"
    extra_env: dict[str, str] = field(default_factory=dict)
    faults: Faults | None = None          # for chaos runs
    injected_faults: FaultPlan | None = None   # `local up --faults` (rehearsals)
    fake_source_apis: bool = True         # point vendor API base URLs at the local HTTP fake
    poll_every_seconds: float | None = None  # poll the polled sources in the background (EventBridge Scheduler)
    flush_interval_seconds: float = 300.0  # the local stand-in for the EventBridge schedule; 0 = manual only
    fresh: bool = False                   # start empty (the state directory is emptied) instead of restoring it
    snapshot_every_seconds: float = 30.0  # DynamoDB and SQS to state_dir/snapshot.json (and at stop); 0 = at stop
    durable: bool = True                  # fsync each written-through S3 object and snapshot (power loss, not only
                                          # a killed process)


class _IteratedAsCopy(list):  # type: ignore[type-arg]
    """A state machine's executions: a loop over them (ListExecutions, a task token's lookup) runs over a copy, so
    an execution removed meanwhile (``lean_moto``) never makes it skip another; appends go to the list itself."""

    def __iter__(self) -> Iterator[Any]:
        return list.__iter__(list.copy(self))


@contextlib.contextmanager
def lean_moto() -> Iterator[None]:
    """What moto does that made the local stack's memory and time per event grow with every event stored.

    1. ``BaseModel.__new__`` appends every model object to its class's ``instances_tracked`` list (for the
       dashboard at ``/moto-api/data.json``), and only a reset empties it: nothing moto creates is ever freed.
    2. ``transact_write_items`` deep-copies each table a transaction writes, to roll back on a failure: the
       whole inbox, ledger or totals table, per transaction, several transactions per event.

    3. Its server finds the backend for each request by listing and stat-ing moto's ~200 package directories and
       then trying each service's URL patterns, under one lock for all requests: half of the stack's busy time.
       The answer depends on the host name alone, so it is remembered per host.

    4. Its Step Functions engine keeps every execution with its whole history (each state's input and output as
       JSON), Express ones included — about 30 KB per document through the happy path. AWS keeps no history of an
       Express execution (``ListExecutions`` refuses the machine type); the local stack only ever lists the running
       ones (``running_executions``). A finished Express execution started asynchronously is dropped here (from a
       list that loops over a copy of itself, so no concurrent loop skips an entry).

    5. Its Step Functions engine builds a new boto3 client (service model, SSL context, connection pool) for every
       Lambda task it runs, so each task paid a client's construction and a new connection to moto (SSL contexts,
       name lookups and connects were a fifth of the sampled busy stacks). One client per (region, service, moto port) is kept instead; boto3 clients are
       thread-safe, and the credentials argument is not used by moto's factory either.

    6. The same engine parses the state machine's definition (an ANTLR grammar of the whole ASL document) at the
       start of every execution: the largest single CPU cost per document. The parsed program is kept per definition
       text. Its components keep nothing of an execution (state, retry counts, variables live in the execution's
       ``Environment``, keyed by component), so executions share it as they share the definition.

    7. Its SQS rebuilds every queue attribute — three counts over every queued message, each checked against the clock —
       three times per attribute a ``GetQueueAttributes`` names, and three times per message a ``ReceiveMessage``
       returns (to read the retention period), and once per ``SendMessage`` (to read ``ContentBasedDeduplication``):
       receiving 10 of 600 queued messages cost 358 ms of CPU, a send 12 ms. Here the attributes are built once per
       ``GetQueueAttributes``, the retention period is read from the queue itself, and a send's attributes leave the
       message counts out (it reads none of them).

    1 and 2 together: a copy of the tables kept per event (2.3-2.5 MB per event after 100 events, ~10 GB after a few
    hundred more), until the kernel killed the stack. Here objects are not tracked (the local stack never reads that
    dashboard; moto's S3 reset only uses the list to close files the garbage collector closes anyway), and a
    transaction keeps a copy of the items it writes instead: ``atomic_dynamodb`` runs it under the one lock of every
    item operation, so putting those items back is the whole rollback. Entered before ``atomic_dynamodb`` wraps
    ``transact_write_items`` (so this runs under its lock), left after it."""
    import copy
    import sys

    import boto3
    import moto.stepfunctions.parser.asl.parse.preprocessor  # noqa: F401 - every task component, so every import
    from botocore.config import Config
    from moto import backends
    from moto.core.common_models import BaseModel
    from moto.core.models import botocore_stubber
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication
    from moto.settings import moto_server_port
    from moto.sqs.exceptions import InvalidAttributeName
    from moto.sqs.models import SQSBackend
    from moto.stepfunctions.models import StateMachine
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
    from moto.stepfunctions.parser.asl.utils import boto_client as sfn_clients
    from moto.stepfunctions.parser.backend.execution import (
        BaseExecutionWorkerCommunication,
        SyncExecutionWorkerCommunication,
    )
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    def attributes_once(backend: Any, queue_name: str, attribute_names: list[str]) -> dict[str, object]:
        queue = backend.get_queue(queue_name)
        if not attribute_names:
            return {}
        valid = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
        invalid = next((name for name in attribute_names if name not in valid), None)
        if invalid or invalid == "":
            raise InvalidAttributeName(invalid)
        everything: dict[str, object] = queue.attributes
        if "All" in attribute_names:
            return everything
        return {name: everything[name] for name in attribute_names if everything.get(name) is not None}

    def within_retention(backend: Any, queue_name: str, message: Any) -> bool:
        retention = int(backend.get_queue(queue_name).message_retention_period)
        return bool(retention + message.sent_timestamp / 1000 > sqs_unix_time())

    from moto.core.utils import camelcase_to_underscores
    from moto.core.utils import unix_time as sqs_unix_time
    from moto.sqs.models import Queue

    all_attributes: Any = Queue.attributes   # moto's property (untyped)
    send = SQSBackend.send_message
    counts = {"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed",
              "ApproximateNumberOfMessagesNotVisible"}
    sending = threading.local()

    def attributes(queue: Any) -> dict[str, object]:
        if not getattr(sending, "active", False):
            everything: dict[str, object] = all_attributes.fget(queue)
            return everything
        # moto's property, without the counts (never mutating the queue: another thread may read it meanwhile)
        names = [name for name in queue.BASE_ATTRIBUTES if name not in counts]
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            names += queue.KMS_ATTRIBUTES
        result: dict[str, object] = {name: getattr(queue, camelcase_to_underscores(name)) for name in names}
        if queue.policy:
            result["Policy"] = queue.policy
        if queue.redrive_policy:
            result["RedrivePolicy"] = json.dumps(queue.redrive_policy)
        return {key: str(value).lower() if isinstance(value, bool) else value for key, value in result.items()}

    def send_without_counts(backend: Any, *args: Any, **kwargs: Any) -> Any:
        sending.active = True
        try:
            return send(backend, *args, **kwargs)
        finally:
            sending.active = False

    transact = DynamoDBBackend.transact_write_items
    modules, backend_for_host = backends.list_of_moto_modules, DomainDispatcherApplication.get_backend_for_host
    module_names = tuple(modules())
    hosts: dict[tuple[int, str | None], Any] = {}

    terminated, machine_init = BaseExecutionWorkerCommunication.terminated, StateMachine.__init__

    def with_snapshot_iteration(machine: Any, *args: Any, **kwargs: Any) -> None:
        machine_init(machine, *args, **kwargs)
        machine.executions = _IteratedAsCopy(machine.executions)

    def forget_finished_express(communication: Any) -> None:
        terminated(communication)
        execution = communication.execution
        if isinstance(communication, SyncExecutionWorkerCommunication):   # StartSyncExecution reads it after
            return
        backend = stepfunctions_parser_backends[execution.account_id][execution.region_name]
        for machine in backend.state_machines:   # the execution's own type says STANDARD either way in moto
            if machine.arn == execution.state_machine.arn and machine.type == "EXPRESS" and \
                    isinstance(machine.executions, _IteratedAsCopy):
                with contextlib.suppress(ValueError):
                    machine.executions.remove(execution)

    def remembered_backend_for_host(app: Any, host: str | None) -> Any:
        key = (id(app), host)
        if key not in hosts:
            hosts[key] = backend_for_host(app, host)
        return hosts[key]

    build_client = sfn_clients.boto_client_for
    sfn_client_cache: dict[tuple[Any, ...], Any] = {}
    sfn_client_lock = threading.Lock()

    def kept_client(region: str, service: str, state_credentials: Any = None) -> Any:
        key = (region, service, moto_server_port(), botocore_stubber.enabled)
        client = sfn_client_cache.get(key)
        if client is None:
            with sfn_client_lock:
                if key not in sfn_client_cache:   # moto's factory, with a pool for every concurrent execution
                    sfn_client_cache[key] = boto3.client(
                        service_name=service, region_name=region, aws_access_key_id="ak",
                        aws_secret_access_key="sk", config=Config(  # noqa: S106 - moto's dummy credentials
                            parameter_validation=False, retries={"max_attempts": 0, "total_max_attempts": 1},
                            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
                            max_pool_connections=CLIENT_POOL_CONNECTIONS),
                        **({} if key[3] else {"endpoint_url": f"http://localhost:{key[2]}"}))
                client = sfn_client_cache[key]
        return client

    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    entrypoint = ExecutionWorker._get_evaluation_entrypoint
    programs: dict[str, object] = {}   # definition text → moto's parsed program

    def parsed_once(worker: Any) -> object:
        definition = worker._evaluation_details.state_machine_details.definition
        program = programs.get(definition)
        if program is None:
            program = programs.setdefault(definition, entrypoint(worker))
        return program

    users = [module for name, module in list(sys.modules.items()) if name.startswith("moto.stepfunctions.parser")
             and getattr(module, "boto_client_for", None) is build_client]

    def untracked(cls: type, *args: Any, **kwargs: Any) -> Any:
        return object.__new__(cls)

    def saved_item(backend: Any, kind: str, operation: JsonValue) -> tuple[Any, Any, Any, Any] | None:
        """(table, hash key, range key, a copy of the item as it is now or None) of the item one operation writes;
        None when moto refuses the operation before writing anything. Tables and items are moto's (untyped)."""
        table = backend.tables.get(operation.get("TableName")) if isinstance(operation, dict) else None
        if table is None or not isinstance(operation, dict):
            return None
        key: Any = operation.get("Item" if kind == "Put" else "Key")   # DynamoDB JSON, as moto's DynamoType takes it
        if not isinstance(key, dict) or table.hash_key_attr not in key or (
                table.range_key_attr is not None and table.range_key_attr not in key):
            return None
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr is not None else None
        return table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))

    def written(backend: Any, transact_items: list[JsonObject]) -> list[tuple[Any, Any, Any, Any]]:
        """``saved_item`` of each item a transaction writes."""
        saved = (saved_item(backend, kind, operation) for entry in transact_items for kind, operation in entry.items())
        return [entry for entry in saved if entry is not None]

    def transact_write_items(backend: Any, transact_items: list[JsonObject]) -> None:
        saved = written(backend, transact_items)
        # moto's whole-table "backup" becomes the table itself
        with mock.patch.object(Table, "__deepcopy__", lambda table, memo: table, create=True):
            try:
                transact(backend, transact_items)
            except BaseException:
                for table, hash_key, range_key, item in reversed(saved):
                    bucket = table.items[hash_key] if range_key is not None else table.items
                    slot = range_key if range_key is not None else hash_key
                    if item is None:
                        bucket.pop(slot, None)
                    else:
                        bucket[slot] = item
                raise

    patches = [
        (BaseModel, "__new__", staticmethod(untracked)),
        (DynamoDBBackend, "transact_write_items", transact_write_items),
        (backends, "list_of_moto_modules", lambda: module_names),
        (DomainDispatcherApplication, "get_backend_for_host", remembered_backend_for_host),
        (BaseExecutionWorkerCommunication, "terminated", forget_finished_express),
        (StateMachine, "__init__", with_snapshot_iteration),
        *((module, "boto_client_for", kept_client) for module in users),
        (ExecutionWorker, "_get_evaluation_entrypoint", parsed_once),
        (SQSBackend, "get_queue_attributes", attributes_once),
        (Queue, "attributes", property(attributes)),
        (SQSBackend, "send_message", send_without_counts),
        (SQSBackend, "is_message_valid_based_on_retention_period", within_retention),
    ]
    with contextlib.ExitStack() as undo:   # every patch undone at exit, in reverse order, whatever happens
        for owner, name, value in patches:
            undo.enter_context(mock.patch.object(owner, name, value))
        yield


def keep_alive_moto_server(host: str = "127.0.0.1") -> Any:
    """moto's threaded server, with HTTP/1.1 keep-alive.

    Werkzeug's development server sends ``Connection: close`` on every response ("Python's http.server ... doesn't
    know how to drain the stream before the next request line"), so every AWS call of the stack opened a new TCP
    connection to moto, and moto started a new thread for it: about 14 per document (measured alone: 4.0 ms of CPU
    per DynamoDB call with a new connection each, 2.5 ms on a kept one).
    Here the request body is read whole before moto sees it (from a ``Content-Length``; a chunked request still
    closes), so the stream is always drained, and the connection stays open for the client's pool. While moto runs,
    the handler reads from an empty buffer: Werkzeug's own drain after the response would otherwise swallow (and
    block on) the client's next request."""
    import io

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from moto.server import ThreadedMotoServer
    from werkzeug.serving import make_server

    class KeepAliveRequestHandler(MotoRequestHandler):
        drained = False
        connection_stream: io.BufferedIOBase | None = None
        # Werkzeug writes the status line, each header and the body separately: on a connection that stays open,
        # Nagle's algorithm held each response back until the client's delayed ACK (40 ms per call)
        disable_nagle_algorithm = True

        def make_environ(self) -> WSGIEnvironment:
            environ = super().make_environ()
            length = self.headers.get("Content-Length")
            self.drained = "Transfer-Encoding" not in self.headers and (length is None or length.isdigit())
            if self.drained:
                environ["wsgi.input"] = io.BytesIO(self.rfile.read(int(length)) if length else b"")
                self.connection_stream, self.rfile = self.rfile, io.BytesIO()
            return environ

        def run_wsgi(self) -> None:
            try:
                super().run_wsgi()
            finally:
                stream = self.connection_stream
                if stream is not None:
                    self.rfile, self.connection_stream = stream, None

        def send_header(self, keyword: str, value: str) -> None:
            if self.drained and keyword.lower() == "connection" and value.lower() == "close":
                return
            super().send_header(keyword, value)

    class KeepAliveMotoServer(ThreadedMotoServer):
        def _server_entry(self) -> None:
            app = DomainDispatcherApplication(create_backend_app)
            self._server = make_server(self._ip_address, self._port, app, True,
                                       request_handler=KeepAliveRequestHandler)
            self._server_ready_event.set()
            self._server.serve_forever()

    return KeepAliveMotoServer(ip_address=host, port=0, verbose=False)


class LocalRuntime:
    def __init__(self, options: LocalOptions) -> None:
        self.options = options
        self.config: LedgerLinkConfig | None = None
        self.config_version: int | None = None
        self.resources: Resources | None = None
        self.secrets: dict[str, local_secrets.LocalSecret] = {}
        self.injected: InjectedFaults | None = None   # while `--faults` is on
        self._saved_moto_config: DefaultConfig | None = None
        self._server: Any = None
        self._front: WebhookFront | None = None
        self._pollers: list[SqsPoller] = []
        self._host: FunctionHost | None = None
        self._saved_env: dict[str, str | None] = {}
        self._log: IO[str] | None = None
        self._lambdas: AbstractContextManager[None] | None = None
        self._atomic: AbstractContextManager[Any] | None = None   # enters as the lock every item operation takes
        self.fake_apis: FakeSourceApis | None = None
        self.api_credentials: dict[str, dict[str, str]] = {}
        self._poll_stop: threading.Event | None = None
        self._scheduler: threading.Thread | None = None
        self._stopping = threading.Event()
        self._lean_moto: AbstractContextManager[None] | None = None
        self.state: StateDir | None = None
        self.recovery: Recovery | None = None
        self._write_through: AbstractContextManager[None] | None = None
        self._dynamodb_lock: Any = None
        self._snapshots: threading.Thread | None = None
        self.snapshots_written = 0
        self._up = False   # start() completed: only then may a snapshot replace the previous one
        self._client_config: Any = None

    # ---- lifecycle -----------------------------------------------------------------------------

    def start(self) -> LocalRuntime:
        self.config = load_config_file(self.options.config_path)  # ConfigError: line-numbered message
        state = self.options.state_dir
        # LocalStateError (a foreign directory, a damaged snapshot) before anything is started
        self.state = StateDir(state, prefix=self.options.prefix, durable=self.options.durable)
        snapshot = self.state.prepare(fresh=self.options.fresh)
        self._start_fake_apis()
        (state / "books").mkdir(parents=True, exist_ok=True)
        self._log = (state / "lambda.log").open("a", encoding="utf-8")
        signed: dict[str, str] = {source.id: source.kind for source in self.config.sources
                                  if source.signing_secret is not None}
        self.secrets = local_secrets.resolve(list(signed), kinds=signed,
                                             secrets_file=self.options.secrets_file,
                                             default_file=self.options.secrets_default_file)
        self._start_moto()
        self._host = FunctionHost(prefix=self.options.prefix, log_stream=self._log, faults=self.options.faults)
        self._lambdas = in_process_lambdas(self._host)
        self._lambdas.__enter__()
        self._atomic = atomic_dynamodb()
        self._dynamodb_lock = self._atomic.__enter__()
        self.resources = create_resources(
            prefix=self.options.prefix, books_dir=state / "books", host=self._host, legacy_dir=state / "legacy",
            visibility_timeout_seconds=self.options.visibility_timeout_seconds,
            max_receive_count=self.options.max_receive_count)
        try:
            self.recovery = restore(self.state, snapshot, self.resources)   # before anything reads or writes
        except LocalStateError:   # a damaged or foreign object, a table this version lacks: undo what started
            self.stop()
            raise
        self._write_through = s3_write_through(self.state)
        self._write_through.__enter__()
        for key, value in self.resources.environment().items():
            self._set_env(key, value)
        for name in FUNCTION_NAMES:  # fail fast if a settings class needs a variable nobody set
            settings.read_settings(settings.LOCAL_FUNCTION_SETTINGS[name])
        self.config_version = apply_config(self.resources, self.config,
                                           applied_by=f"local:{self.options.config_path}")
        store_secrets(self.config, {source_id: secret.values for source_id, secret in self.secrets.items()})
        store_api_credentials(self.config, self.api_credentials)
        if self.recovery.restored:
            recover(self.state, snapshot, self.resources, self.recovery)
        if self.options.injected_faults is not None and self.options.injected_faults.active:
            from ledgerlink.local.faults import InjectedFaults

            self.injected = InjectedFaults(self.options.injected_faults)
            self.injected.install(clients.client("dynamodb"))   # after the configuration was applied
        self._start_pollers()
        self._start_scheduler()
        self._start_snapshots()
        import getpass

        self._front = WebhookFront(lambda event: self.host.invoke("ingest", event), port=self.options.port,
                                   ops=lambda event: self.host.invoke("ops", event),
                                   console=lambda event: self.host.invoke("console", event),
                                   caller=f"local:{getpass.getuser()}")
        self._front.start()
        self._write_stack_file()
        if self.resources.console is not None:
            self.resources.console.write(self.options.state_dir)
        self._up = True
        return self

    # ---- state across restarts (ledgerlink.local.state) ---------------------------------------------------------

    def snapshot(self) -> int:
        """Write DynamoDB and SQS to ``state_dir/snapshot.json`` now (atomically); returns its size in bytes."""
        assert self.state is not None and self.resources is not None, "runtime not started"
        written = self.state.write_snapshot(capture(self.resources, self._dynamodb_lock))
        self.snapshots_written += 1
        return written

    def _start_snapshots(self) -> None:
        interval = self.options.snapshot_every_seconds
        if interval <= 0:
            return

        def tick() -> None:
            while not self._stopping.wait(interval):
                try:
                    self.snapshot()
                except Exception:  # noqa: BLE001 - the previous snapshot stays; the next tick tries again
                    logging.getLogger(__name__).exception("periodic snapshot failed")

        self._snapshots = threading.Thread(target=tick, name="state-snapshots", daemon=True)
        self._snapshots.start()

    def _write_stack_file(self) -> None:
        """What CLI commands in another terminal need to reach this stack (``ledgerlink status`` ...)."""
        from ledgerlink.ops.target import write_local_target

        assert self.resources is not None
        write_local_target(self.options.state_dir, endpoint=os.environ["AWS_ENDPOINT_URL"],
                           environment=self.resources.environment(),
                           webhook_base=f"{self.front.url}/webhooks/",
                           api_base_url=self.fake_apis.url if self.fake_apis is not None else None)

    def _start_fake_apis(self) -> None:
        from ledgerlink.config.sources import api_credentials

        assert self.config is not None
        with_api = [source for source in self.config.sources if api_credentials(source) is not None]
        if not with_api or not self.options.fake_source_apis:
            return
        self.api_credentials = {source.id: generate_credentials(source.kind) for source in with_api}
        self.fake_apis = FakeSourceApis(functions_dir().parent / "events", credentials={
            source.kind: self.api_credentials[source.id] for source in with_api}).start()
        self.config = with_api_base_url(self.config, self.fake_apis.url)

    def poll(self, source_id: str | None = None) -> JsonObject:
        """Invoke the poll function as EventBridge Scheduler does (one source, or every polled source)."""
        answer: JsonObject = self.host.invoke("poll", {"source": source_id} if source_id else {})
        return answer

    def stop(self, timeout: float | None = None) -> None:
        """Stop everything this runtime started. ``timeout`` bounds the waits (``local up`` on SIGTERM/Ctrl-C):
        a poller still inside a batch, or executions left to stop past it, are abandoned on their daemon threads —
        their messages stay unacknowledged, as a Lambda killed mid-batch leaves them. Without it, every running
        execution is stopped (tests start further runtimes in the same process) and each join waits up to 5 s."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left(cap: float = 5.0) -> float:
            return cap if deadline is None else max(0.05, min(cap, deadline - time.monotonic()))

        self._stop_threads(left)
        if self._server:
            self.stop_executions(deadline=deadline)
            if self._up:   # what is done is kept; what was cut short is re-driven at the next start
                try:
                    self.snapshot()
                except Exception:  # noqa: BLE001 - the periodic snapshot and the archive on disk still recover it
                    logging.getLogger(__name__).exception("final snapshot failed")
            self._up = False
            self._server.stop()
        self._undo_patches()
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if self._client_config is not None:
            clients._config = self._client_config  # noqa: SLF001
            self._client_config = None
        wiring.reset()
        if self._log:
            self._log.close()

    def _stop_threads(self, left: Callable[[], float]) -> None:
        """Injected faults removed, then the front, the poll schedule, the pollers, the fake vendor APIs, the flush
        schedule and the snapshots stopped; each join waits ``left()`` seconds at most."""
        if self.injected is not None:
            self.injected.remove()
        if self._front:  # no new webhooks from here on: answered requests were acknowledged, nothing else is
            self._front.stop()
        if self._poll_stop is not None:
            self._poll_stop.set()
        self._stopping.set()
        for poller in self._pollers:  # all of them told at once: their long polls end together
            poller.stop()
        if self.fake_apis is not None:
            self.fake_apis.stop()
        if self._scheduler is not None:
            self._scheduler.join(timeout=left())
        for poller in self._pollers:
            poller.join(timeout=left())
        if self._snapshots is not None:
            self._snapshots.join(timeout=left())

    def _undo_patches(self) -> None:
        """The S3 write-through, moto's configuration, the in-process Lambdas, the DynamoDB lock and ``lean_moto``
        undone, in that order (``lean_moto`` after ``atomic_dynamodb``, which wraps it)."""
        if self._write_through is not None:
            self._write_through.__exit__(None, None, None)
            self._write_through = None
        if self._saved_moto_config is not None:
            from moto.core.config import default_user_config

            # moto's configuration is a plain dict at run time (typed as a TypedDict, which has no clear())
            cast(dict[str, object], default_user_config).clear()
            default_user_config.update(self._saved_moto_config)
            self._saved_moto_config = None
        for attribute in ("_lambdas", "_atomic", "_lean_moto"):
            manager: AbstractContextManager[object] | None = getattr(self, attribute)
            if manager is not None:
                manager.__exit__(None, None, None)
                setattr(self, attribute, None)

    def __enter__(self) -> LocalRuntime:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- accessors -----------------------------------------------------------------------------

    @property
    def host(self) -> FunctionHost:
        assert self._host is not None, "runtime not started"
        return self._host

    @property
    def front(self) -> WebhookFront:
        assert self._front is not None, "runtime not started"
        return self._front

    @property
    def console_url(self) -> str:
        """The finance-ops console, served by the same front as the webhooks (``/console``)."""
        return f"{self.front.url}/console/"

    def webhook_url(self, source_id: str) -> str:
        return f"{self.front.url}/webhooks/{source_id}"

    def drop_bank_file(self, source_id: str, name: str, body: bytes) -> JsonObject:
        """Put a statement file under the inbox prefix (``<INBOX_PREFIX><source>/``) and deliver the S3 event, as S3
        would on AWS."""
        from ledgerlink.service.bank_files import INBOX_PREFIX

        assert self.resources is not None
        key = f"{INBOX_PREFIX}{source_id}/{name}"
        self.client("s3").put_object(Bucket=self.resources.archive_bucket, Key=key, Body=body)
        event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "awsRegion": REGION,
                              "s3": {"bucket": {"name": self.resources.archive_bucket},
                                     "object": {"key": key, "size": len(body)}}}]}
        answer: JsonObject = self.host.invoke("bank_file", event)
        return answer

    def client(self, service: str) -> Any:
        return clients.client(service)

    @property
    def books_dir(self) -> Path:
        return self.options.state_dir / "books"

    @property
    def legacy_dir(self) -> Path:
        return self.options.state_dir / "legacy"

    # ---- the scheduled flush (EventBridge Scheduler on AWS) ------------------------------------------

    def flush(self, through: str | None = None) -> JsonObject:
        """Invoke the flush function as the schedule would (``through``: a manual run up to that date)."""
        answer: JsonObject = self.host.invoke("flush", {"through": through} if through else {})
        return answer

    def release(self, entity: str | None = None, period: str | None = None) -> JsonObject:
        """Invoke the revenue release as the entity's schedule would (``period``: a manual run of an ended period)."""
        answer: JsonObject = self.host.invoke("revenue_release", {key: value for key, value in
                                                                  (("entity", entity), ("period", period)) if value})
        return answer

    def _start_scheduler(self) -> None:
        interval = self.options.flush_interval_seconds
        if interval <= 0:
            return

        def tick() -> None:
            while not self._stopping.wait(interval):
                for name, run in (("flush", self.flush), ("revenue release", self.release)):
                    try:
                        run()
                    except Exception:  # noqa: BLE001 - logged by the handler; the next tick tries again
                        logging.getLogger(__name__).exception("scheduled %s failed", name)

        self._scheduler = threading.Thread(target=tick, name="flush-schedule", daemon=True)
        self._scheduler.start()

    def book_main_file(self, connection_id: str) -> Path:
        from ledgerlink.config.erps import BeancountConnection

        assert self.config is not None
        connection = self.config.connection(connection_id)
        if not isinstance(connection, BeancountConnection):
            raise TypeError(f"{connection_id!r} is not a Beancount book")
        return (self.books_dir / connection.book / "main.beancount").resolve()

    # ---- moto ----------------------------------------------------------------------------------

    def _set_env(self, key: str, value: str) -> None:
        if key not in self._saved_env:
            self._saved_env[key] = os.environ.get(key)
        os.environ[key] = value

    def _start_moto(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._lean_moto = lean_moto()
        self._lean_moto.__enter__()
        self._server = keep_alive_moto_server("127.0.0.1")
        self._server.start()
        host, port = self._server.get_host_and_port()
        for key in _AWS_ENV:
            self._saved_env.setdefault(key, os.environ.get(key))
        os.environ.pop("AWS_PROFILE", None)
        os.environ.pop("AWS_SESSION_TOKEN", None)
        self._set_env("AWS_ENDPOINT_URL", f"http://{host}:{port}")
        self._set_env("AWS_ACCESS_KEY_ID", "local")
        self._set_env("AWS_SECRET_ACCESS_KEY", "local")  # noqa: S105 - moto's dummy credentials
        self._set_env("AWS_DEFAULT_REGION", REGION)
        self._set_env("AWS_REGION", REGION)
        self._set_env("MOTO_PORT", str(port))  # moto's Step Functions engine calls Lambda on localhost:MOTO_PORT
        self._set_env("POWERTOOLS_METRICS_NAMESPACE", "LedgerLinkLocal")
        self._set_env("POWERTOOLS_METRICS_DISABLED", "true")  # EMF goes to CloudWatch on AWS; nowhere locally
        for key, value in self.options.extra_env.items():
            self._set_env(key, value)
        self._pool_clients()
        wiring.reset()
        import urllib.request

        # moto keeps its backends per process: a second runtime in the same process (tests) starts empty
        urllib.request.urlopen(urllib.request.Request(  # noqa: S310 - loopback only
            f"http://{host}:{port}/moto-api/reset", method="POST", data=b""), timeout=10).read()
        import copy

        from moto.core.config import default_user_config

        # moto's configuration is process-global: kept to be restored at stop, so a later in-process mock_aws
        # (tests) does not inherit this stack's Step Functions execution engine
        self._saved_moto_config = copy.deepcopy(default_user_config)
        request = urllib.request.Request(
            f"http://{host}:{port}/moto-api/config", method="POST",
            data=json.dumps(MOTO_CONFIG).encode(),
            headers={"Content-Type": "application/json"})
        urllib.request.urlopen(request, timeout=10).read()  # noqa: S310 - loopback only

    def _pool_clients(self) -> None:
        from botocore.config import Config

        original = self._client_config = clients._config  # noqa: SLF001 - sized for one process of many containers
        clients._config = lambda: original().merge(  # noqa: SLF001
            Config(max_pool_connections=CLIENT_POOL_CONNECTIONS))

    def _start_pollers(self) -> None:
        assert self.resources is not None
        for _ in range(max(1, self.options.pollers)):
            poller = SqsPoller(sqs=self.client("sqs"), queue_url=self.resources.inbound_queue_url,
                               queue_arn=self.resources.inbound_queue_arn,
                               invoke=lambda event: self.host.invoke("normalize", event),
                               batch_size=self.options.batch_size, region=REGION)
            poller.start()
            self._pollers.append(poller)
        if self.options.poll_every_seconds:
            import threading

            stop = self._poll_stop = threading.Event()
            every = self.options.poll_every_seconds

            def scheduled() -> None:
                while not stop.wait(every):
                    try:
                        self.poll()
                    except Exception:  # noqa: BLE001 - like a failed scheduled invocation: logged, retried next time
                        logging.getLogger("ledgerlink.local").warning("scheduled poll failed", exc_info=True)

            threading.Thread(target=scheduled, daemon=True, name="poll-schedule").start()

    # ---- observation ---------------------------------------------------------------------------

    def queue_depths(self) -> dict[str, dict[str, int]]:
        assert self.resources is not None
        sqs = self.client("sqs")
        depths = {}
        for label, url in (("inbound", self.resources.inbound_queue_url), ("inbound-dlq", self.resources.inbound_dlq_url)):
            attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
                "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
            depths[label] = {"visible": int(attributes["ApproximateNumberOfMessages"]),
                             "in_flight": int(attributes["ApproximateNumberOfMessagesNotVisible"])}
        return depths

    def running_executions(self) -> int:
        """Running executions of the Standard workflow (those parked on an exception case included)."""
        assert self.resources is not None
        return len(running_executions(self.resources.state_machine_arn))

    def stop_executions(self, deadline: float | None = None) -> int:
        """Stop every running execution of both machines; returns how many. moto runs them on threads of this
        process that outlive the server: left running (a run stopped halfway, e.g. by a failed check), they would
        go on invoking the handlers of the next runtime started in this process, for documents it never saw.
        Past ``deadline`` (``time.monotonic()``) the rest are left: the process is about to exit."""
        if self.resources is None:
            return 0
        stopped = 0
        for arn in (self.resources.happy_path_arn, self.resources.state_machine_arn):
            if deadline is not None and time.monotonic() > deadline:
                return stopped
            for execution in running_executions(arn):
                if deadline is not None and time.monotonic() > deadline:
                    return stopped
                with contextlib.suppress(Exception):   # finished meanwhile
                    self.client("stepfunctions").stop_execution(
                        executionArn=execution, error="LocalRuntimeStopped", cause="the local stack was stopped")
                    stopped += 1
        return stopped

    def is_idle(self) -> bool:
        before = self.host.activity
        if before[0] or any(poller.busy for poller in self._pollers):
            return False
        inbound = self.queue_depths()["inbound"]
        if inbound["visible"] or inbound["in_flight"]:
            return False
        assert self.resources is not None
        if running_executions(self.resources.happy_path_arn):
            return False
        # an execution waiting on an exception case's task token is idle: it waits for a person — unless a
        # handler ran while this looked (a case written, its document not yet marked)
        parked = self.running_executions() <= waiting_for_decisions(self.resources.tables["exceptions"])
        return parked and self.host.activity == before

    def wait_idle(self, timeout: float = 120.0, settle: float = 0.3) -> bool:
        """True once queues are drained, pollers idle and no execution runs — twice in a row."""
        deadline = time.monotonic() + timeout
        streak = 0
        while time.monotonic() < deadline:
            streak = streak + 1 if self.is_idle() else 0
            if streak >= 2:
                return True
            time.sleep(settle)
        return False

    def executions(self) -> list[dict[str, object]]:   # boto3's ListExecutions items
        assert self.resources is not None
        paginator = self.client("stepfunctions").get_paginator("list_executions")
        return [execution for page in paginator.paginate(stateMachineArn=self.resources.state_machine_arn)
                for execution in page["executions"]]
