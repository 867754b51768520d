"""Execution lifecycle: create (domain/creation.py records, this launches), read, list,
logs, cancel, and the terminal transitions reported by a runner or by task events."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.domain.admission import Admission
from orchestrator.domain.creation import Creation
from orchestrator.domain.errors import NotFound, StopFailed
from orchestrator.domain.execution_reads import ExecutionReads
from orchestrator.domain.idempotency import idempotent_execution_id
from orchestrator.domain.images import ImageService
from orchestrator.domain.launching import Launcher
from orchestrator.domain.lock_queue import LockQueueService
from orchestrator.domain.models import (
    DEFAULT_MAX_RUNNING_PER_USER,
    DEFAULT_MAX_RUNNING_TOTAL,
    DEFAULT_TIMEOUT_SECONDS,
    MAX_LOG_PAGE_BYTES,
    MAX_TIMEOUT_SECONDS,
    TIMED_OUT_EXIT_CODE,
    Caller,
    Execution,
    ExecutionRequest,
    ExecutionStatus,
    LogPage,
    Page,
    Quota,
    TaskStateChange,
    utc_iso,
)
from orchestrator.domain.outcomes import (
    TIMEOUT_STOP_PREFIX,
    outcome_of_exit,
    outcome_of_stop,
)
from orchestrator.domain.queued_runs import QueuedRuns, QueuePlace
from orchestrator.domain.run_inputs import RunInputs
from orchestrator.domain.secrets import SecretService
from orchestrator.domain.uploads import UploadService
from orchestrator.ports import (
    Clock,
    EnvSealer,
    ExecutionStore,
    LockQueue,
    LockStore,
    LogReader,
    LogWaiter,
    Metrics,
    NoLogWait,
    NoMetrics,
    Runner,
)

# Kept importable from here, where they used to live.
__all__ = [
    "TIMEOUT_STOP_PREFIX",
    "ExecutionPolicy",
    "ExecutionService",
    "idempotent_execution_id",
    "new_execution_id",
    "outcome_of_exit",
    "outcome_of_stop",
]

Status = ExecutionStatus


@dataclass(frozen=True)
class ExecutionPolicy:
    """Tunables: timeouts, how long past its timeout a lock outlives a silent holder, how
    many executions may be running (not terminal) at once, per user and in total, and how
    a repeated Idempotency-Key waits for the first request."""

    default_timeout_seconds: int = DEFAULT_TIMEOUT_SECONDS
    max_timeout_seconds: int = MAX_TIMEOUT_SECONDS
    lock_grace_seconds: int = 300
    max_running_per_user: int = DEFAULT_MAX_RUNNING_PER_USER
    max_running_total: int = DEFAULT_MAX_RUNNING_TOTAL
    # A repeated Idempotency-Key waits this long for the first request's execution; a
    # key's marker with no execution this old is taken over (its request died).
    idempotency_wait_seconds: float = 2.0
    idempotency_lease_seconds: int = 60


def new_execution_id() -> str:
    return uuid.uuid4().hex


class ExecutionService:
    """Everything that happens to an execution, whoever hosts it."""

    def __init__(
        self,
        executions: ExecutionStore,
        locks: LockStore,
        runner: Runner,
        log_reader: LogReader,
        clock: Clock,
        policy: ExecutionPolicy | None = None,
        metrics: Metrics | None = None,
        new_id: Callable[[], str] = new_execution_id,
        uploads: UploadService | None = None,
        log_waiter: LogWaiter | None = None,
        images: ImageService | None = None,
        secrets: SecretService | None = None,
        lock_queue: LockQueue | None = None,
        env_sealer: EnvSealer | None = None,
    ) -> None:
        """`lock_queue` (with `env_sealer` for queued runs' env values): runs may wait for a
        taken lock (domain/queued_runs.py); without it a taken lock refuses."""
        self._executions = executions
        self._locks = locks
        self._runner = runner
        self._log_reader = log_reader
        self._clock = clock
        self._policy = policy or ExecutionPolicy()
        self._metrics = metrics or NoMetrics()
        self._new_id = new_id
        self._log_waiter = log_waiter or NoLogWait()
        self._inputs = RunInputs(
            self._policy.default_timeout_seconds,
            self._policy.max_timeout_seconds,
            images,
            uploads,
            secrets,
        )
        # The store counts and records in one atomic step: no lock of this process is
        # needed, and hosts racing each other cannot all pass the same count.
        self._admission = Admission(executions, locks, clock, self._policy, self._metrics)
        self._queued = (
            QueuedRuns(
                executions,
                locks,
                LockQueueService(lock_queue, locks, clock),
                env_sealer,
                self._launch_queued,
                self.finish,
            )
            if lock_queue is not None
            else None
        )
        self._creation = Creation(
            executions,
            locks,
            clock,
            self._policy,
            self._admission,
            self._inputs,
            new_id,
            queued=self._queued,
        )
        self._reads = ExecutionReads(executions, log_reader, self._log_waiter)
        self._launcher = Launcher(
            executions, locks, runner, clock, self._metrics, self._inputs, self.finish
        )

    # -- commands ---------------------------------------------------------------------------

    def start(
        self,
        caller: Caller,
        request: ExecutionRequest,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Execution:
        """Claim the key (if any), validate, check the quota, take the lock, record PENDING
        with its running slot (domain/creation.py), then launch and record STARTING.

        A launch failure records FAILED with the reason and frees the lock; the failed
        execution is returned rather than raised, so the caller sees why. A repeated
        `idempotency_key` from the same user returns the first execution, started once (and
        never releases the first request's lock)."""
        admitted = self._creation.admit(caller, request, request_id, idempotency_key)
        resolved = admitted.resolved
        if resolved is None:
            return admitted.execution
        if admitted.execution.status is Status.QUEUED and request.lock:
            # The lock may have freed since it was found taken: its queue advances now.
            self.advance_queue(request.lock)
            return self._require(admitted.execution.execution_id)
        return self._launcher.launch(admitted.execution, request, resolved)

    def cancel(self, caller: Caller, execution_id: str) -> Execution:
        """Ask a running execution to stop (a queued one leaves its queue); a finished one
        is returned as it is."""
        execution = self.get(caller, execution_id)
        if execution.status.is_terminal or execution.status is Status.CANCELLING:
            return execution
        reason = f"cancelled by {caller.email}"
        if (
            execution.status is Status.QUEUED
            and execution.lock_name
            and self._queued is not None
            and self._queued.withdraw(execution.lock_name, execution_id)
        ):
            # Out of the queue before its turn: nothing can start it any more.
            self._executions.annotate(execution_id, cancelled_by=caller.email)
            return (
                self.finish(execution_id, Status.CANCELLED, reason=f"{reason} while queued")
                or execution
            )
        cancelling = self._executions.advance(
            execution_id,
            Status.CANCELLING,
            updated_at=self._now(),
            cancelled_by=caller.email,
        )
        if cancelling is None:
            return self._require(execution_id)
        if cancelling.waits_in_queue:
            # Given its lock but not launched yet: its launch will not claim it now.
            return self.finish(execution_id, Status.CANCELLED, reason=reason) or cancelling
        if cancelling.task_ref:
            # Recorded CANCELLING first: a stop that fails now is repeated by the reaper.
            with contextlib.suppress(StopFailed):
                self._runner.stop(cancelling, f"cancelled by {caller.email}")
        return cancelling

    def on_running(self, execution_id: str) -> None:
        self._executions.advance(execution_id, Status.RUNNING, updated_at=self._now())

    def on_exit(self, execution_id: str, exit_code: int, *, timed_out: bool) -> None:
        execution = self._executions.get(execution_id)
        if execution is None:
            return
        status, reason = outcome_of_exit(execution, exit_code, timed_out=timed_out)
        self.finish(execution_id, status, exit_code=exit_code, reason=reason)

    def on_log_truncated(self, execution_id: str, offset: int) -> None:
        self._executions.annotate(execution_id, log_truncated_at=offset)

    def on_git_commit(self, execution_id: str, commit: str) -> None:
        """The run's git ref resolved to `commit`: the audit trail keeps it."""
        self._executions.annotate(execution_id, git_commit=commit)

    def on_setup_failed(self, execution_id: str, reason: str) -> None:
        """The run's set-up (its git checkout, its upload's unpack) failed, so the command
        never ran."""
        self.finish(execution_id, Status.FAILED, reason=reason)

    def on_task_event(self, change: TaskStateChange) -> Execution | None:
        """Apply a task-state event; returns the execution as it stands afterwards, or None
        when the event is not about a task of ours. Duplicate and stale events change
        nothing, because every transition only moves forward."""
        execution = self._executions.get(change.execution_id)
        if execution is None or (
            execution.task_ref and change.task_ref and execution.task_ref != change.task_ref
        ):
            return None
        if change.git_commit and not execution.git_commit:
            self.on_git_commit(change.execution_id, change.git_commit)
        if change.log_truncated_at is not None and execution.log_truncated_at is None:
            self.on_log_truncated(change.execution_id, change.log_truncated_at)
        if change.last_status == "RUNNING":
            running = self._executions.advance(
                change.execution_id, Status.RUNNING, updated_at=self._now()
            )
            return running or execution
        if change.last_status != "STOPPED":
            return execution
        status, reason = outcome_of_stop(execution, change)
        # A dead agent's run failed; its command's code is ECS's stop, not its own end.
        exit_code = None if change.agent_stopped and status is Status.FAILED else change.exit_code
        return self.finish(change.execution_id, status, exit_code=exit_code, reason=reason)

    def finish(
        self,
        execution_id: str,
        status: ExecutionStatus,
        *,
        exit_code: int | None = None,
        reason: str | None = None,
        advance: bool = True,
    ) -> Execution | None:
        """Record a terminal status (only if still running), release the execution's lock and
        what its launch holds (Runner.release), and (`advance`) let the lock's queue move.

        Safe to repeat: a replayed finish changes nothing but still makes sure both are free."""
        now = self._now()
        if status is Status.TIMED_OUT:
            exit_code = TIMED_OUT_EXIT_CODE
        updated = self._executions.advance(
            execution_id,
            status,
            updated_at=now,
            finished_at=now,
            exit_code=exit_code,
            reason=reason,
        )
        current = updated or self._executions.get(execution_id)
        if current is None or not current.status.is_terminal:
            return current
        if current.lock_name:
            if current.waits_in_queue and self._queued is not None:
                self._queued.withdraw(current.lock_name, execution_id)
            self._locks.release(current.lock_name, execution_id)
            if advance:
                self.advance_queue(current.lock_name)
        self._runner.release(current)
        return current

    def fail_unfinished(self, reason: str) -> list[Execution]:
        """Mark every started execution FAILED (the host that ran them is gone). Queued
        runs keep waiting; `sweep_queues` starts them once their locks are free."""
        failed = []
        for execution in self._executions.list_active():
            if execution.status is Status.QUEUED:
                continue
            finished = self.finish(
                execution.execution_id, Status.FAILED, reason=reason, advance=False
            )
            if finished is not None:
                failed.append(finished)
        return failed

    # -- the lock queue (queued_runs.py) ----------------------------------------------------

    def advance_queue(self, lock_name: str) -> None:
        """The lock may be free: start the next run waiting for it, end expired waits."""
        if self._queued is not None:
            self._queued.advance(lock_name)

    def sweep_queues(self) -> None:
        """`advance_queue` on every lock someone waits for (the reaper; locally a ticker)."""
        if self._queued is not None:
            self._queued.sweep(self._executions.list_active())

    def queue_place(self, execution: Execution) -> QueuePlace | None:
        """Where a QUEUED run stands in its lock's queue, and what holds the lock."""
        return self._queued.place(execution) if self._queued is not None else None

    def _launch_queued(self, execution: Execution) -> None:
        assert self._queued is not None
        self._launcher.launch_queued(execution, self._queued.unseal_env)

    # -- queries (execution_reads.py) ------------------------------------------------------

    def get(self, caller: Caller, execution_id: str) -> Execution:
        """The execution, if the caller owns it or is an admin; otherwise it does not exist."""
        return self._reads.get(caller, execution_id)

    def list_page(
        self,
        caller: Caller,
        *,
        user: str | None = None,
        status: ExecutionStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
        include_checks: bool = False,
    ) -> Page:
        """Newest first: a user's own executions, or for an admin everyone's (or `user`'s);
        platform checks only with `include_checks`."""
        return self._reads.list_page(
            caller,
            user=user,
            status=status,
            limit=limit,
            cursor=cursor,
            include_checks=include_checks,
        )

    def logs(
        self,
        caller: Caller,
        execution_id: str,
        cursor: str | None = None,
        max_bytes: int = MAX_LOG_PAGE_BYTES,
        wait_seconds: float = 0.0,
    ) -> tuple[Execution, LogPage]:
        """The execution and at most `max_bytes` of its output after `cursor`, held up to
        `wait_seconds` for new output (ExecutionReads.logs)."""
        return self._reads.logs(caller, execution_id, cursor, max_bytes, wait_seconds)

    def quota(self, caller: Caller) -> Quota:
        """The running-execution limits and the caller's running count (admins: everyone's)."""
        return self._admission.quota(caller)

    # -- internals --------------------------------------------------------------------------

    def _require(self, execution_id: str) -> Execution:
        execution = self._executions.get(execution_id)
        if execution is None:
            raise NotFound(f"execution {execution_id} not found")
        return execution

    def _now(self) -> str:
        return utc_iso(self._clock.now())
