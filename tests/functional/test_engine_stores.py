"""The posting engine's DynamoDB state on moto: the shared limiter and the summary buckets, under concurrency."""

from __future__ import annotations

import threading
from datetime import date
from decimal import Decimal

import pytest
from moto import mock_aws

from ledgerlink.connectors.erps.ratelimit import LimitPolicy
from ledgerlink.errors import RateLimited
from ledgerlink.pipeline.summarize import BucketScope, Contribution, line_key
from ledgerlink.store import clients
from ledgerlink.store.buckets import DynamoBuckets, TooManyLines
from ledgerlink.store.limiter import DynamoLimiter
from ledgerlink.store.objects import S3ObjectStore
from ledgerlink.store.tables import TABLES


@pytest.fixture
def dynamodb(aws_env):
    with mock_aws():
        clients.reset()
        client = clients.client("dynamodb")
        for name in ("buckets", "limiter"):
            spec = TABLES[name]
            keys = [{"AttributeName": spec.partition_key, "KeyType": "HASH"}]
            if spec.sort_key:
                keys.append({"AttributeName": spec.sort_key, "KeyType": "RANGE"})
            extra = {}
            if spec.indexes:
                extra["GlobalSecondaryIndexes"] = [{
                    "IndexName": index.name, "Projection": {"ProjectionType": "ALL"},
                    "KeySchema": [{"AttributeName": index.partition_key, "KeyType": "HASH"},
                                  {"AttributeName": index.sort_key, "KeyType": "RANGE"}]} for index in spec.indexes]
            client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=keys,
                                AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"}
                                                      for a in sorted(spec.key_attributes())], **extra)
        yield client
        clients.reset()


class Clock:
    def __init__(self) -> None:
        self.now = 1_767_225_600_000
        self.lock = threading.Lock()

    def ms(self) -> int:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += int(seconds * 1000) + 1


# ---- limiter ------------------------------------------------------------------------------------------

def test_two_lambdas_share_one_limiter_and_together_stay_under_the_limit(dynamodb):
    # Given two post Lambdas (two limiter objects) on one connection's limiter item
    clock = Clock()
    policy = LimitPolicy(requests_per_minute=60, burst=5, daily_budget=100)
    one = DynamoLimiter("limiter", "xero-demo", policy, clock=clock.ms, sleeper=clock.sleep, max_wait_ms=10**9)
    two = DynamoLimiter("limiter", "xero-demo", policy, clock=clock.ms, sleeper=clock.sleep, max_wait_ms=10**9)
    granted: list[int] = []
    # When they alternate 90 calls
    for i in range(90):
        limiter = one if i % 2 else two
        limiter.release(limiter.acquire())
        granted.append(clock.ms())
    # Then no minute saw more than 60 and the day count is shared
    assert max(sum(1 for t in granted if start <= t < start + 60_000) for start in granted) <= 60
    assert one.state().day_used == 90 and one.state().leases == {}


def test_a_retry_after_seen_by_one_lambda_holds_the_other(dynamodb):
    clock = Clock()
    policy = LimitPolicy(requests_per_minute=60, burst=5)
    one = DynamoLimiter("limiter", "qbo", policy, clock=clock.ms, sleeper=clock.sleep, max_wait_ms=1_000)
    two = DynamoLimiter("limiter", "qbo", policy, clock=clock.ms, sleeper=clock.sleep, max_wait_ms=1_000)
    one.penalize(60)
    with pytest.raises(RateLimited) as raised:
        two.acquire()
    assert 59 <= raised.value.retry_after <= 60


class Interleaving:
    """A DynamoDB client that runs another caller's step right before this caller's conditional write — the
    race optimistic concurrency must survive (moto itself is not thread-safe, so races are staged here)."""

    def __init__(self, client, before_write) -> None:
        self._client = client
        self._before_write = before_write

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name not in ("put_item", "transact_write_items") or self._before_write is None:
            return attribute

        def call(**kwargs):
            step, self._before_write = self._before_write, None
            step()
            return attribute(**kwargs)

        return call


def test_the_concurrency_cap_holds_when_two_lambdas_race_for_the_last_slot(dynamodb):
    policy = LimitPolicy(max_concurrency=1)
    other = DynamoLimiter("limiter", "netsuite", policy, max_wait_ms=0)
    held: list[str] = []
    # Given Lambda A read the state (no lease held) and, just before writing its lease, Lambda B takes the slot
    racing = DynamoLimiter("limiter", "netsuite", policy, max_wait_ms=0,
                           client=Interleaving(dynamodb, lambda: held.append(other.acquire())))
    # When A writes, its conditional write fails, it re-reads, and sees the slot taken
    with pytest.raises(RateLimited) as raised:
        racing.acquire()
    assert raised.value.detail["limit"] == "concurrency" and len(other.state().leases) == 1
    # And once B releases, A gets the slot
    other.release(held[0])
    lease = racing.acquire()
    assert list(other.state().leases) == [lease]


# ---- buckets ------------------------------------------------------------------------------------------

SCOPE = BucketScope(connection_id="books", entity_id="us01", accounting_date=date(2026, 1, 20), currency="USD",
                    source_id="stripe", document_type="invoice")


def sale(amount: str) -> list[Contribution]:
    return [Contribution(line_key("Assets:AR", ()), "Assets:AR", (), Decimal(amount)),
            Contribution(line_key("Income:Sales", ()), "Income:Sales", (), -Decimal(amount))]


def test_a_document_delivered_twice_lands_in_exactly_one_bucket(dynamodb):
    buckets = DynamoBuckets("buckets")
    first = buckets.add("doc_a", SCOPE, sale("10.00"), correlation_id="c1")
    again = buckets.add("doc_a", SCOPE, sale("10.00"), correlation_id="c2")
    assert first.added and not again.added and again.bucket_id == first.bucket_id
    (bucket,) = buckets.by_status("open")
    assert bucket.documents == 1
    assert {line.account: line.amount for line in buckets.lines(bucket.bucket_id)} == {
        "Assets:AR": Decimal("10.00"), "Income:Sales": Decimal("-10.00")}


def test_interleaved_redeliveries_add_each_document_once(dynamodb):
    buckets = DynamoBuckets("buckets")
    for round_ in range(3):                       # 12 documents, each delivered three times, interleaved
        for i in range(12):
            buckets.add(f"doc_{(i * 5 + round_) % 12}", SCOPE, sale("1.00"), correlation_id=f"c{round_}")
    (bucket,) = buckets.by_status("open")
    assert bucket.documents == 12
    assert {line.account: line.amount for line in buckets.lines(bucket.bucket_id)}["Assets:AR"] == Decimal("12.00")


def test_a_document_racing_the_seal_moves_to_the_next_bucket_never_into_the_sealed_one(dynamodb):
    buckets = DynamoBuckets("buckets")
    buckets.add("doc_1", SCOPE, sale("5.00"), correlation_id="c")
    (open_bucket,) = buckets.by_status("open")
    # Given a delivery that read "sequence 1 is open", and the flush seals bucket 1 before its transaction runs
    racing = DynamoBuckets("buckets", client=Interleaving(dynamodb, lambda: buckets.seal(open_bucket)))
    membership = racing.add("doc_2", SCOPE, sale("7.00"), correlation_id="c")
    # Then its transaction failed the sequence check and it went into bucket 2
    assert membership.sequence == 2
    (sealed,) = buckets.by_status("sealed")
    assert sealed.documents == 1
    assert {line.account: line.amount for line in buckets.lines(sealed.bucket_id)}["Assets:AR"] == Decimal("5.00")


def test_a_sealed_bucket_takes_no_more_documents_they_start_the_next_one(dynamodb):
    buckets = DynamoBuckets("buckets")
    first = buckets.add("doc_1", SCOPE, sale("5.00"), correlation_id="c")
    (open_bucket,) = buckets.by_status("open")
    assert buckets.seal(open_bucket) and not buckets.seal(open_bucket)   # one sealer wins
    late = buckets.add("doc_2", SCOPE, sale("7.00"), correlation_id="c")
    assert late.sequence == 2 and late.bucket_id != first.bucket_id
    assert [b.documents for b in buckets.by_status("sealed")] == [1]
    assert [b.documents for b in buckets.by_status("open")] == [1]


def test_drill_down_from_a_summary_line_to_its_documents(dynamodb):
    buckets = DynamoBuckets("buckets")
    for doc in ("doc_x", "doc_y"):
        buckets.add(doc, SCOPE, sale("2.00"), correlation_id="c")
    buckets.add("doc_fee", SCOPE, [Contribution(line_key("Expenses:Fees", ()), "Expenses:Fees", (), Decimal("1")),
                                   Contribution(line_key("Assets:AR", ()), "Assets:AR", (), Decimal("-1"))],
                correlation_id="c")
    bucket_id = SCOPE.bucket_id(1)
    assert buckets.drill_down(bucket_id, line_key("Income:Sales", ())) == ["doc_x", "doc_y"]
    assert buckets.drill_down(bucket_id, line_key("Assets:AR", ())) == ["doc_fee", "doc_x", "doc_y"]


def test_a_document_with_more_lines_than_a_transaction_holds_is_refused_for_summarizing(dynamodb):
    many = [Contribution(line_key(f"Acct:{i}", ()), f"Acct:{i}", (), Decimal(1)) for i in range(98)]
    with pytest.raises(TooManyLines):
        DynamoBuckets("buckets").add("doc_big", SCOPE, many, correlation_id="c")


# ---- legacy files on S3 -------------------------------------------------------------------------------

def test_the_legacy_file_store_creates_once_on_s3(aws_env):
    with mock_aws():
        clients.reset()
        clients.client("s3").create_bucket(Bucket="legacy-files")
        store = S3ObjectStore("legacy-files", "gl/legacy")
        assert store.create("parts/x.json", b"1") is True
        assert store.create("parts/x.json", b"2") is False
        assert store.read("parts/x.json") == b"1" and store.names("parts/") == ["parts/x.json"]
        store.delete("parts/x.json")
        assert store.read("parts/x.json") is None
        clients.reset()


def test_the_book_on_s3_is_utf8_text_created_once_and_lists_only_beancount_files(aws_env):
    from ledgerlink.store.books import book_store

    with mock_aws():
        clients.reset()
        s3 = clients.client("s3")
        s3.create_bucket(Bucket="books")
        book = book_store("s3://books/ledgerlink", "main")
        assert book.create("postings/a.beancount", "; café\n") is True
        assert book.create("postings/a.beancount", "; other\n") is False
        s3.put_object(Bucket="books", Key="ledgerlink/main/postings/notes.txt", Body=b"x")
        assert book.read("postings/a.beancount") == "; café\n" and book.read("postings/b.beancount") is None
        assert book.names("postings") == ["postings/a.beancount"]
        head = s3.head_object(Bucket="books", Key="ledgerlink/main/postings/a.beancount")
        assert head["ContentType"] == "text/plain; charset=utf-8"
        assert book.location("postings/a.beancount") == "s3://books/ledgerlink/main/postings/a.beancount"
        clients.reset()
