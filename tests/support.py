"""Shared test helpers: callers, and services wired to in-memory fakes."""

from __future__ import annotations

from fakes import (
    FakeClock,
    FakeLogReader,
    FakeRunner,
    InMemoryApiKeyStore,
    InMemoryExecutionStore,
    InMemoryLockStore,
    InMemorySecretStore,
    InMemoryUploadStore,
    RecordingLogWaiter,
)
from orchestrator.domain.executions import ExecutionService
from orchestrator.domain.locks import LockService
from orchestrator.domain.models import Caller, Execution, ExecutionStatus, Role
from orchestrator.domain.secrets import SecretService
from orchestrator.domain.services import Services
from orchestrator.domain.uploads import UploadService
from orchestrator.domain.users import UserService

ALICE = Caller("alice@example.com", Role.USER)
BOB = Caller("bob@example.com", Role.USER)
ADMIN = Caller("admin@example.com", Role.ADMIN)


class FakeWorld:
    """Services wired to in-memory fakes, with the fakes at hand for assertions."""

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.executions = InMemoryExecutionStore()
        self.locks = InMemoryLockStore()
        self.keys = InMemoryApiKeyStore()
        self.runner = FakeRunner()
        self.logs = FakeLogReader()
        self.log_waiter = RecordingLogWaiter()
        self.uploads = InMemoryUploadStore()
        upload_service = UploadService(self.uploads, self.clock)
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
                secrets=secret_service,
            ),
            uploads=upload_service,
            locks=LockService(self.locks, self.executions, self.clock),
            users=UserService(self.keys, self.clock),
            backend="local",
            secrets=secret_service,
        )


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
