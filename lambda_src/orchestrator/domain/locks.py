"""Named locks as users see them: the active ones, and an admin's forced release."""

from __future__ import annotations

from orchestrator.domain.errors import Forbidden, NotFound
from orchestrator.domain.models import Caller, Lock, utc_iso
from orchestrator.ports import Clock, ExecutionStore, LockStore


class LockService:
    def __init__(self, locks: LockStore, executions: ExecutionStore, clock: Clock) -> None:
        self._locks = locks
        self._executions = executions
        self._clock = clock

    def list_active(self) -> list[Lock]:
        return sorted(self._locks.list_active(self._clock.now()), key=lambda lock: lock.lock_name)

    def force_release(self, caller: Caller, lock_name: str) -> Lock:
        """Free a lock whatever holds it, noting on the holder's execution who did it."""
        if not caller.is_admin:
            raise Forbidden("only admins can release locks")
        lock = self._locks.get(lock_name)
        if lock is None or not self._locks.release(lock_name, lock.execution_id):
            raise NotFound(f"lock '{lock_name}' is not held")
        self._executions.annotate(
            lock.execution_id,
            lock_released_by=caller.email,
            updated_at=utc_iso(self._clock.now()),
        )
        return lock
