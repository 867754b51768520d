"""Shared test helpers: callers, and services wired to in-memory fakes."""

from __future__ import annotations

import tempfile
from pathlib import Path

from fake_lock_history import InMemoryLockHistory
from fake_lock_queue import InMemoryLockQueue
from fakes import (
    FakeClock,
    FakeLogReader,
    FakeRunner,
    InMemoryApiKeyStore,
    InMemoryExecutionStore,
    InMemoryImageStore,
    InMemoryLockStore,
    InMemorySecretStore,
    InMemoryUploadStore,
    RecordingImagePlatform,
    RecordingLogWaiter,
)
from orchestrator.adapters.local.env_sealer import FernetEnvSealer
from orchestrator.domain.executions import ExecutionService
from orchestrator.domain.images import ImagePolicy, ImageService
from orchestrator.domain.locks import LockService
from orchestrator.domain.models import Caller, Execution, ExecutionStatus, Role
from orchestrator.domain.secrets import SecretService
from orchestrator.domain.services import Services
from orchestrator.domain.uploads import UploadService
from orchestrator.domain.users import UserService

ALICE = Caller("alice@example.com", Role.USER)
BOB = Caller("bob@example.com", Role.USER)
ADMIN = Caller("admin@example.com", Role.ADMIN)
IMAGE_ROLE_ARN_PREFIX = "arn:aws:iam::123456789012:role/mycli-task-"


class FakeWorld:
    """Services wired to in-memory fakes, with the fakes at hand for assertions."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.executions = InMemoryExecutionStore()
        self.locks = InMemoryLockStore()
        self.lock_queue = InMemoryLockQueue(self.locks)
        self.lock_history = InMemoryLockHistory()
        self.keys = InMemoryApiKeyStore()
        self.runner = FakeRunner()
        self.logs = FakeLogReader()
        self.log_waiter = RecordingLogWaiter()
        self.uploads = InMemoryUploadStore()
        upload_service = UploadService(self.uploads, self.clock)
        self.images = InMemoryImageStore()
        self.image_platform = RecordingImagePlatform()
        image_service = ImageService(
            self.images, self.image_platform, self.clock, ImagePolicy(IMAGE_ROLE_ARN_PREFIX)
        )
        self.secrets = InMemorySecretStore()
        secret_service = SecretService(self.secrets, self.clock)
        self.services = Services(
            executions=ExecutionService(
                self.executions,
                self.locks,
                self.runner,
                self.logs,
                self.clock,
                uploads=upload_service,
                log_waiter=self.log_waiter,
                images=image_service,
                secrets=secret_service,
                lock_queue=self.lock_queue,
                env_sealer=FernetEnvSealer(Path(tempfile.mkdtemp()) / "secrets.key"),
            ),
            uploads=upload_service,
            locks=LockService(
                self.locks,
                self.executions,
                self.clock,
                queue=self.lock_queue,
                history=self.lock_history,
            ),
            users=UserService(self.keys, self.clock),
            backend="local",
            images=image_service,
            secrets=secret_service,
        )
        self.services.locks.on_release = self.services.executions.advance_queue


def started_execution(
    execution_id: str,
    command: str,
    task_ref: str | None,
    stream: str | None,
    timeout_seconds: int = 60,
) -> Execution:
    """An execution as a runner just launched it (for runner and log tests)."""
    return Execution(
        execution_id=execution_id,
        user_email="a@x.io",
        command=command,
        status=ExecutionStatus.STARTING,
        started_at="2026-01-01T00:00:00.000Z",
        timeout_seconds=timeout_seconds,
        task_ref=task_ref,
        log_stream_name=stream,
    )
