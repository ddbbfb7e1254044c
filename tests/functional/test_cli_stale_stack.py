"""A stack.json left by a stopped `ledgerlink local up` (issue 20): every command that reaches the stack says, in one
line, that the local stack does not answer and how to start it — not a 91-line botocore EndpointConnectionError."""

from __future__ import annotations

import json
import socket

from ledgerlink import cli


def closed_port() -> int:
    with socket.socket() as probe:   # a port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_stale_stack_file_is_one_line_that_says_to_start_the_stack(tmp_path, capsys):
    # Given the stack.json a stopped `local up` left behind (nothing listens on its port)
    (tmp_path / "stack.json").write_text(json.dumps({"endpoint": f"http://127.0.0.1:{closed_port()}", "environment": {},
                                                     "webhook_base": None}))
    for argv in (["status"], ["exceptions", "list"], ["documents", "list"], ["trace", "evt_1"], ["dlq", "list"]):
        assert cli.main([*argv, "--state-dir", str(tmp_path)]) == 1
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error: local_stack_down:" in err and "ledgerlink local up" in err, err


