"""S3: the raw webhook archive, the Beancount books, the legacy GL import files, the audit copy, and the
server-access-log bucket they all log to.

Buckets are retained in every stage: the archive is the evidence behind every posting, and CloudFormation
cannot delete a non-empty versioned bucket without a custom-resource Lambda to empty it first. The archive and
the audit bucket are write-once (S3 Object Lock, governance mode, a default retention from CDK context): no
version can be deleted or overwritten before it expires without ``s3:BypassGovernanceRetention``, which no role
of this stack holds. Object Lock is switched on when the bucket is created (see docs/decisions.md for buckets
that already exist).
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

BOOKS_PREFIX = "books"      # LEDGERLINK_BOOKS_URI = s3://<books bucket>/books → books/<book>/...
LEGACY_PREFIX = "legacy"    # LEDGERLINK_LEGACY_FILES_URI = s3://<legacy bucket>/legacy → legacy/<prefix>/files/...


AUDIT_PREFIX = "audit"      # the audit bucket: audit/<table pk>/<sk>#<stream sequence number>.json


class Buckets(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, key: kms.IKey, prod: bool,
                 archive_retention_days: int, audit_retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.access_logs = self._build_access_log_bucket(prod)
        self.archive = self._build_data_bucket("Archive", key, log_prefix="archive/",
                                               locked_days=archive_retention_days)
        # A write-once copy of every audit item, written by the audit export (DynamoDB stream → Lambda).
        self.audit = self._build_data_bucket("Audit", key, log_prefix="audit/", locked_days=audit_retention_days)
        self.books = self._build_data_bucket("Books", key, log_prefix="books/")
        self.reports = self._build_data_bucket("Reports", key, log_prefix="reports/")
        # Legacy GL import files (documents dated before an entity's cutover); a legacy ERP's file import reads them.
        self.legacy = self._build_data_bucket("LegacyFiles", key, log_prefix="legacy/")

    @property
    def books_uri(self) -> str:
        return f"s3://{self.books.bucket_name}/{BOOKS_PREFIX}"

    @property
    def legacy_files_uri(self) -> str:
        return f"s3://{self.legacy.bucket_name}/{LEGACY_PREFIX}"

    def _build_access_log_bucket(self, prod: bool) -> s3.Bucket:
        bucket = s3.Bucket(
            self, "AccessLogs",
            # S3 server access logging can only deliver to SSE-S3 buckets, not SSE-KMS.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            lifecycle_rules=[s3.LifecycleRule(
                expiration=Duration.days(365 if prod else 90),
                noncurrent_version_expiration=Duration.days(30))],
            removal_policy=RemovalPolicy.RETAIN,
        )
        return bucket

    def _build_data_bucket(self, construct_id: str, key: kms.IKey, *, log_prefix: str,
                           locked_days: int | None = None) -> s3.Bucket:
        # Governance mode: an administrator holding s3:BypassGovernanceRetention can still correct a mistake
        # (compliance mode could not be undone even by the account root before the retention ends).
        lock = s3.ObjectLockRetention.governance(Duration.days(locked_days)) if locked_days else None
        return s3.Bucket(
            self, construct_id,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=True,  # one KMS data key per bucket-key period instead of per object
            enforce_ssl=True,
            minimum_tls_version=1.2,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=True,
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix=log_prefix,
            object_lock_enabled=lock is not None,
            object_lock_default_retention=lock,
            removal_policy=RemovalPolicy.RETAIN,
        )
