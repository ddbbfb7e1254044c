"""The cost bench's arithmetic (issue 23): DynamoDB item sizes and write units as DynamoDB documents them, and dollars
per line from counted figures and the committed price table, ours and the conventional model's."""

from __future__ import annotations

import zlib
from decimal import Decimal

from bench.cost import attribute_size, cost_lines, item_size, ledger_item_profile, load_prices, write_units

COUNTED = {
    "webhooks": 10, "documents": 20, "sqs_batches": 1,
    "calls": {"sqs:SendMessage": 10, "sqs:ReceiveMessage": 1, "sqs:DeleteMessageBatch": 1, "s3:PutObject": 10,
              "s3:GetObject": 2, "secretsmanager:GetSecretValue": 1, "dynamodb:PutItem": 3},
    "lambda": {"ingest": {"invocations": 10, "ms_total": 100.0, "ms_billed": 100},
               "post": {"invocations": 20, "ms_total": 1000.0, "ms_billed": 1000}},
    "express": {"executions": 20, "transitions": 80, "billed_100ms_units": 40, "ms_total": 4000.0},
    "standard": {"executions": 0, "transitions": 0},
    "dynamodb": {"wru": "400", "rru": "10", "wru_by_table": {"x-ledger": 400}},
    "log_bytes": {"handlers_and_metrics": 100_000, "platform_per_invocation": 500},
    "task_input_bytes": {"post": 40_000},
}
MEMORY = {"ingest": Decimal("0.25"), "post": Decimal("0.25")}


def test_item_size_follows_the_documented_rules() -> None:
    # name bytes + value bytes; a number is about one byte per two significant digits plus one
    assert item_size({"pk": {"S": "abc"}}) == 2 + 3
    assert attribute_size({"N": "12345"}) == 4 and attribute_size({"N": "-0.5"}) == 2
    assert attribute_size({"M": {"a": {"S": "xy"}}}) == 3 + 1 + 2 + 1
    assert [write_units(size) for size in (1, 1024, 1025, 2900)] == [1, 1, 2, 3]


def test_the_ledger_profile_sizes_stored_compressed_items_as_they_are_and_text_ones_as_a_what_if() -> None:
    text = '{"lines":[' + ",".join('{"account":"4000","credit":"20.00"}' for _ in range(60)) + "]}"   # 2,171 bytes
    packed = zlib.compress(text.encode(), 6)
    compressed_item = {"document_id": {"S": "d1"}, "document": {"B": packed}}
    text_item = {"document_id": {"S": "d1"}, "document": {"S": text}}
    # stored compressed: its size is the binary's, and there is nothing left to compress
    stored = ledger_item_profile([compressed_item])
    assert stored["mean_bytes"] == len("document_id") + 2 + len("document") + len(packed)
    assert stored["write_units_per_write"] == stored["write_units_per_write_compressed"] == 1
    # an item written before with the text: 3 units as it is, 1 if compressed
    before = ledger_item_profile([text_item])
    assert before["mean_bytes"] == len("document_id") + 2 + len("document") + len(text)
    assert (before["write_units_per_write"], before["write_units_per_write_compressed"]) == (3, 1)


def test_each_line_is_the_counted_quantity_at_its_list_price() -> None:
    prices = load_prices()
    assert (prices["region"], prices["architecture"]) == ("us-east-1", "arm64") and prices["prices_as_of"]
    ours = cost_lines(COUNTED, prices, memory_gb=MEMORY)
    assert ours["API Gateway REST requests"] == Decimal("10") * Decimal("3.50") / 10**6
    assert ours["Lambda requests"] == Decimal("30") * Decimal("0.20") / 10**6
    # 1.1 s billed at 0.25 GB = 0.275 GB-s
    assert ours["Lambda duration (arm64)"] == Decimal("0.275") * Decimal("0.0000133334")
    # 40 units of 100 ms at 64 MB = 0.25 GB-s
    assert ours["Step Functions Express duration"] == Decimal("0.25") * Decimal("0.00001667")
    assert ours["DynamoDB writes (WRU)"] == Decimal("400") * Decimal("0.625") / 10**6
    assert ours["S3 requests"] == Decimal("10") * Decimal("0.005") / 1000 + Decimal("2") * Decimal("0.0004") / 1000
    assert ours["SQS requests"] == Decimal("12") * Decimal("0.40") / 10**6
    # 100,000 bytes logged + 30 invocations x 500 bytes of platform records
    assert ours["CloudWatch Logs ingestion"] == Decimal("115000") / 10**9 * Decimal("0.50")


def test_the_conventional_design_pays_a_transition_per_state_and_logs_every_task_input() -> None:
    prices = load_prices()
    ours = cost_lines(COUNTED, prices, memory_gb=MEMORY)
    conventional = cost_lines(COUNTED, prices, conventional=True, memory_gb=MEMORY)
    assert conventional["Step Functions Express requests"] == conventional["Step Functions Express duration"] == 0
    assert conventional["Step Functions Standard transitions"] == Decimal("80") * Decimal("0.025") / 1000
    assert conventional["CloudWatch Logs ingestion"] == Decimal("155000") / 10**9 * Decimal("0.50")
    assert {k: v for k, v in conventional.items() if "Step" not in k and "Logs" not in k} == {
        k: v for k, v in ours.items() if "Step" not in k and "Logs" not in k}


def test_memory_sizes_are_read_from_the_functions_infra_deploys() -> None:
    from bench.cost import _memory_gb
    from infra.constructs.function import SIZING

    assert _memory_gb() == {name: Decimal(sizing.memory_mb) / 1024 for name, sizing in SIZING.items()}


def test_the_floor_is_what_the_fixed_shape_itself_requests() -> None:
    """Worked by hand from COUNTED: 10 webhooks, 10 events enqueued, one batch, 20 documents."""
    from bench.cost import floor_lines

    floor = floor_lines(COUNTED, load_prices())
    assert floor["API Gateway REST requests"] == Decimal("10") * Decimal("3.50") / 10**6
    # ingest per webhook (10) + normalize per batch (1) + one task per document (20)
    assert floor["Lambda requests"] == Decimal("31") * Decimal("0.20") / 10**6
    assert floor["Step Functions Express requests"] == Decimal("20") * Decimal("1.00") / 10**6
    # 20 executions × one 100 ms unit at 64 MB = 0.125 GB-s
    assert floor["Step Functions Express duration"] == Decimal("0.125") * Decimal("0.00001667")
    assert floor["DynamoDB writes (WRU)"] == Decimal("80") * Decimal("0.625") / 10**6   # 4 writes × 20 documents
    assert floor["S3 requests"] == Decimal("10") * Decimal("0.005") / 1000                # one archive PUT per event
    assert floor["SQS requests"] == Decimal("12") * Decimal("0.40") / 10**6
    assert floor["CloudWatch Logs ingestion"] == Decimal(31 * 500) / 10**9 * Decimal("0.50")
    assert floor["Step Functions Standard transitions"] == 0
    assert "Lambda duration (arm64)" not in floor and "DynamoDB reads (RRU)" not in floor
    ours = cost_lines(COUNTED, load_prices(), memory_gb=MEMORY)
    assert sum(floor.values()) < sum(ours.values())
