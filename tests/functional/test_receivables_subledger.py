"""The receivables subledger (issue 17 defect 10, D92): cash is applied to an invoice only up to what is still open
on it; the rest is unapplied cash owed to the customer (customer_credit), shown by the close check. Expected figures
are worked by hand from the scenario (a 20.00 USD Stripe invoice, sample 01), never read from LedgerLink."""

from __future__ import annotations

import json
from decimal import Decimal

from ledgerlink import wiring
from ledgerlink.store import clients

from tests.conftest import EVENTS
from tests.functional.test_revenue_pipeline import book_balance

RECEIVABLE, CREDIT = "Assets:US01:AccountsReceivable:Stripe", "Liabilities:US01:CustomerCredit"
BANK = "Assets:US01:Bank:Operating"
INVOICE = "in_000000000000000000000000"      # sample 01: 20.00 USD, finalized 2022-03-26


def entry(amount: str, reference: str, ref_id: str) -> str:
    return f"""<Ntry><Amt Ccy="USD">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><Dt>2022-03-29</Dt></BookgDt><ValDt><Dt>2022-03-29</Dt></ValDt><AcctSvcrRef>{ref_id}</AcctSvcrRef>
<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>RCDT</Cd><SubFmlyCd>ACDT</SubFmlyCd></Fmly></Domn></BkTxCd>
<NtryDtls><TxDtls><Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
<RmtInf><Ustrd>{reference}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"""


def statement(sequence: int, *entries: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>
<GrpHdr><MsgId>SUBLEDGER-{sequence}</MsgId><CreDtTm>2022-03-29T18:00:00+00:00</CreDtTm></GrpHdr>
<Stmt><Id>SUBLEDGER-STMT-{sequence}</Id><ElctrncSeqNb>{sequence}</ElctrncSeqNb><CreDtTm>2022-03-29T18:00:00+00:00</CreDtTm>
<Acct><Id><IBAN>NL26VAYB8060476890</IBAN></Id><Ccy>USD</Ccy></Acct>
{''.join(entries)}</Stmt></BkToCstmrStmt></Document>""".encode()


def drop(stack, name: str, body: bytes) -> None:
    key = f"bank-inbox/bank/{name}"
    clients.client("s3").put_object(Bucket=stack.resources.archive_bucket, Key=key, Body=body)
    event = {"Records": [{"eventSource": "aws:s3", "eventName": "ObjectCreated:Put", "awsRegion": "us-east-1",
                          "s3": {"bucket": {"name": stack.resources.archive_bucket},
                                 "object": {"key": key, "size": len(body)}}}]}
    stack.host.invoke("bank_file", event)
    stack.drain()


def finalized_invoice(stack) -> None:
    body = (EVENTS / "stripe" / "01-invoice.finalized.json").read_bytes()
    assert stack.send(body).status == 202
    stack.drain()


def bank_lines(stack) -> list[dict]:
    return [json.loads(d["document"]) for d in stack.documents() if d["document_type"] == "bank_transaction"]


def test_a_9999_99_receipt_for_a_20_00_invoice_applies_20_00_and_credits_the_customer_the_rest(stack):
    finalized_invoice(stack)
    drop(stack, "overpaid.xml", statement(1, entry("9999.99", f"INVOICE {INVOICE}", "SUB-0001")))
    (line,) = bank_lines(stack)
    assert line["applies_to_document_id"] and line["unapplied"] == {"amount": "9979.99", "currency": "USD"}
    # 20.00 billed − 20.00 applied = 0.00 open; 9,999.99 − 20.00 = 9,979.99 owed to the customer (credit-normal)
    assert book_balance(stack, RECEIVABLE) == Decimal("0.00")
    assert book_balance(stack, CREDIT) == Decimal("-9979.99")
    assert book_balance(stack, BANK) == Decimal("9999.99")
    wiring.reset()
    report = wiring.close_check_service().run("us01", "2022-03")
    assert report.status == "tied", report.table()
    assert {t.check for t in report.tieouts if t.account == CREDIT} == {"customer_credit"}


def test_a_second_full_payment_of_a_paid_invoice_is_all_customer_credit_and_a_replay_changes_nothing(stack):
    finalized_invoice(stack)
    drop(stack, "first.xml", statement(2, entry("20.00", f"INVOICE {INVOICE}", "SUB-0002")))
    drop(stack, "second.xml", statement(3, entry("20.00", f"PAYMENT {INVOICE} AGAIN", "SUB-0003")))
    first, second = sorted(bank_lines(stack), key=lambda d: d["bank_reference"])
    assert first.get("unapplied") is None
    assert second["unapplied"] == {"amount": "20.00", "currency": "USD"}
    # 20.00 billed − 20.00 (first line) = 0.00; the second 20.00 is owed back, not a −20.00 receivable
    assert book_balance(stack, RECEIVABLE) == Decimal("0.00")
    assert book_balance(stack, CREDIT) == Decimal("-20.00")
    # the same statement delivered again claims nothing twice
    drop(stack, "second-again.xml", statement(3, entry("20.00", f"PAYMENT {INVOICE} AGAIN", "SUB-0003")))
    assert book_balance(stack, RECEIVABLE) == Decimal("0.00") and book_balance(stack, CREDIT) == Decimal("-20.00")
    wiring.reset()
    assert wiring.close_check_service().run("us01", "2022-03").status == "tied"


def test_a_receipt_after_the_invoice_was_paid_in_stripe_is_all_customer_credit(stack):
    paid = (EVENTS / "stripe" / "02-invoice.paid.json").read_bytes()   # the same invoice, paid 20.00 in Stripe
    assert stack.send(paid).status == 202
    stack.drain()
    drop(stack, "late.xml", statement(4, entry("20.00", f"INVOICE {INVOICE}", "SUB-0004")))
    (line,) = bank_lines(stack)
    assert line["unapplied"] == {"amount": "20.00", "currency": "USD"}
    assert book_balance(stack, RECEIVABLE) == Decimal("0.00")
    assert book_balance(stack, CREDIT) == Decimal("-20.00")


def test_a_part_payment_below_what_is_open_is_left_to_a_person(stack):
    finalized_invoice(stack)
    drop(stack, "part.xml", statement(5, entry("5.00", f"INVOICE {INVOICE}", "SUB-0005")))
    (case,) = stack.exceptions.list("open")
    assert case["reason"] == "cash_unmatched"
    assert book_balance(stack, RECEIVABLE) == Decimal("20.00")


def test_claims_are_idempotent_and_a_concurrent_claim_makes_the_other_recompute(stack):
    finalized_invoice(stack)
    (invoice,) = [d["document_id"] for d in stack.documents() if d["document_type"] == "invoice"]
    ledger = stack.ledger
    assert ledger.claim_receivable(invoice, "credit-note", Decimal("5.00")) == Decimal("5.00")
    # a receipt racing another: it read the item before the other's claim was written (a stale snapshot)
    stale = ledger.get(invoice)
    assert ledger.claim_receivable(invoice, "receipt-1", Decimal("12.00"), cap_to_open=True) == Decimal("12.00")
    reads = iter([stale])
    real_get = ledger.get
    ledger.get = lambda document_id: next(reads, None) or real_get(document_id)  # type: ignore[method-assign]
    # 20.00 − 5.00 − 12.00 = 3.00 open: the stale read saw 15.00, its write is refused, it reads again and takes 3.00
    assert ledger.claim_receivable(invoice, "receipt-2", Decimal("20.00"), cap_to_open=True) == Decimal("3.00")
    ledger.get = real_get  # type: ignore[method-assign]
    # retried claims get their first answer; nothing is open any more for a new one
    assert ledger.claim_receivable(invoice, "receipt-1", Decimal("99.00"), cap_to_open=True) == Decimal("12.00")
    assert ledger.claim_receivable(invoice, "receipt-3", Decimal("1.00"), cap_to_open=True) == Decimal("0")
    assert ledger.claim_receivable("doc_not_in_the_ledger", "receipt-4", Decimal("1.00")) is None
