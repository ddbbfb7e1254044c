"""Rehearsing incidents on a running local stack (issue 18): the faults the chaos suite injects, for an operator.

``ledgerlink local up --faults erp=0.2,throttle=0.05 [--faults-seed N]`` turns them on:

- ``erp=P``: each write of a posting to the embedded book fails, on its first two attempts, with probability P, as
  one of: unavailable before the write (503: nothing written), rate limited (429 with Retry-After), a timeout before
  the write, or an **uncertain outcome** (committed, then the connection dropped) — which only the post step's
  lookup by external id keeps from posting twice;
- ``throttle=P``: each DynamoDB write is refused with probability P the way DynamoDB refuses under load —
  ``ProvisionedThroughputExceededException`` / ``ThrottlingException`` (which the SDK retries) and, for
  transactions, ``TransactionCanceledException`` with a ``ThrottlingError`` reason (which it does not). A refused
  write is never applied.

Decisions are seeded coins per (operation, payload, attempt): the same run makes the same decisions whatever the
thread interleaving, and nothing depends on the clock. The operator then practises what the runbooks say: cases in
the queue (``ledgerlink exceptions list``), the DLQ (``ledgerlink dlq list`` / ``redrive``), ``ledgerlink replay``,
and a reconciliation that names what is still in flight.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


def decide(seed: int, key: str, probability: float) -> bool:
    """A seeded coin per key: the same run makes the same decisions whatever the thread interleaving."""
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < probability


class _Raw:
    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


class DynamoThrottles:
    """A botocore ``before-send`` hook on a DynamoDB client: a seeded share of writes is refused as DynamoDB refuses
    them under load (see the module docstring). ``on`` switches it; ``injected`` counts what it refused."""

    WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})

    def __init__(self, seed: int, probability: float) -> None:
        self.seed = seed
        self.probability = probability
        self.on = False
        self.injected: Counter[str] = Counter()
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        operation = (request.headers.get("X-Amz-Target") or b"").decode().rsplit(".", 1)[-1]
        if not self.on or operation not in self.WRITES:
            return None
        body = request.body if isinstance(request.body, bytes) else str(request.body or "").encode()
        key = hashlib.sha256(body).hexdigest()
        with self._lock:
            self._attempts[key] += 1
            attempt = self._attempts[key]
        if not decide(self.seed, f"ddb:{operation}:{key}:{attempt}", self.probability):
            return None
        if operation == "TransactWriteItems" and decide(self.seed, f"ddb-cancel:{key}:{attempt}", 0.5):
            items = len(json.loads(body).get("TransactItems", [])) or 1
            code, payload = "TransactionCanceledException", {
                "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
                "message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
                           f"[{', '.join(['ThrottlingError'] + ['None'] * (items - 1))}]",
                "CancellationReasons": [{"Code": "ThrottlingError", "Message": "Throughput exceeds the current "
                                         "capacity of your table or index."}] + [{"Code": "None"}] * (items - 1)}
        else:
            code = "ProvisionedThroughputExceededException" if attempt % 2 else "ThrottlingException"
            payload = {"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "Rate of requests exceeds"}
        with self._lock:
            self.injected[f"{operation}:{code}"] += 1
        return AWSResponse(request.url, 400, {"x-amzn-RequestId": "chaos", "Content-Type": "application/x-amz-json-1.0"},
                           _Raw(json.dumps(payload).encode()))


class ErpFaults:
    """Faults at the ERP connector seam (the book's create-once write of a posting), each decided per document and
    attempt (at most the first two attempts of a posting fail, so every posting can complete)."""

    KINDS = ("unavailable", "rate_limited", "timeout_before", "committed_then_dropped")

    def __init__(self, seed: int, probability: float) -> None:
        self.seed = seed
        self.probability = probability
        self.injected: Counter[str] = Counter()
        self.attempts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def wrap[Store](self, create: Callable[[Store, str, str], bool]) -> Callable[[Store, str, str], bool]:
        from ledgerlink.errors import RateLimited, TransientError, UncertainOutcome

        faults = self

        def create_with_faults(store: Store, name: str, text: str) -> bool:
            if "postings/" not in name:
                return create(store, name, text)
            with faults._lock:
                faults.attempts[name] += 1
                attempt = faults.attempts[name]
            kind = None
            if attempt <= 2 and decide(faults.seed, f"erp:{name}:{attempt}", faults.probability):
                digest = hashlib.sha256(f"{faults.seed}:{name}:{attempt}".encode()).digest()
                kind = faults.KINDS[digest[0] % len(faults.KINDS)]
                with faults._lock:
                    faults.injected[kind] += 1
            if kind == "unavailable":
                raise TransientError("fault injected: the ERP answered 503", reason="erp_unavailable")
            if kind == "rate_limited":
                raise RateLimited("fault injected: the ERP answered 429", retry_after=2.0)
            if kind == "timeout_before":
                raise TransientError("fault injected: the ERP did not answer in time", reason="erp_timeout")
            created = create(store, name, text)
            if kind == "committed_then_dropped":
                raise UncertainOutcome("fault injected: the ERP committed, then the connection dropped")
            return created

        return create_with_faults


class FaultSpecError(ValueError):
    reason = "invalid_faults"


@dataclass(frozen=True)
class FaultPlan:
    """What ``--faults`` asked for: probabilities per fault kind, and the seed of the coins."""

    erp: float = 0.0
    throttle: float = 0.0
    seed: int = 0

    @property
    def active(self) -> bool:
        return self.erp > 0 or self.throttle > 0

    def describe(self) -> str:
        parts = [f"ERP write faults {self.erp:.0%}" if self.erp else "",
                 f"DynamoDB write throttling {self.throttle:.0%}" if self.throttle else ""]
        return ", ".join(part for part in parts if part) + f" (seed {self.seed})"


def parse_faults(spec: str, seed: int = 0) -> FaultPlan:
    """``erp=0.2,throttle=0.05`` → a :class:`FaultPlan`; anything else is a :class:`FaultSpecError` naming it."""
    values: dict[str, float] = {}
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        name, sep, raw = part.partition("=")
        if not sep or name.strip() not in ("erp", "throttle"):
            raise FaultSpecError(f"{part!r} is not erp=P or throttle=P")
        try:
            probability = float(raw)
        except ValueError:
            raise FaultSpecError(f"{raw!r} is not a probability") from None
        if not 0.0 <= probability <= 1.0:
            raise FaultSpecError(f"{name.strip()}={raw} is not between 0 and 1")
        values[name.strip()] = probability
    if not values:
        raise FaultSpecError("name at least one of erp=P, throttle=P")
    return FaultPlan(erp=values.get("erp", 0.0), throttle=values.get("throttle", 0.0), seed=seed)


class InjectedFaults:
    """The faults of a plan, installed on a running local stack (``install``) and removed (``remove``)."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self.erp = ErpFaults(plan.seed, plan.erp) if plan.erp else None
        self.throttles = DynamoThrottles(plan.seed, plan.throttle) if plan.throttle else None
        self._installed = False
        self._own_create: Any = None   # FileBookStore's own create, if it had one (else it inherits it)
        self._client: Any = None

    def install(self, dynamodb: Any) -> None:
        from ledgerlink.store.books import FileBookStore

        if self.erp is not None and not self._installed:
            self._own_create = FileBookStore.__dict__.get("create")
            FileBookStore.create = self.erp.wrap(FileBookStore.create)  # type: ignore[method-assign, assignment]
            self._installed = True
        if self.throttles is not None and self._client is None:
            self._client = dynamodb
            dynamodb.meta.events.register("before-send", self.throttles)
            self.throttles.on = True

    def remove(self) -> None:
        from ledgerlink.store.books import FileBookStore

        if self._installed:
            if self._own_create is None:
                del FileBookStore.create
            else:
                FileBookStore.create = self._own_create  # type: ignore[method-assign]
            self._installed = False
        if self.throttles is not None and self._client is not None:
            self.throttles.on = False
            self._client.meta.events.unregister("before-send", self.throttles)
            self._client = None

    def injected(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        if self.erp is not None:
            counts.update({f"erp:{kind}": n for kind, n in self.erp.injected.items()})
        if self.throttles is not None:
            counts.update({f"dynamodb:{kind}": n for kind, n in self.throttles.injected.items()})
        return dict(sorted(counts.items()))
