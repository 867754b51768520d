"""Runs that wait for their lock (issue 21), as executions see the lock queue.

A create whose lock is taken and that may wait is recorded QUEUED behind the lock's queue
(domain/creation.py). Whenever a lock may have freed (a run's end, a release, a hold's
expiry, a cancel, the sweep), `advance` gives the lock to the head of its queue (the port's
atomic promotion) and launches that run; waits that expired end FAILED with exit code 125.

Everything here is safe to repeat and to race: the promotion takes the lock and removes the
entry in one step, and the launch first moves the run QUEUED -> PENDING with a conditional
write, so a run starts once whoever advances. A promoter that dies between the two leaves a
QUEUED run holding its lock: the next `advance` of that lock (every sweep) launches it."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import timedelta

from orchestrator.domain.durations import format_seconds
from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.lock_holders import LockHolder
from orchestrator.domain.lock_queue import LockQueueService
from orchestrator.domain.models import (
    Execution,
    ExecutionRequest,
    ExecutionStatus,
    Lock,
    parse_iso,
)
from orchestrator.domain.queue_entry import QueueEntry
from orchestrator.ports import EnvSealer, ExecutionStore, LockStore

LOCK_WAIT_EXPIRED_EXIT_CODE = 125
MAX_WAIT_LOCK_SECONDS = 86400

Status = ExecutionStatus
Finish = Callable[..., Execution | None]


def holder_phrase(holder: Lock | None) -> str:
    """`held by a hold of bob@x ("incident 42")`, `held by alice@x's run ID`."""
    if holder is None:
        return "free"
    if holder.is_hold:
        return f'held by a hold of {holder.user_email} ("{holder.reason}")'
    return f"held by {holder.user_email}'s run {holder.execution_id}"


@dataclass(frozen=True)
class QueuePlace:
    """Where a QUEUED run stands: its position (1 = next) and what holds the lock now."""

    lock_name: str
    position: int | None
    holder: LockHolder | None

    def to_dict(self) -> dict[str, object]:
        return {
            "lock_name": self.lock_name,
            "position": self.position,
            "holder": self.holder.to_dict() if self.holder else None,
        }


def check_wait(request: ExecutionRequest) -> None:
    if request.wait_lock_seconds is None:
        return
    if request.lock is None:
        raise ValidationFailed("wait_lock_seconds needs a lock")
    if not 1 <= request.wait_lock_seconds <= MAX_WAIT_LOCK_SECONDS:
        raise ValidationFailed(
            f"wait_lock_seconds must be between 1 and {MAX_WAIT_LOCK_SECONDS}",
            {"wait_lock_seconds": request.wait_lock_seconds},
        )


def queued_request(execution: Execution, env: dict[str, str]) -> ExecutionRequest:
    """The request a queued run was created with, from its record and its env values: its
    inputs are resolved again at its launch (an image, a secret or an upload removed
    meanwhile fails the launch, with the reason)."""
    return ExecutionRequest(
        command=execution.command,
        lock=execution.lock_name,
        env=env,
        timeout_seconds=execution.timeout_seconds,
        upload_id=execution.upload_id,
        stdin_upload_id=execution.stdin_upload_id,
        playbook=execution.playbook,
        image=execution.image,
        cpu=execution.cpu,
        memory=execution.memory,
        secrets=dict(name.split("=", 1) for name in execution.secret_names),
        git_url=execution.git_url,
        git_ref=execution.git_ref,
        git_subdir=execution.git_subdir,
        git_secret=execution.git_secret,
        purpose=execution.purpose,
    )


class QueuedRuns:
    def __init__(
        self,
        executions: ExecutionStore,
        locks: LockStore,
        queue: LockQueueService,
        sealer: EnvSealer | None,
        launch: Callable[[Execution], None],
        finish: Finish,
    ) -> None:
        """`launch(execution)`: start a QUEUED run that now holds its lock (it claims the
        run first); `finish`: ExecutionService.finish."""
        self._executions = executions
        self._locks = locks
        self._queue = queue
        self._sealer = sealer
        self._launch = launch
        self._finish = finish
        self._advancing = threading.local()

    @property
    def queue(self) -> LockQueueService:
        return self._queue

    def enqueue(
        self, execution: Execution, request: ExecutionRequest, lock_seconds: int
    ) -> Execution:
        """Put the run behind its lock's queue: the QUEUED record to store (env values
        sealed in it). Raises QueueFull when the queue is at its maximum."""
        assert request.lock is not None and request.wait_lock_seconds is not None
        sealed = None
        if request.env:
            if self._sealer is None:
                raise ValidationFailed("this server cannot keep env values of a queued run")
            sealed = self._sealer.seal(execution.execution_id, dict(request.env))
        entry = self._queue.enqueue(
            request.lock,
            execution.execution_id,
            execution.user_email,
            request.wait_lock_seconds,
            lock_seconds,
        )
        return replace(
            execution, status=Status.QUEUED, lock_wait_until=entry.wait_until, sealed_env=sealed
        )

    def withdraw(self, lock_name: str, execution_id: str) -> bool:
        """Take the run out of the queue; False when it was not there (promoted already)."""
        return self._queue.leave(lock_name, execution_id)

    def unseal_env(self, execution: Execution) -> dict[str, str]:
        if execution.sealed_env is None:
            return {}
        if self._sealer is None:
            raise ValueError("this server cannot unseal env values")
        return self._sealer.unseal(execution.execution_id, execution.sealed_env)

    def place(self, execution: Execution) -> QueuePlace | None:
        """Where a QUEUED run stands; None for any other."""
        if execution.lock_name is None or execution.status is not Status.QUEUED:
            return None
        lock = self._locks.get(execution.lock_name)
        run = None
        if lock is not None and not lock.is_hold:
            run = self._executions.get(lock.execution_id)
        return QueuePlace(
            lock_name=execution.lock_name,
            position=self._queue.position(execution.lock_name, execution.execution_id),
            holder=LockHolder.of(lock, run) if lock is not None else None,
        )

    def advance(self, lock_name: str) -> None:
        """Give the free lock to the head of its queue and launch it; end expired waits.
        Re-entered from a finish in this thread, it only notes to go round once more."""
        active: set[str] = self._state("active")
        again: set[str] = self._state("again")
        if lock_name in active:
            again.add(lock_name)
            return
        active.add(lock_name)
        try:
            while True:
                again.discard(lock_name)
                self._advance_once(lock_name)
                if lock_name not in again:
                    return
        finally:
            active.discard(lock_name)

    def sweep(self, active: Iterable[Execution]) -> None:
        """`advance` every lock with waiters, and every lock a QUEUED run holds (its
        promoter died before launching it)."""
        names = set(self._queue.waiting_locks())
        names.update(e.lock_name for e in active if e.status is Status.QUEUED and e.lock_name)
        for name in sorted(names):
            self.advance(name)

    def _advance_once(self, lock_name: str) -> None:
        while True:
            promotion = self._queue.promote(lock_name)
            for entry in promotion.expired:
                self._expire(entry)
            holder = self._locks.get(lock_name)
            if holder is None or holder.is_hold:
                return
            execution = self._executions.get(holder.execution_id)
            if execution is None:  # being recorded: its create advances the lock next
                return
            if execution.status is Status.QUEUED:
                self._launch(execution)
                return
            if execution.status.is_terminal:  # its end did not free the lock: free it now
                self._locks.release(lock_name, execution.execution_id)
                continue
            if execution.status is Status.CANCELLING and execution.waits_in_queue:
                # Cancelled between its promotion and its launch: it never started.
                self._finish(execution.execution_id, Status.CANCELLED, advance=False)
                continue
            return

    def _expire(self, entry: QueueEntry) -> None:
        waited = parse_iso(entry.wait_until) - parse_iso(entry.queued_at)
        holder = self._locks.get(entry.lock_name)
        self._finish(
            entry.execution_id,
            Status.FAILED,
            exit_code=LOCK_WAIT_EXPIRED_EXIT_CODE,
            reason=(
                f"lock wait expired after {format_seconds(waited / timedelta(seconds=1))}: "
                f"lock '{entry.lock_name}' is {holder_phrase(holder)}"
            ),
            advance=False,
        )

    def _state(self, name: str) -> set[str]:
        value: set[str] | None = getattr(self._advancing, name, None)
        if value is None:
            value = set()
            setattr(self._advancing, name, value)
        return value
