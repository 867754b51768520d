"""Composition root of the embedded deployment: SQLite stores, the process runner and log
files behind the same services the Lambda functions use."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.database import Database
from orchestrator.adapters.local.env_sealer import FernetEnvSealer
from orchestrator.adapters.local.images import NoImagePlatform, SqliteImageStore
from orchestrator.adapters.local.lock_history import SqliteLockHistory
from orchestrator.adapters.local.lock_queue import SqliteLockQueue
from orchestrator.adapters.local.logfiles import LocalLogWaiter, LogFileReader, prune_logs
from orchestrator.adapters.local.output_imports import LocalOutputImports
from orchestrator.adapters.local.runner import LocalProcessRunner
from orchestrator.adapters.local.secrets import KEY_FILE, FernetSecretStore
from orchestrator.adapters.local.stores import (
    SqliteApiKeyStore,
    SqliteExecutionStore,
    SqliteLockStore,
)
from orchestrator.adapters.local.uploads import LocalUploadStore
from orchestrator.domain.executions import ExecutionPolicy, ExecutionService
from orchestrator.domain.images import ImageService
from orchestrator.domain.imports import ImportService
from orchestrator.domain.locks import LockService
from orchestrator.domain.models import DEFAULT_MAX_LOG_BYTES, MAX_LOG_WAIT_SECONDS, Role
from orchestrator.domain.secrets import SecretService
from orchestrator.domain.services import Services
from orchestrator.domain.uploads import UploadPolicy, UploadService
from orchestrator.domain.users import UserService
from orchestrator.ports import Clock
from orchestrator.unpack import Limits

logger = logging.getLogger(__name__)

DEFAULT_ADMIN_EMAIL = "admin@localhost"
DATABASE_FILE = "mycli.db"
RESTART_REASON = "server restarted"
STOP_REASON = "server stopped"


@dataclass(frozen=True)
class LocalSettings:
    data_dir: Path
    kill_grace_seconds: float = 5.0
    policy: ExecutionPolicy = field(default_factory=ExecutionPolicy)
    upload_policy: UploadPolicy = field(default_factory=UploadPolicy)
    max_log_bytes: int = DEFAULT_MAX_LOG_BYTES
    log_retention_days: int = 30
    max_log_wait_seconds: float = MAX_LOG_WAIT_SECONDS
    # What one upload may unpack to (see orchestrator/unpack.py): file bytes and members.
    unpack_limits: Limits = field(default_factory=Limits)
    # The server process becomes the subreaper of its runs' orphans (double forks), which it
    # then reaps; off for runners hosted by a process that has other children (tests).
    adopt_orphans: bool = False

    @property
    def database_path(self) -> Path:
        return self.data_dir / DATABASE_FILE

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"


def ensure_admin_key(data_dir: Path, known_key: str | None) -> str | None:
    """A new admin key for `data_dir` unless `known_key` already is a working one.

    Touches only the keys table, so `mycli local up` can run it before the server starts."""
    users = UserService(SqliteApiKeyStore(Database(data_dir / DATABASE_FILE)), SystemClock())
    if known_key and users.is_active_admin_key(known_key):
        return None
    return users.issue_key(DEFAULT_ADMIN_EMAIL, Role.ADMIN).api_key


class LocalPlatform:
    """Owns the database, the runner and the services of one data directory."""

    def __init__(self, settings: LocalSettings, clock: Clock | None = None) -> None:
        clock = clock or SystemClock()
        self.settings = settings
        self.database = Database(settings.database_path)
        self.executions_store = SqliteExecutionStore(self.database)
        self.locks_store = SqliteLockStore(self.database)
        self.lock_queue_store = SqliteLockQueue(self.database)
        self.lock_history_store = SqliteLockHistory(self.database)
        self.keys_store = SqliteApiKeyStore(self.database)
        self.log_waiter = LocalLogWaiter(settings.max_log_wait_seconds)
        self.runner = LocalProcessRunner(
            settings.data_dir / "work",
            settings.log_dir,
            clock,
            kill_grace_seconds=settings.kill_grace_seconds,
            max_log_bytes=settings.max_log_bytes,
            log_waiter=self.log_waiter,
            adopt_orphans=settings.adopt_orphans,
            unpack_limits=settings.unpack_limits,
        )
        self.uploads_store = LocalUploadStore(self.database, settings.data_dir / "uploads")
        self.uploads = UploadService(self.uploads_store, clock, settings.upload_policy)
        self.clock = clock
        images = ImageService(SqliteImageStore(self.database), NoImagePlatform(), clock)
        self.secrets_store = FernetSecretStore(self.database, settings.data_dir / KEY_FILE)
        self.secrets = SecretService(self.secrets_store, clock)
        executions = ExecutionService(
            self.executions_store,
            self.locks_store,
            self.runner,
            LogFileReader(settings.log_dir),
            clock,
            settings.policy,
            uploads=self.uploads,
            log_waiter=self.log_waiter,
            images=images,
            secrets=self.secrets,
            lock_queue=self.lock_queue_store,
            env_sealer=FernetEnvSealer(settings.data_dir / KEY_FILE),
        )
        self.runner.subscribe(executions)
        self.services = Services(
            executions=executions,
            locks=LockService(
                self.locks_store,
                self.executions_store,
                clock,
                queue=self.lock_queue_store,
                history=self.lock_history_store,
                on_release=executions.advance_queue,
            ),
            users=UserService(self.keys_store, clock),
            uploads=self.uploads,
            backend="local",
            images=images,
            secrets=self.secrets,
            imports=ImportService(
                self.keys_store, self.executions_store, LocalOutputImports(settings.log_dir)
            ),
        )

    def recover(self) -> int:
        """What a dead server left behind: kill every process its runs left (process groups,
        cgroups, marked processes), then mark its unfinished executions FAILED (which frees
        their locks)."""
        self.runner.kill_leftovers(self.executions_store.list_active())
        failed = self.services.executions.fail_unfinished(RESTART_REASON)
        if failed:
            logger.warning(
                "marked %d unfinished %s FAILED: %s",
                len(failed),
                "execution" if len(failed) == 1 else "executions",
                RESTART_REASON,
            )
        self.sweep_queues()
        return len(failed)

    def sweep_queues(self) -> None:
        """Start queued runs whose lock is free; end waits that expired."""
        self.services.executions.sweep_queues()

    def purge_uploads(self) -> int:
        """Remove archives past the retention (7 days) and slots that expired unused."""
        now = self.clock.now()
        return self.uploads_store.purge(now - self.uploads.policy.retention, now)

    def purge_logs(self) -> int:
        """Remove log files older than the retention; the execution records stay."""
        cutoff = self.clock.now() - timedelta(days=self.settings.log_retention_days)
        return prune_logs(self.settings.log_dir, cutoff)

    def shutdown(self) -> None:
        """Stop cleanly: record running executions FAILED, then end their processes."""
        self.services.executions.fail_unfinished(STOP_REASON)
        self.runner.stop_all()
