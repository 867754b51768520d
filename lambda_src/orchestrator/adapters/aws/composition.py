"""Composition root of the AWS deployment: services over DynamoDB, ECS and S3.

Adapters are built on first use, so a function never imports, or creates a client for,
what its route does not call (listing locks never touches ECS or S3)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.executions import ExecutionPolicy, ExecutionService
from orchestrator.domain.image_registry import PrivateRegistry
from orchestrator.domain.images import ImagePolicy, ImageService
from orchestrator.domain.imports import ImportService
from orchestrator.domain.locks import LockService
from orchestrator.domain.secrets import SecretService
from orchestrator.domain.services import Services
from orchestrator.domain.uploads import UploadPolicy, UploadService
from orchestrator.domain.users import UserService
from orchestrator.domain.warm_pools import WarmPools
from orchestrator.ports import (
    ApiKeyStore,
    EnvSealer,
    ExecutionStore,
    ImagePlatform,
    ImageStore,
    LockHistory,
    LockQueue,
    LockStore,
    LogReader,
    Metrics,
    NoLogWait,
    OutputImports,
    PoolManagerLease,
    Runner,
    RunResults,
    SecretStore,
    UploadStore,
    WarmPool,
)

if TYPE_CHECKING:
    from orchestrator.adapters.aws.ecs import EcsRunner
    from orchestrator.adapters.aws.warm_manager import EcsWarmTasks


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


def lock_queue(settings: AwsSettings, clients: AwsClients) -> LockQueue:
    from orchestrator.adapters.aws.dynamodb_lock_queue import DynamoLockQueue

    settings.require("locks_table", "lock_queue_table")
    return DynamoLockQueue(clients.dynamodb, settings.lock_queue_table, settings.locks_table)


def queued_env_sealer(settings: AwsSettings, clients: AwsClients) -> EnvSealer:
    from orchestrator.adapters.aws.kms_queued_env import KmsQueuedEnvSealer

    settings.require("env_key")
    return KmsQueuedEnvSealer(clients.kms, settings.env_key)


def lock_history(settings: AwsSettings, clients: AwsClients) -> LockHistory:
    from orchestrator.adapters.aws.dynamodb_lock_history import DynamoLockHistory

    settings.require("lock_queue_table")
    return DynamoLockHistory(clients.dynamodb, settings.lock_queue_table)


def upload_store(settings: AwsSettings, clients: AwsClients) -> UploadStore:
    from orchestrator.adapters.aws.s3_uploads import S3UploadStore

    settings.require("code_bucket")
    return S3UploadStore(clients.s3, settings.code_bucket)


def secret_store(settings: AwsSettings, clients: AwsClients) -> SecretStore:
    from orchestrator.adapters.aws.ssm_secrets import SsmSecretStore

    settings.require("secrets_path", "secrets_key")
    return SsmSecretStore(clients.ssm, settings.secrets_path, settings.secrets_key)


def ecs_runner(settings: AwsSettings, clients: AwsClients) -> Runner:
    """The create's runner: warm first where the deployment keeps warm pools."""
    if not settings.warm_tasks_table:
        return ecs_tasks(settings, clients)
    from orchestrator.adapters.aws.s3_mailbox import S3Mailboxes
    from orchestrator.adapters.aws.warm_runner import WarmFirstRunner

    return WarmFirstRunner(
        ecs_tasks(settings, clients),
        WarmPools(warm_pool(settings, clients), SystemClock()),
        image_store(settings, clients),
        S3Mailboxes(clients.s3, settings.code_bucket),
        refill=warm_refill(settings, clients),
    )


def warm_refill(settings: AwsSettings, clients: AwsClients) -> Callable[[str], None] | None:
    """Invoke the pool manager now (asynchronously); None without its name (the schedule
    refills the pools)."""
    if not settings.warm_pool_function:
        return None
    from orchestrator.adapters.aws.warm_refill import PoolManagerRefill

    return PoolManagerRefill(clients.lambda_, settings.warm_pool_function)


def ecs_tasks(settings: AwsSettings, clients: AwsClients) -> EcsRunner:
    """The ECS runner; it also tells the reaper how ended tasks ended (DescribeTasks and
    the run agents' results) and sweeps the runs' leftover grants."""
    from orchestrator.adapters.aws.ecs import EcsRunner
    from orchestrator.adapters.aws.kms_env import KmsEnvSealer
    from orchestrator.adapters.aws.run_inputs import RunInputs

    settings.require("cluster", "task_definition", "subnets", "security_groups", "code_bucket")
    sealer = (
        KmsEnvSealer(clients.kms, settings.env_key, settings.task_role_arn)
        if settings.env_key and settings.task_role_arn
        else None
    )
    inputs = RunInputs(
        clients.s3_sigv4,
        settings.code_bucket,
        sealer,
        clock=SystemClock(),
        max_log_bytes=settings.max_log_bytes,
    )
    return EcsRunner(
        clients.ecs,
        cluster=settings.cluster,
        task_definition=settings.task_definition,
        inputs=inputs,
        results=run_results(settings, clients),
        subnets=settings.subnets,
        security_groups=settings.security_groups,
        log_stream_prefix=settings.log_stream_prefix,
        grants=sealer.grants if sealer is not None else None,
    )


def run_results(settings: AwsSettings, clients: AwsClients) -> RunResults:
    from orchestrator.adapters.aws.s3_results import S3RunResults

    settings.require("code_bucket")
    return S3RunResults(clients.s3, settings.code_bucket)


def image_store(settings: AwsSettings, clients: AwsClients) -> ImageStore:
    from orchestrator.adapters.aws.images import DynamoImageStore

    settings.require("images_table")
    return DynamoImageStore(clients.dynamodb, settings.images_table)


def warm_pool(settings: AwsSettings, clients: AwsClients) -> WarmPool:
    from orchestrator.adapters.aws.dynamodb_warm_pool import DynamoWarmPool

    settings.require("warm_tasks_table")
    return DynamoWarmPool(clients.dynamodb, settings.warm_tasks_table)


def pool_manager_lease(settings: AwsSettings, clients: AwsClients) -> PoolManagerLease:
    from orchestrator.adapters.aws.dynamodb_warm_lease import DynamoPoolManagerLease

    settings.require("warm_tasks_table")
    return DynamoPoolManagerLease(clients.dynamodb, settings.warm_tasks_table)


def warm_tasks(settings: AwsSettings, clients: AwsClients) -> tuple[WarmPools, EcsWarmTasks]:
    """The pool manager's: the pools' rules (with the deployment's budget), and its hands
    (ECS, the mailboxes, their URLs signed as the mailbox signer)."""
    from orchestrator.adapters.aws.ecs_warm_tasks import EcsWarmTaskPlatform
    from orchestrator.adapters.aws.mailbox_signer import AssumedRoleSigner, Credentials
    from orchestrator.adapters.aws.s3_mailbox import S3Mailboxes
    from orchestrator.adapters.aws.warm_manager import (
        MAILBOX_URL_SECONDS,
        EcsWarmTasks,
        TaskNetwork,
    )
    from orchestrator.domain.warm_pools import WarmPolicy

    settings.require(
        "warm_tasks_table",
        "cluster",
        "subnets",
        "security_groups",
        "code_bucket",
        "mailbox_signer_role_arn",
    )
    pool = warm_pool(settings, clients)
    clock = SystemClock()

    def s3_as(credentials: Credentials) -> Any:
        return clients.s3_sigv4_as(
            credentials.access_key_id, credentials.secret_access_key, credentials.session_token
        )

    hands = EcsWarmTasks(
        clients.ecs,
        ecs_tasks(settings, clients),
        TaskNetwork(settings.cluster, settings.subnets, settings.security_groups),
        pool,
        S3Mailboxes(clients.s3_sigv4, settings.code_bucket),
        AssumedRoleSigner(
            clients.sts,
            settings.mailbox_signer_role_arn,
            s3_as,
            settings.code_bucket,
            clock,
            url_seconds=MAILBOX_URL_SECONDS,
        ),
        EcsWarmTaskPlatform(clients.ecs, settings.cluster),
        clock,
    )
    return WarmPools(pool, clock, WarmPolicy(budget=settings.warm_budget)), hands


def image_platform(settings: AwsSettings, clients: AwsClients) -> ImagePlatform:
    from orchestrator.adapters.aws.images import EcsImagePlatform

    settings.require("task_definition")
    return EcsImagePlatform(
        clients.ecs,
        run_task_definition=settings.task_definition,
        family_prefix=settings.image_family_prefix,
    )


def s3_log_reader(settings: AwsSettings, clients: AwsClients) -> LogReader:
    """Runs' output as the run agent stored it: segments under runs/<id>/output/."""
    from orchestrator.adapters.aws.s3_logs import S3LogReader

    settings.require("code_bucket")
    return S3LogReader(clients.s3, settings.code_bucket)


def output_imports(settings: AwsSettings, clients: AwsClients) -> OutputImports:
    """Imported output (`mycli migrate`), stored as the run agent stores it."""
    from orchestrator.adapters.aws.s3_output_imports import S3OutputImports

    settings.require("code_bucket")
    return S3OutputImports(clients.s3, settings.code_bucket)


@dataclass(frozen=True)
class AwsPorts:
    """The adapters of one function, each built on first use."""

    keys: ApiKeyStore
    executions: ExecutionStore
    locks: LockStore
    lock_queue: LockQueue
    env_sealer: EnvSealer
    runner: Runner
    log_reader: LogReader
    uploads: UploadStore
    images: ImageStore
    image_platform: ImagePlatform
    secrets: SecretStore
    output_imports: OutputImports
    lock_history: LockHistory
    warm_pool: WarmPool | None = None  # None: a deployment without warm pools

    @classmethod
    def deferred(cls, settings: AwsSettings, clients: AwsClients) -> AwsPorts:
        def later(factory: Callable[[AwsSettings, AwsClients], Any]) -> Any:
            return Deferred(lambda: factory(settings, clients))

        return cls(
            keys=later(api_key_store),
            executions=later(execution_store),
            locks=later(lock_store),
            lock_queue=later(lock_queue),
            env_sealer=later(queued_env_sealer),
            runner=later(ecs_runner),
            log_reader=later(s3_log_reader),
            uploads=later(upload_store),
            images=later(image_store),
            image_platform=later(image_platform),
            secrets=later(secret_store),
            output_imports=later(output_imports),
            lock_history=later(lock_history),
            warm_pool=later(warm_pool) if settings.warm_tasks_table else None,
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
    images = _image_service(ports, settings, clock)
    secrets = SecretService(ports.secrets, clock)
    executions = ExecutionService(
        ports.executions,
        ports.locks,
        ports.runner,
        ports.log_reader,
        clock,
        policy,
        metrics=metrics,
        uploads=uploads,
        log_waiter=NoLogWait(),  # a function answers at once; the CLI polls
        images=images,
        secrets=secrets,
        lock_queue=ports.lock_queue,
        env_sealer=ports.env_sealer,
    )
    return Services(
        executions=executions,
        locks=LockService(
            ports.locks,
            ports.executions,
            clock,
            queue=ports.lock_queue,
            history=ports.lock_history,
            on_release=executions.advance_queue,
        ),
        users=UserService(ports.keys, clock),
        uploads=uploads,
        backend="aws",
        images=images,
        secrets=secrets,
        imports=ImportService(ports.keys, ports.executions, ports.output_imports),
    )


def _image_service(ports: AwsPorts, settings: AwsSettings, clock: SystemClock) -> ImageService:
    policy = ImagePolicy(
        role_arn_prefix=settings.image_role_arn_prefix or None,
        registry=private_registry(settings.ecr_repository_arn_prefix),
    )
    pools = WarmPools(ports.warm_pool, clock) if ports.warm_pool is not None else None
    return ImageService(ports.images, ports.image_platform, clock, policy, warm_pools=pools)


def private_registry(arn_prefix: str) -> PrivateRegistry | None:
    """`arn:<partition>:ecr:<region>:<account>:repository/<prefix>` -> the registry tasks
    pull from; None without one (every URI allowed, as before the setting)."""
    parts = arn_prefix.split(":", 5)
    if len(parts) != 6 or parts[2] != "ecr" or not parts[5].startswith("repository/"):
        return None
    return PrivateRegistry(
        account=parts[4], region=parts[3], repository_prefix=parts[5].removeprefix("repository/")
    )
