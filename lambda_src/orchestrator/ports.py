"""The interfaces the services need. Local (SQLite, processes, files) and AWS adapters implement
them, and both pass the same contract suite (tests/contract)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from orchestrator.domain.idempotency import IdempotencyMarker
from orchestrator.domain.lock_history import HistoryMark, LockEvent
from orchestrator.domain.models import (
    ApiKeyRecord,
    Execution,
    ExecutionStatus,
    LaunchResult,
    LaunchSpec,
    Lock,
    LogChunk,
    LogPage,
    Page,
    RunningCount,
    RunResult,
    Secret,
    Upload,
    UploadSlot,
)
from orchestrator.domain.queue_entry import QueueEntry
from orchestrator.domain.quota import RunningLimits
from orchestrator.image_ports import (
    ImagePlatform,
    ImageStore,
    PoolManagerLease,
    WarmPool,
    WarmTaskPlatform,
)

# The image ports live in image_ports.py; imported from here as every other port is.
__all__ = ["ImagePlatform", "ImageStore", "PoolManagerLease", "WarmPool", "WarmTaskPlatform"]


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class ApiKeyStore(Protocol):
    def put(self, record: ApiKeyRecord) -> None: ...

    def get(self, api_key_hash: str) -> ApiKeyRecord | None: ...

    def list_by_email(self, email: str) -> list[ApiKeyRecord]: ...

    def list_all(self) -> list[ApiKeyRecord]: ...

    def revoke(self, api_key_hash: str, revoked_at: str) -> None: ...

    def touch(self, api_key_hash: str, last_used: str) -> None: ...

    def add(self, record: ApiKeyRecord) -> None:
        """Store `record` only if its hash is new; raises Conflict when the hash exists."""
        ...


class IdempotencyMarkers(Protocol):
    """The markers of Idempotency-Keys (domain/idempotency.py), kept beside the executions:
    the store's `create` checks a claim in the same atomic step as the record."""

    def claim_marker(
        self, marker: IdempotencyMarker, stale_before: str
    ) -> IdempotencyMarker | None:
        """Write `marker` unless another marker of its execution id was claimed at or after
        `stale_before` (older ones are taken over). None when `marker` now holds the id;
        otherwise the marker that does."""
        ...

    def release_marker(self, execution_id: str, owner: str) -> None:
        """Delete the execution id's marker if `owner` holds it (a refused create's)."""
        ...


class ExecutionStore(IdempotencyMarkers, Protocol):
    def create(
        self,
        execution: Execution,
        *,
        limits: RunningLimits | None = None,
        claimed_by: str | None = None,
    ) -> None:
        """Record a new execution. One that is not terminal takes a running slot in the same
        atomic step: raises TooManyExecutions (with the counts) when that would go past
        `limits`. Raises Conflict when the id exists, or with `claimed_by` when the id's
        idempotency marker is not (or no longer) held by that owner."""
        ...

    def get(self, execution_id: str) -> Execution | None: ...

    def advance(
        self,
        execution_id: str,
        status: ExecutionStatus,
        *,
        updated_at: str,
        **fields: object,
    ) -> Execution | None:
        """Move to `status` and set `fields`, only if that moves forward. Reaching a terminal
        status gives the execution's running slot back, exactly once.

        Returns the updated execution, or None when the transition did not apply
        (already past it, terminal, or unknown id)."""
        ...

    def annotate(self, execution_id: str, **fields: object) -> None:
        """Set fields that do not change the status (launch details, lock release)."""
        ...

    def list_page(
        self,
        *,
        user_email: str | None,
        status: ExecutionStatus | None,
        limit: int,
        cursor: str | None,
        include_checks: bool = False,
    ) -> Page:
        """Newest first. Cost depends on `limit`, not on how many executions exist. Checks
        (purpose CHECK) only with `include_checks`, and even then cost depends on `limit`."""
        ...

    def list_active(self) -> list[Execution]:
        """Every execution that has not reached a terminal status."""
        ...

    def count_active(self, user_email: str) -> RunningCount:
        """How many running slots are taken (executions not terminal): `user_email`'s and
        everyone's. Cost does not depend on how many executions exist."""
        ...


class LockStore(Protocol):
    def acquire(self, lock: Lock, now: datetime) -> Lock | None:
        """Take `lock` if it is free or expired. Returns None on success, else the holder."""
        ...

    def release(self, lock_name: str, execution_id: str) -> bool:
        """Delete the lock only if `execution_id` holds it."""
        ...

    def get(self, lock_name: str) -> Lock | None: ...

    def list_active(self, now: datetime) -> list[Lock]: ...


class EnvSealer(Protocol):
    """Keeps a queued run's env values sealed in its record until its launch (locally
    Fernet under the data directory's key; on AWS, KMS with the execution in the
    encryption context). A sealed value opens only for the execution it was sealed for."""

    def seal(self, execution_id: str, env: dict[str, str]) -> str: ...

    def unseal(self, execution_id: str, sealed: str) -> dict[str, str]:
        """The env values; raises ValueError when `sealed` was not made for this execution."""
        ...


class LockQueue(Protocol):
    """Runs waiting for a named lock, in arrival order per lock. The adapter shares its
    storage with the host's LockStore: promotion takes the lock itself."""

    def enqueue(self, entry: QueueEntry, max_length: int) -> int:
        """Append `entry` behind the lock's queue; returns its position (1 = next). Raises
        QueueFull when `max_length` entries wait already, Conflict when the execution is
        queued for that lock already."""
        ...

    def entries(self, lock_name: str) -> list[QueueEntry]:
        """The lock's queue in arrival order, positions from 1."""
        ...

    def remove(self, lock_name: str, execution_id: str) -> bool:
        """Take the execution out of the lock's queue; False when it was not queued."""
        ...

    def promote_head(self, lock_name: str, now: datetime) -> QueueEntry | None:
        """In one atomic step: when the lock is free (or expired) at `now` and its queue is
        not empty, give the lock to the head (`QueueEntry.lock_from(now)`) and remove its
        entry. Returns the promoted entry; None when the lock is held (by a run or a hold)
        or nobody waits. An entry is promoted at most once, whoever races."""
        ...

    def waiting_locks(self) -> list[str]:
        """The names of the locks whose queue is not empty (the reaper's sweep)."""
        ...


class LockHistory(Protocol):
    """What happened to locks (domain/lock_history.py), kept for `GET /lock-history`."""

    def record(self, event: LockEvent) -> None:
        """Append `event`; the same `event_id` again changes nothing."""
        ...

    def newest(
        self, lock_name: str | None, limit: int, before: HistoryMark | None
    ) -> list[LockEvent]:
        """At most `limit` events (of `lock_name`, or of every lock), newest first, strictly
        older than `before` when given. Cost depends on `limit`, not on the history's size."""
        ...


class RunnerListener(Protocol):
    """What a runner reports back (local runner: from its watcher threads)."""

    def on_running(self, execution_id: str) -> None: ...

    def on_exit(self, execution_id: str, exit_code: int, *, timed_out: bool) -> None: ...

    def on_log_truncated(self, execution_id: str, offset: int) -> None:
        """The execution's output reached the log cap: nothing past `offset` is stored."""
        ...

    def on_git_commit(self, execution_id: str, commit: str) -> None:
        """The run's git ref resolved to `commit` (before the command starts)."""
        ...

    def on_setup_failed(self, execution_id: str, reason: str) -> None:
        """Setting the run up (its git checkout, its upload's unpack) failed: the command
        never ran."""
        ...


class Runner(Protocol):
    def launch(self, spec: LaunchSpec) -> LaunchResult:
        """Start the command; raises LaunchFailed with a reason when it cannot."""
        ...

    def stop(self, execution: Execution, reason: str) -> None:
        """Ask the execution's process or task to stop (terminate, then kill); the end is
        reported like any other (runner listener, task events). Raises StopFailed when the
        ask itself failed (the reaper repeats the stop of a CANCELLING or overdue run)."""
        ...

    def lost(self, executions: Sequence[Execution]) -> set[str]:
        """The ids, among `executions`, whose process or task no longer exists."""
        ...

    def release(self, execution: Execution) -> None:
        """Free what the launch holds for the run beyond its task (AWS: its KMS grant, named
        by `execution.grant_id`), once the run has ended or its launch failed. Safe to
        repeat, and never fails the caller: what cannot be freed now is swept later."""
        ...


class UploadStore(Protocol):
    def open_slot(
        self, upload_id: str, user_email: str, expires_at: datetime, max_bytes: int
    ) -> UploadSlot:
        """Make a place the user can PUT one archive to until `expires_at`."""
        ...

    def find(self, user_email: str, upload_id: str) -> Upload | None:
        """The completed upload `upload_id` of `user_email`; None if it is another user's,
        was never completed, or is gone."""
        ...


class SecretStore(Protocol):
    """Secrets: values kept encrypted, metadata beside them. Only `reveal` returns values."""

    def put(self, secret: Secret, value: str) -> Secret:
        """Store `value` under `secret.name` with its metadata, replacing an earlier one;
        returns the metadata as stored, its `version` one past the replaced one's (1 when new)."""
        ...

    def list(self) -> list[Secret]:
        """Every secret's metadata, by name."""
        ...

    def describe(self, names: Sequence[str]) -> dict[str, Secret]:
        """The metadata of each of `names` that exists (the others are left out)."""
        ...

    def delete(self, name: str) -> Secret | None:
        """Remove the secret; its metadata, or None when there was none."""
        ...

    def reveal(self, names: Sequence[str], execution_id: str) -> dict[str, str]:
        """The values of `names` for the run `execution_id` (a name that no longer exists is
        left out). Each call is a use of those secrets, recorded where the store can."""
        ...


class Metrics(Protocol):
    def count(self, name: str) -> None:
        """Add one to the counter `name` (ExecutionsStarted, LockConflicts, FailedToStart)."""
        ...


class NoMetrics:
    """For hosts that keep no metrics (the embedded server)."""

    def count(self, name: str) -> None:
        return None


class LogReader(Protocol):
    def read(self, execution: Execution, cursor: str | None, max_bytes: int) -> LogPage:
        """At most `max_bytes` of output after `cursor` (from the start when None), as chunks
        that keep the exact bytes. A log that does not exist yet is an empty page;
        `next_cursor` continues where this page ended. A cursor this reader could not have
        made raises ValidationFailed."""
        ...


class OutputImports(Protocol):
    """Output imported from another platform (`mycli migrate`), in the host's own log format,
    read back by its LogReader. Imports are idempotent: the same bytes again change nothing."""

    def put_chunks(self, execution_id: str, chunks: Sequence[LogChunk]) -> int:
        """Store `chunks` (contiguous, from `chunks[0].offset`, stdout or stderr); returns the
        stored output's end. The same bytes already stored there: nothing changes. Raises
        Conflict when other bytes are stored there, ValidationFailed when the chunks start
        past the stored end (a gap)."""
        ...

    def finish(self, execution_id: str, total: int, truncated_at: int | None) -> None:
        """Mark the output complete at `total` bytes (cut at the log cap at `truncated_at`).
        Raises ValidationFailed when the stored output does not end at `total`, Conflict
        when it was finished differently."""
        ...


class RunResults(Protocol):
    def result_of(self, execution_id: str) -> RunResult | None:
        """What the run's agent reported when it finished, or None when it reported nothing
        (it never ran, or stopped before it could)."""
        ...


class LogWaiter(Protocol):
    def wait(self, execution_id: str, cursor: str, timeout_seconds: float) -> None:
        """Return once the execution's log has grown past `cursor`, the execution has ended,
        or `timeout_seconds` (capped by the host) have passed, whichever comes first."""
        ...


class NoLogWait:
    """For hosts that answer at once (a Lambda function must not sit waiting for output)."""

    def wait(self, execution_id: str, cursor: str, timeout_seconds: float) -> None:
        return None
