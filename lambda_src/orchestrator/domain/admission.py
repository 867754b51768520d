"""Admission of a new execution: the running-execution quota (per user and in total) and its
named lock. The quota is checked here first, then again by the store's create in the same
atomic step as the record (domain/quota.py), so concurrent creates cannot all pass it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from orchestrator.domain.errors import LockHeld
from orchestrator.domain.lock_holders import lock_held_error
from orchestrator.domain.models import Caller, Execution, Lock, Quota, utc_iso
from orchestrator.domain.quota import RunningLimits
from orchestrator.ports import Clock, ExecutionStore, LockStore, Metrics

if TYPE_CHECKING:
    from orchestrator.domain.executions import ExecutionPolicy


class Admission:
    """Counts running executions against the policy's limits and takes named locks."""

    def __init__(
        self,
        executions: ExecutionStore,
        locks: LockStore,
        clock: Clock,
        policy: ExecutionPolicy,
        metrics: Metrics,
    ) -> None:
        self._executions = executions
        self._locks = locks
        self._clock = clock
        self._policy = policy
        self._metrics = metrics

    def quota(self, caller: Caller) -> Quota:
        """The running-execution limits, the caller's running count, and for an admin the
        platform's."""
        running = self._executions.count_active(caller.email)
        return Quota(
            max_running_per_user=self._policy.max_running_per_user,
            max_running_total=self._policy.max_running_total,
            running=running.user,
            total_running=running.total if caller.is_admin else None,
        )

    @property
    def limits(self) -> RunningLimits:
        return RunningLimits(self._policy.max_running_per_user, self._policy.max_running_total)

    def admit(self, caller: Caller) -> None:
        """Refuse (429) a new execution over the per-user or the total running limit, before
        anything is taken. Only a first look: the store's create counts again, atomically."""
        running = self._executions.count_active(caller.email)
        if not self.limits.admits(running):
            raise self.limits.refusal(running)

    def acquire_lock(self, lock_name: str, execution: Execution) -> None:
        now = self._clock.now()
        expires = now + timedelta(
            seconds=execution.timeout_seconds + self._policy.lock_grace_seconds
        )
        lock = Lock(
            lock_name=lock_name,
            execution_id=execution.execution_id,
            user_email=execution.user_email,
            acquired_at=utc_iso(now),
            expires_at=utc_iso(expires),
        )
        holder = self._locks.acquire(lock, now)
        if holder is not None:
            self._metrics.count("LockConflicts")
            raise self._lock_held(holder)

    def _lock_held(self, holder: Lock) -> LockHeld:
        """Names the holder: a run and where it stands (RUNNING since ..., or already ended
        and the lock about to be freed), or a hold with its reason and the time it has left."""
        run = None if holder.is_hold else self._executions.get(holder.execution_id)
        return lock_held_error(holder, run, self._clock.now())
