"""``ledgerlink reconcile`` prints the ERP line of every connection: what it holds, or "not checked" and why."""

from __future__ import annotations

import argparse

from ledgerlink import cli
from ledgerlink.service.reconcile import EntityReport, ReconciliationReport


def test_every_connection_gets_an_erp_line(monkeypatch, capsys):
    entity = EntityReport(entity_id="us01", erp={
        "connection": "xero-us, legacy", "checked": False, "connections": [
            {"connection": "xero-us", "checked": False, "reason": "not checked: budget share reached (500 calls)"},
            {"connection": "legacy", "checked": True, "ledger_posted": 2, "erp_posted": 2}]})
    report = ReconciliationReport(business_date="2026-01-15", generated_at="2026-01-16T07:30:00+00:00", events={},
                                  event_differences=[], entities=[entity], report_key="reports/reconciliation/x")
    import ledgerlink.ops.commands as commands

    monkeypatch.setattr(commands, "reconcile", lambda target, day, entity_id: report)
    monkeypatch.setattr(cli, "_target", lambda args: None)
    import ledgerlink.cli_support.commands as support  # the entity is checked against the target's configuration

    monkeypatch.setattr(support, "check_entity", lambda target, entity_id: None)
    code = cli._cmd_reconcile(argparse.Namespace(json=False, date="2026-01-15", entity="us01"))
    out = capsys.readouterr().out
    assert code == 0
    assert "  us01 ERP xero-us: not checked: budget share reached (500 calls)" in out
    assert "  us01 ERP legacy: ledger posted 2, ERP holds 2" in out
