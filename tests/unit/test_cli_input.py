"""The operator CLI never lies and never crashes (issue 20): input it does not understand is refused with exit 2 and
one line on stderr before anything is read or written; every failure is one line that says what to do, with the
traceback only under --debug."""

from __future__ import annotations

import errno
import io

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

from ledgerlink import cli
from ledgerlink.cli_support.failures import describe
from ledgerlink.cli_support.output import Progress, cell, table

from tests.conftest import EVENTS, EXAMPLE_CONFIG

NO_STACK = ["--state-dir", "/nonexistent/ledgerlink-state"]   # reaching a stack would fail differently

BAD_INPUT = {
    "reconcile month 13": (["reconcile", "--date", "2026-13-45"], "invalid_date"),
    "reconcile yesterday": (["reconcile", "--date", "yesterday"], "invalid_date"),
    "reconcile entity": (["reconcile", "--date", "2026-01-01", "--entity", "US 99"], "invalid_entity"),
    "waterfall from banana": (["revenue", "waterfall", "--entity", "us01", "--from", "banana"], "invalid_period"),
    "waterfall month 13": (["revenue", "waterfall", "--entity", "us01", "--to", "2026-13"], "invalid_period"),
    "waterfall from after to": (["revenue", "waterfall", "--entity", "us01", "--from", "2026-05", "--to", "2026-01",
                                 *NO_STACK], "invalid_period_range"),
    "waterfall entity": (["revenue", "waterfall", "--entity", "us/99"], "invalid_entity"),
    "schedule document": (["revenue", "schedule", "--document", "in_123"], "invalid_document_id"),
    "exceptions status": (["exceptions", "list", "--status", "bogus"], "invalid_status"),
    "exceptions entity": (["exceptions", "list", "--entity", "zz99!"], "invalid_entity"),
    "exception id": (["exceptions", "show", "two words"], "invalid_id"),
    "replay short date": (["replay", "--from", "2026-1-1", "--to", "2026-01-02"], "invalid_date"),
    "replay document": (["replay", "--document", "evt_123"], "invalid_document_id"),
    "replay no scope": (["replay", *NO_STACK], "replay_scope"),
    "replay half range": (["replay", "--from", "2026-01-01", *NO_STACK], "replay_scope"),
    "replay both scopes": (["replay", "--document", "doc_abc", "--from", "2026-01-01", "--to", "2026-01-02",
                            *NO_STACK], "replay_scope"),
    "replay reversed": (["replay", "--from", "2026-02-01", "--to", "2026-01-01", *NO_STACK], "invalid_date_range"),
    "replay version": (["replay", "--document", "doc_abc", "--mapping-version", "-1"], "invalid_number"),
    "close-check period": (["close-check", "--entity", "us01", "--period", "2026-13"], "invalid_period"),
    "close-check entity": (["close-check", "--entity", "U S", "--period", "2026-01"], "invalid_entity"),
    "documents status": (["documents", "list", "--status", "postd"], "invalid_status"),
    "documents date": (["documents", "list", "--date", "2026-02-30"], "invalid_date"),
    "documents amount": (["documents", "list", "--min-amount", "ten"], "invalid_amount"),
    "documents amount nan": (["documents", "list", "--max-amount", "NaN"], "invalid_amount"),
    "documents limit": (["documents", "list", "--limit", "0"], "invalid_number"),
    "documents show": (["documents", "show", "a b"], "invalid_id"),
    "documents both dates": (["documents", "list", "--date", "2026-01-01", "--from", "2026-01-01", *NO_STACK],
                             "conflicting_dates"),
    "documents reversed": (["documents", "list", "--from", "2026-01-02", "--to", "2026-01-01", *NO_STACK],
                           "invalid_date_range"),
    "documents amounts": (["documents", "list", "--min-amount", "5", "--max-amount", "1", *NO_STACK],
                          "invalid_amount_range"),
    "stack name": (["status", "--stack", "my stack"], "invalid_stack"),
    "trace empty": (["trace", ""], "invalid_id"),
    "dlq show": (["dlq", "show", ""], "invalid_id"),
    "flush through": (["local", "flush", "--through", "tomorrow"], "invalid_date"),
    "release period": (["local", "release", "--period", "2026-00"], "invalid_period"),
    "drop-file missing": (["local", "drop-file", "/nonexistent/file.xml", *NO_STACK], "file_not_found"),
    "books check missing": (["books", "check", "/nonexistent/main.beancount"], "file_not_found"),
    "sign without source": (["local", "sign", str(EXAMPLE_CONFIG), "--secret", "whsec_x"], "source_required"),
    "sign unknown kind": (["local", "sign", str(EXAMPLE_CONFIG), "--source", "bank", "--secret", "x"],
                          "unknown_kind"),
    "unknown command": (["reconcilee"], "invalid choice"),
    "no command": ([], "required"),
}


@pytest.mark.parametrize("argv,reason", BAD_INPUT.values(), ids=BAD_INPUT.keys())
def test_bad_input_is_refused_with_exit_2_and_one_line(argv, reason, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)   # nothing may be written: the working directory stays empty
    assert cli.main(argv) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1, captured.err
    assert reason in lines[0] and "Traceback" not in captured.err
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []


def test_version():
    with pytest.raises(SystemExit):   # argparse's own --version, through the parser
        cli.build_parser().parse_args(["--version"])
    assert cli.main(["--version"]) == 0


def test_a_missing_local_stack_says_how_to_start_one(tmp_path, capsys):
    assert cli.main(["documents", "list", "--state-dir", str(tmp_path)]) == 2
    assert "ledgerlink local up" in capsys.readouterr().err


def test_an_invalid_date_in_the_config_file_is_file_and_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE_CONFIG.read_text() + "\ntax_codes:\n  - entity: us01\n    treatment: '*'\n"
                   "    tax_code: TAX-STD\n    effective_from: 2026-13-45\n")
    line = len(bad.read_text().splitlines())
    assert cli.main(["config", "validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}:{line}: tax_codes[0].effective_from: not a valid date or time '2026-13-45'" in err
    assert "Traceback" not in err


def test_a_typo_in_a_mapping_role_fails_validate_with_the_closest_name(tmp_path, capsys):
    typo = tmp_path / "typo.yaml"
    text = EXAMPLE_CONFIG.read_text()
    typo.write_text(text.replace("      receivable: Assets:US01:AccountsReceivable:Stripe",
                                 "      recievable: Assets:US01:AccountsReceivable:Stripe", 1))
    line = text.splitlines().index("      receivable: Assets:US01:AccountsReceivable:Stripe") + 1
    assert cli.main(["config", "validate", str(typo)]) == 2
    err = capsys.readouterr().err
    assert f"{typo}:{line}: error: unknown mapping role 'recievable'" in err and "did you mean 'receivable'?" in err
    # and the entity now lacks a role the rules need: a warning naming the document types it breaks
    assert "warning: entity us01 source stripe: no account for role 'receivable'" in err
    assert "invoice, credit_note, payment, write_off" in err
    # config diff and apply refuse it the same way, before reaching any stack
    assert cli.main(["config", "diff", str(typo), *NO_STACK]) == 2
    assert cli.main(["config", "apply", str(typo), *NO_STACK]) == 2
    assert "not applied" in capsys.readouterr().err


def test_the_example_config_validates_without_findings(capsys):
    assert cli.main(["config", "validate", str(EXAMPLE_CONFIG)]) == 0
    captured = capsys.readouterr()
    assert "valid" in captured.out and "warning" not in captured.out and captured.err == ""


def test_local_sign_takes_the_source_from_the_folder(capsys):
    sample = EVENTS / "stripe" / "01-invoice.finalized.json"
    assert cli.main(["local", "sign", str(sample), "--secret", "whsec_test"]) == 0
    assert capsys.readouterr().out.startswith("Stripe-Signature: t=")
    brex = next((EVENTS / "brex").glob("*.json"))
    assert cli.main(["local", "sign", str(brex), "--secret", "whsec_dGVzdA=="]) == 0
    assert "Stripe-Signature" not in capsys.readouterr().out   # never silently signed as Stripe


# ---- failures: one line each, what to do --------------------------------------------------------------------------

def client_error(code: str, message: str, operation: str = "Query") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize("error,code,expected", [
    (NoRegionError(), 1, "aws_region_missing"),
    (NoCredentialsError(), 1, "aws_credentials_missing"),
    (EndpointConnectionError(endpoint_url="http://127.0.0.1:5000/"), 1, "local_stack_down"),
    (EndpointConnectionError(endpoint_url="https://dynamodb.eu-west-1.amazonaws.com"), 1, "aws_unreachable"),
    (client_error("ExpiredTokenException", "expired"), 1, "aws_credentials_invalid"),
    (client_error("AccessDeniedException", "no"), 1, "access_denied"),
    (client_error("ValidationError", "Stack with id x does not exist", "DescribeStacks"), 1, "stack_not_found"),
    (client_error("ResourceNotFoundException", "Requested resource not found"), 1, "resource_not_found"),
    (OSError(errno.EADDRINUSE, "Address already in use"), 1, "port_in_use"),
    (KeyError("zz99"), 1, "internal_error: KeyError"),
    (KeyboardInterrupt(), 130, "interrupted"),
])
def test_every_failure_is_one_line(error, code, expected):
    failure = describe(error)
    assert failure.code == code and expected in failure.line and "\n" not in failure.line


def test_debug_shows_the_traceback_and_plain_runs_do_not(monkeypatch, capsys):
    def explode(args):
        raise KeyError("zz99")

    monkeypatch.setattr(cli, "_cmd_books_check", explode)
    assert cli.main(["books", "check", "x"]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: internal_error: KeyError: 'zz99' — run again with --debug for the "
                                        "traceback and report it"]
    assert cli.main(["--debug", "books", "check", "x"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_a_closed_pipe_ends_quietly(monkeypatch, capsys):
    def closed(args):
        raise BrokenPipeError(errno.EPIPE, "Broken pipe")

    monkeypatch.setattr(cli, "_cmd_config_schema", closed)
    monkeypatch.setattr("os.dup2", lambda *a: None)   # do not redirect the test runner's stdout
    assert cli.main(["config", "schema"]) == 141
    assert capsys.readouterr().err == ""


# ---- output -------------------------------------------------------------------------------------------------------

def test_tables_never_show_python_reprs():
    lines = table([["a", {"x": 1, "y": None}, ["p", "q"], None, True]], ("k", "map", "list", "none", "flag"))
    assert "{" not in "".join(lines) and "[" not in "".join(lines) and "None" not in "".join(lines)
    assert lines[1].split() == ["a", "x=1", "y=-", "p,", "q", "-", "yes"]
    assert cell({}) == "-" and cell([]) == "-"


def test_progress_only_on_a_terminal():
    pipe = io.StringIO()
    quiet = Progress("replayed", 3, stream=pipe)
    quiet.advance()
    quiet.finish()
    assert pipe.getvalue() == ""

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    shown = Progress("replayed", 2, stream=terminal)
    shown.advance()
    shown.advance()
    shown.finish()
    assert "replayed 1/2" in terminal.getvalue() and "replayed 2/2" in terminal.getvalue()


def test_ids_are_checked_with_the_configurations_own_pattern():
    import typing

    from ledgerlink.cli_support.args import IDENTIFIER
    from ledgerlink.model.base import Identifier

    assert IDENTIFIER.pattern == typing.get_args(Identifier)[1].pattern


def test_no_stack_and_a_damaged_stack_file_are_one_line_with_a_reason(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["exceptions", "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no_local_stack:") and "ledgerlink local up" in err and "\n" not in err
    (tmp_path / ".ledgerlink" / "local").mkdir(parents=True)
    (tmp_path / ".ledgerlink" / "local" / "stack.json").write_text("{not json")
    assert cli.main(["exceptions", "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: stack_file_unreadable:") and "Traceback" not in err and "\n" not in err
