"""The ERP connection limiter's shared state in DynamoDB: one item per connection, optimistic concurrency.

Every Lambda (post steps of many executions, the flush) reads the item, lets
``ledgerlink.model.ratelimit.decide`` grant or refuse, and writes the new state only if nobody
wrote in between (``version`` condition); a lost race re-reads and decides again. Releases and Retry-After
blocks go through the same conditional write, so no update is ever lost.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ledgerlink.errors import RateLimited, TransientError
from ledgerlink.model.ratelimit import (
    LimiterState,
    LimitPolicy,
    decide,
    real_sleep,
    wall_clock_ms,
)
from ledgerlink.store.clients import client as default_client
from ledgerlink.store.clients import error_code
from ledgerlink.store.dynamo import from_item, to_item, value

MAX_RACES = 25


class DynamoLimiter:
    def __init__(self, table: str, connection_id: str, policy: LimitPolicy, *, client: Any = None,
                 clock: Callable[[], int] = wall_clock_ms, sleeper: Callable[[float], None] = real_sleep,
                 max_wait_ms: int = 2_000) -> None:
        self._table = table
        self.connection_id = connection_id
        self.policy = policy
        self._client = client
        self._clock = clock
        self._sleep = sleeper
        self._max_wait_ms = max_wait_ms

    @property
    def client(self) -> Any:
        return self._client or default_client("dynamodb")

    # ---- state --------------------------------------------------------------------------------------

    def state(self) -> LimiterState:
        response = self.client.get_item(TableName=self._table, Key={"connection_id": value(self.connection_id)},
                                        ConsistentRead=True)
        if "Item" not in response:
            return LimiterState()
        item = from_item(response["Item"])
        return LimiterState(tokens_milli=int(item.get("tokens_milli", -1)), refilled_ms=int(item.get("refilled_ms", 0)),
                            hours={k: int(v) for k, v in (item.get("hours") or {}).items()},
                            blocked_until_ms=int(item.get("blocked_until_ms", 0)),
                            leases={k: int(v) for k, v in (item.get("leases") or {}).items()},
                            version=int(item.get("version", 0)))

    def _write(self, previous: LimiterState, new: LimiterState) -> bool:
        item = {"connection_id": self.connection_id, "tokens_milli": new.tokens_milli, "refilled_ms": new.refilled_ms,
                "hours": new.hours, "blocked_until_ms": new.blocked_until_ms,
                "leases": new.leases, "version": previous.version + 1}
        try:
            if previous.version == 0:
                self.client.put_item(TableName=self._table, Item=to_item(item),
                                     ConditionExpression="attribute_not_exists(connection_id) OR version = :v",
                                     ExpressionAttributeValues={":v": value(0)})
            else:
                self.client.put_item(TableName=self._table, Item=to_item(item), ConditionExpression="version = :v",
                                     ExpressionAttributeValues={":v": value(previous.version)})
        except Exception as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def _update(self, change: Callable[[LimiterState], LimiterState]) -> None:
        for _ in range(MAX_RACES):
            current = self.state()
            if self._write(current, change(current)):
                return
        raise TransientError(f"limiter {self.connection_id}: too much contention", reason="limiter_contention")

    # ---- Limiter ------------------------------------------------------------------------------------

    def acquire(self, cost: int = 1) -> str:
        lease = uuid.uuid4().hex[:16]
        races = 0
        while True:
            current = self.state()
            decision = decide(current, self.policy, self._clock(), lease, cost)
            if decision.granted:
                if self._write(current, decision.state):
                    return lease
                races += 1
                if races > MAX_RACES:
                    raise TransientError(f"limiter {self.connection_id}: too much contention",
                                         reason="limiter_contention")
                continue
            if decision.wait_ms > self._max_wait_ms:
                raise RateLimited(f"connection {self.connection_id}: {decision.why} limit reached",
                                  retry_after=decision.wait_ms / 1000, limit=decision.why)
            self._sleep(decision.wait_ms / 1000)

    def release(self, lease: str) -> None:
        if not lease:
            return

        def without(state: LimiterState) -> LimiterState:
            leases = dict(state.leases)
            leases.pop(lease, None)
            return replace(state, leases=leases)

        self._update(without)

    def penalize(self, seconds: float, why: str = "retry_after") -> None:
        until = self._clock() + int(seconds * 1000)

        def blocked(state: LimiterState) -> LimiterState:
            return replace(state, blocked_until_ms=max(state.blocked_until_ms, until))

        self._update(blocked)


class DynamoLimiters:
    """Limiter per connection id, built on first use (``ConnectorContext.limiters``)."""

    def __init__(self, table: str, *, client: Any = None, clock: Callable[[], int] = wall_clock_ms,
                 sleeper: Callable[[float], None] = real_sleep, max_wait_ms: int = 2_000) -> None:
        self._table = table
        self._client = client
        self._clock = clock
        self._sleeper = sleeper
        self._max_wait_ms = max_wait_ms
        self._built: dict[tuple[str, LimitPolicy], DynamoLimiter] = {}

    def for_connection(self, connection_id: str, policy: LimitPolicy) -> DynamoLimiter:
        key = (connection_id, policy)
        if key not in self._built:
            self._built[key] = DynamoLimiter(self._table, connection_id, policy, client=self._client,
                                             clock=self._clock, sleeper=self._sleeper, max_wait_ms=self._max_wait_ms)
        return self._built[key]
