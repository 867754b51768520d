"""Data: the APIKeys, Executions, Locks, LockQueue, Images and WarmTasks tables, and the
CodeBucket for uploads, runs' inputs and warm tasks' mailboxes.

With `mycli:retainData` (the default) they are kept when the stack is deleted or replaces
them, but not when the stack's first create fails (RetainExceptOnCreate: a failed first
deploy leaves nothing behind). A later deployment reattaches kept ones named in the
`mycli:existing...` context values instead of creating new ones."""

from __future__ import annotations

from aws_cdk import Acknowledgment, Duration, RemovalPolicy, Validations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from orchestrator.adapters.aws.task_layout import RUNS_PREFIX, UPLOADS_PREFIX
from stacks.config import PlatformConfig

UPLOAD_EXPIRY_DAYS = 7
# Warm tasks' mailboxes (docs/warm-runners.md): `warm/<task id>/assignment`, each read for
# at most an hour (its presigned URL's life), then useless.
WARM_PREFIX = "warm/"
WARM_MAILBOX_EXPIRY_DAYS = 1
# The WarmTasks table's index of an image's tasks in one state, and its items' expiry (a
# day after a task's end): adapters/aws/dynamodb_warm_pool.py, which the CDK app does not
# import (it needs botocore); tests/infra checks the two agree.
WARM_TASKS_INDEX = "image-state"
WARM_TASKS_TTL = "expires_at_epoch"


class DataStore(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._removal = (
            RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
            if config.retain_data
            else RemovalPolicy.DESTROY
        )
        self.api_keys: dynamodb.ITable = (
            dynamodb.Table.from_table_name(self, "ApiKeys", config.existing_api_keys_table)
            if config.existing_api_keys_table
            else self._build_api_keys()
        )
        self.executions: dynamodb.ITable = (
            dynamodb.Table.from_table_name(self, "Executions", config.existing_executions_table)
            if config.existing_executions_table
            else self._build_executions()
        )
        self.locks: dynamodb.ITable = (
            dynamodb.Table.from_table_name(self, "Locks", config.existing_locks_table)
            if config.existing_locks_table
            else self._build_locks()
        )
        # Runs waiting for a lock, and holds' history (adapters/aws/dynamodb_lock_queue.py).
        self.lock_queue: dynamodb.ITable = (
            dynamodb.Table.from_table_name(self, "LockQueue", config.existing_lock_queue_table)
            if config.existing_lock_queue_table
            else self._table("LockQueue", "lock_name", sort="item")
        )
        self.images: dynamodb.ITable = (
            dynamodb.Table.from_table_name(self, "Images", config.existing_images_table)
            if config.existing_images_table
            else self._table("Images", "name")
        )
        # One item per warm task, and the claims and demand items (docs/warm-runners.md).
        self.warm_tasks: dynamodb.ITable = (
            dynamodb.Table.from_table_name(self, "WarmTasks", config.existing_warm_tasks_table)
            if config.existing_warm_tasks_table
            else self._build_warm_tasks()
        )
        self.code_bucket: s3.IBucket = (
            s3.Bucket.from_bucket_name(self, "CodeBucket", config.existing_code_bucket)
            if config.existing_code_bucket
            else self._build_code_bucket()
        )

    def _table(
        self, construct_id: str, partition: str, sort: str | None = None, ttl: str | None = None
    ) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            construct_id,
            partition_key=dynamodb.Attribute(name=partition, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=sort, type=dynamodb.AttributeType.STRING)
            if sort
            else None,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            time_to_live_attribute=ttl,
            removal_policy=self._removal,
        )

    def _build_api_keys(self) -> dynamodb.Table:
        table = self._table("ApiKeys", "api_key_hash")
        table.add_global_secondary_index(
            index_name="user_email-index",
            partition_key=dynamodb.Attribute(name="user_email", type=dynamodb.AttributeType.STRING),
        )
        return table

    def _build_executions(self) -> dynamodb.Table:
        # Idempotency-Keys' markers expire (the running-slot counters and executions never do).
        table = self._table("Executions", "execution_id", sort="started_at", ttl="expires_at_epoch")
        for partition in ("user_email", "status"):
            table.add_global_secondary_index(
                index_name=f"{partition}-started_at",
                partition_key=dynamodb.Attribute(
                    name=partition, type=dynamodb.AttributeType.STRING
                ),
                sort_key=dynamodb.Attribute(name="started_at", type=dynamodb.AttributeType.STRING),
            )
        return table

    def _build_locks(self) -> dynamodb.Table:
        return self._table("Locks", "lock_name", ttl="ttl")

    def _build_warm_tasks(self) -> dynamodb.Table:
        table = self._table("WarmTasks", "task_id", ttl=WARM_TASKS_TTL)
        table.add_global_secondary_index(
            index_name=WARM_TASKS_INDEX,
            partition_key=dynamodb.Attribute(name="image", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="state", type=dynamodb.AttributeType.STRING),
        )
        return table

    def _build_code_bucket(self) -> s3.Bucket:
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
            lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
            removal_policy=self._removal,
        )
        Validations.of(access_logs).acknowledge(
            Acknowledgment(
                id="AwsSolutions-S1",
                reason="This is the access-log bucket of the CodeBucket; logging it would loop.",
            )
        )
        return s3.Bucket(
            self,
            "CodeBucket",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=False,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="code-bucket/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-uploads",
                    prefix=UPLOADS_PREFIX,
                    expiration=Duration.days(UPLOAD_EXPIRY_DAYS),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                ),
                # A run's manifest and its output (its log): kept as long as the log
                # group keeps the operators' copy (mycli:logRetentionDays).
                s3.LifecycleRule(
                    id="expire-runs",
                    prefix=RUNS_PREFIX,
                    expiration=Duration.days(self._config.log_retention_days),
                ),
                s3.LifecycleRule(
                    id="expire-warm-mailboxes",
                    prefix=WARM_PREFIX,
                    expiration=Duration.days(WARM_MAILBOX_EXPIRY_DAYS),
                ),
            ],
            removal_policy=self._removal,
            auto_delete_objects=False,
        )
