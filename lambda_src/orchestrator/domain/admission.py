"""Admission of a new execution: the running-execution quota (per user and in total) and its
named lock. The quota is checked here first, then again by the store's create in the same
atomic step as the record (domain/quota.py), so concurrent creates cannot all pass it."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from orchestrator.domain.durations import format_seconds
from orchestrator.domain.errors import LockHeld
from orchestrator.domain.models import Caller, Execution, Lock, Quota, parse_iso, utc_iso
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
        """Names the holder's run and where it stands (RUNNING since ..., or already ended and
        the lock about to be freed), not the lock's expiry, which may be far off."""
        if holder.is_hold:
            return self._held_by_hold(holder)
        run = self._executions.get(holder.execution_id)
        details: dict[str, object] = {
            "lock_name": holder.lock_name,
            "holder": holder.user_email,
            "execution_id": holder.execution_id,
            "expires_at": holder.expires_at,
            "acquired_at": holder.acquired_at,
            "execution_status": run.status.value if run else None,
            "execution_started_at": run.started_at if run else None,
            "execution_finished_at": run.finished_at if run else None,
        }
        if run is None:
            state = f"acquired {holder.acquired_at}"
        elif run.finished_at:
            state = f"{run.status.value} at {run.finished_at}; the lock is being freed"
        else:
            state = f"{run.status.value} since {run.started_at}"
        return LockHeld(
            f"lock '{holder.lock_name}' is held by {holder.user_email} "
            f"(execution {holder.execution_id}, {state})",
            details,
        )

    def _held_by_hold(self, hold: Lock) -> LockHeld:
        """Names the hold's holder, its reason and the time it has left."""
        left = max(0.0, (parse_iso(hold.expires_at) - self._clock.now()).total_seconds())
        return LockHeld(
            f"lock '{hold.lock_name}' is held by a hold of {hold.user_email}: "
            f'"{hold.reason}" (ends in {format_seconds(left)}, at {hold.expires_at})',
            details={
                "lock_name": hold.lock_name,
                "holder": hold.user_email,
                "holder_kind": "hold",
                "execution_id": hold.execution_id,
                "reason": hold.reason,
                "acquired_at": hold.acquired_at,
                "expires_at": hold.expires_at,
                "execution_status": None,
                "execution_started_at": None,
                "execution_finished_at": None,
            },
        )
