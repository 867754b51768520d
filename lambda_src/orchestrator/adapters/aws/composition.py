"""Composition root of the AWS deployment: services over DynamoDB, ECS and CloudWatch.

Adapters are built on first use, so a function never imports, or creates a client for,
what its route does not call (listing locks never touches ECS or CloudWatch)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.executions import ExecutionPolicy, ExecutionService
from orchestrator.domain.locks import LockService
from orchestrator.domain.secrets import SecretService
from orchestrator.domain.services import Services
from orchestrator.domain.uploads import UploadPolicy, UploadService
from orchestrator.domain.users import UserService
from orchestrator.ports import (
    ApiKeyStore,
    ExecutionStore,
    LockStore,
    LogReader,
    Metrics,
    NoLogWait,
    Runner,
    SecretStore,
    UploadStore,
)

if TYPE_CHECKING:
    from orchestrator.adapters.aws.ecs import EcsRunner


class Deferred:
    """Stands in for an adapter and builds it on first attribute access."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._target: Any = None

    def __getattr__(self, name: str) -> Any:
        if self._target is None:
            self._target = self._build()
        return getattr(self._target, name)


def api_key_store(settings: AwsSettings, clients: AwsClients) -> ApiKeyStore:
    from orchestrator.adapters.aws.dynamodb import DynamoApiKeyStore

    settings.require("api_keys_table")
    return DynamoApiKeyStore(clients.dynamodb, settings.api_keys_table)


def execution_store(settings: AwsSettings, clients: AwsClients) -> ExecutionStore:
    from orchestrator.adapters.aws.dynamodb import DynamoExecutionStore

    settings.require("executions_table")
    return DynamoExecutionStore(clients.dynamodb, settings.executions_table)


def lock_store(settings: AwsSettings, clients: AwsClients) -> LockStore:
    from orchestrator.adapters.aws.dynamodb import DynamoLockStore

    settings.require("locks_table")
    return DynamoLockStore(clients.dynamodb, settings.locks_table)


def upload_store(settings: AwsSettings, clients: AwsClients) -> UploadStore:
    from orchestrator.adapters.aws.s3_uploads import S3UploadStore

    settings.require("code_bucket")
    return S3UploadStore(clients.s3, settings.code_bucket)


def secret_store(settings: AwsSettings, clients: AwsClients) -> SecretStore:
    from orchestrator.adapters.aws.ssm_secrets import SsmSecretStore

    settings.require("secrets_path", "secrets_key")
    return SsmSecretStore(clients.ssm, settings.secrets_path, settings.secrets_key)


def ecs_runner(settings: AwsSettings, clients: AwsClients) -> Runner:
    return ecs_tasks(settings, clients)


def ecs_tasks(settings: AwsSettings, clients: AwsClients) -> EcsRunner:
    """The ECS runner; it also tells the reaper how ended tasks ended (DescribeTasks)."""
    from orchestrator.adapters.aws.ecs import EcsRunner
    from orchestrator.adapters.aws.kms_env import KmsEnvSealer
    from orchestrator.adapters.aws.run_inputs import RunInputs

    settings.require("cluster", "task_definition", "subnets", "security_groups")
    sealer = (
        KmsEnvSealer(clients.kms, settings.env_key, settings.task_role_arn)
        if settings.env_key and settings.task_role_arn
        else None
    )
    inputs = RunInputs(clients.s3, settings.code_bucket, sealer) if settings.code_bucket else None
    return EcsRunner(
        clients.ecs,
        cluster=settings.cluster,
        task_definition=settings.task_definition,
        prepared_task_definition=settings.prepared_task_definition,
        inputs=inputs,
        container_name=settings.container_name,
        subnets=settings.subnets,
        security_groups=settings.security_groups,
        log_stream_prefix=settings.log_stream_prefix,
    )


def cloudwatch_reader(settings: AwsSettings, clients: AwsClients) -> LogReader:
    from orchestrator.adapters.aws.cloudwatch import CloudWatchLogReader

    settings.require("log_group")
    return CloudWatchLogReader(clients.logs, settings.log_group, settings.max_log_bytes)


@dataclass(frozen=True)
class AwsPorts:
    """The adapters of one function, each built on first use."""

    keys: ApiKeyStore
    executions: ExecutionStore
    locks: LockStore
    runner: Runner
    log_reader: LogReader
    uploads: UploadStore
    secrets: SecretStore

    @classmethod
    def deferred(cls, settings: AwsSettings, clients: AwsClients) -> AwsPorts:
        def later(factory: Callable[[AwsSettings, AwsClients], Any]) -> Any:
            return Deferred(lambda: factory(settings, clients))

        return cls(
            keys=later(api_key_store),
            executions=later(execution_store),
            locks=later(lock_store),
            runner=later(ecs_runner),
            log_reader=later(cloudwatch_reader),
            uploads=later(upload_store),
            secrets=later(secret_store),
        )


def build_services(
    ports: AwsPorts, settings: AwsSettings, metrics: Metrics | None = None
) -> Services:
    clock = SystemClock()
    policy = ExecutionPolicy(
        default_timeout_seconds=settings.default_timeout_seconds,
        max_timeout_seconds=settings.max_timeout_seconds,
        max_running_per_user=settings.max_running_per_user,
        max_running_total=settings.max_running_total,
    )
    uploads = UploadService(ports.uploads, clock, UploadPolicy(max_bytes=settings.max_upload_bytes))
    secrets = SecretService(ports.secrets, clock)
    return Services(
        executions=ExecutionService(
            ports.executions,
            ports.locks,
            ports.runner,
            ports.log_reader,
            clock,
            policy,
            metrics=metrics,
            uploads=uploads,
            log_waiter=NoLogWait(),  # a function answers at once; the CLI polls
            secrets=secrets,
        ),
        locks=LockService(ports.locks, ports.executions, clock),
        users=UserService(ports.keys, clock),
        uploads=uploads,
        backend="aws",
        secrets=secrets,
    )
