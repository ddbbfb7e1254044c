"""The local function host says it is busy while any handler runs: the idle checks of the local runtime and the
functional harness rely on it, so an execution whose step has not returned is never taken for a parked one."""

from typing import Any

import pytest

from ledgerlink.local.functions import FunctionError, FunctionHost


class Probe:
    def __init__(self, host: FunctionHost) -> None:
        self.host = host
        self.seen: list[bool] = []

    def before(self, name: str, event: Any) -> None:
        self.seen.append(self.host.activity[0] > 0)
        if event.get("crash"):
            raise RuntimeError("simulated crash")

    def after(self, name: str, event: Any, result: Any) -> None:
        self.seen.append(self.host.activity[0] > 0)


def test_busy_while_a_handler_runs_and_not_after_it_returned_or_failed(monkeypatch):
    host = FunctionHost()
    probe = Probe(host)
    host.faults = probe
    monkeypatch.setattr(host, "module", lambda name: type("M", (), {"handler": staticmethod(lambda e, c: {"ok": 1})}))
    assert host.activity[0] == 0
    assert host.invoke("ingest", {}) == {"ok": 1}
    assert probe.seen == [True, True] and host.activity[0] == 0
    with pytest.raises(FunctionError):
        host.invoke("ingest", {"crash": True})
    assert probe.seen[-1] is True and host.activity[0] == 0


def test_activity_tells_an_idle_check_that_a_handler_ran_while_it_looked(monkeypatch):
    host = FunctionHost()
    monkeypatch.setattr(host, "module", lambda name: type("M", (), {"handler": staticmethod(lambda e, c: None)}))
    before = host.activity
    assert before == (0, 0)
    host.invoke("ingest", {})    # a handler started and finished between two reads: nothing in flight either time
    assert host.activity == (0, 1) != before
