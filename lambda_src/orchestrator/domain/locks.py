"""Named locks as users see them (issue 21): one picture of who holds each lock and who
waits, holds taken and released by people, an admin's forced release of a run's lock, and
the history of all that. After every release `on_release(lock_name)` lets the queue move
(the host wires it to `ExecutionService.advance_queue`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from orchestrator.domain.errors import Forbidden, LockHeld, NotFound, ValidationFailed
from orchestrator.domain.lock_history import (
    HistoryPage,
    LockAction,
    LockEvent,
    check_limit,
    cursor_mark,
    mark_cursor,
    new_event_id,
)
from orchestrator.domain.lock_holders import LockHolder, lock_held_error
from orchestrator.domain.lock_queue import LockQueueService
from orchestrator.domain.models import (
    LOCK_NAME_RULE,
    Caller,
    Execution,
    Lock,
    TextKind,
    is_valid_lock_name,
    text_problem,
    utc_iso,
)
from orchestrator.domain.queue_entry import QueueEntry
from orchestrator.ports import Clock, ExecutionStore, LockHistory, LockQueue, LockStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockView:
    """One lock in the picture: its holder (None when free) and its queue, in order."""

    name: str
    holder: LockHolder | None
    queue: list[QueueEntry]

    def to_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "holder": self.holder.to_dict() if self.holder else None,
            "queue": [
                {
                    "position": entry.position,
                    "execution_id": entry.execution_id,
                    "user_email": entry.user_email,
                    "queued_at": entry.queued_at,
                    "wait_until": entry.wait_until,
                }
                for entry in self.queue
            ],
        }


def check_lock_name(lock_name: str) -> None:
    if not is_valid_lock_name(lock_name):
        raise ValidationFailed(f"invalid lock name {lock_name!r}: {LOCK_NAME_RULE}")


class LockService:
    def __init__(
        self,
        locks: LockStore,
        executions: ExecutionStore,
        clock: Clock,
        *,
        queue: LockQueue,
        history: LockHistory,
        on_release: Callable[[str], None] | None = None,
    ) -> None:
        self._locks = locks
        self._executions = executions
        self._clock = clock
        self._queue = queue
        self._history = history
        self._holds = LockQueueService(queue, locks, clock)
        self.on_release = on_release

    def list_active(self) -> list[Lock]:
        return sorted(self._locks.list_active(self._clock.now()), key=lambda lock: lock.lock_name)

    def picture(self) -> list[LockView]:
        """Every lock that is held or has waiters, by name."""
        held = {lock.lock_name: lock for lock in self._locks.list_active(self._clock.now())}
        views = []
        for name in sorted(set(held) | set(self._queue.waiting_locks())):
            lock = held.get(name)
            holder = self._holder(lock) if lock is not None else None
            queue = self._queue.entries(name)
            if holder is not None or queue:
                views.append(LockView(name=name, holder=holder, queue=queue))
        return views

    def hold(
        self, caller: Caller, lock_name: str, reason: str, seconds: int | None = None
    ) -> LockHolder:
        """Take the lock with no run; 409 lock_held (naming the holder) when it is taken."""
        check_lock_name(lock_name)
        problem = text_problem(reason, TextKind.NAME)
        if problem is not None:
            raise ValidationFailed(f"invalid reason: {problem}")
        self.note_expired_hold(lock_name)
        try:
            hold = self._holds.hold(caller, lock_name, reason, seconds)
        except LockHeld as refused:
            holder = Lock(**refused.details["holder"])
            raise lock_held_error(holder, self._run_of(holder), self._clock.now()) from None
        self._record(LockAction.HOLD, caller, hold, at=hold.acquired_at)
        return LockHolder.of(hold)

    def release(self, caller: Caller, lock_name: str) -> LockHolder:
        """Free the lock: a hold by its holder or an admin, a run's lock by an admin (noted
        on the run). Then the queue may move on."""
        check_lock_name(lock_name)
        lock = self._locks.get(lock_name)
        if lock is not None and self.note_expired_hold(lock_name):
            # Past its end: free what is left of it, so the queue moves on now.
            if self._locks.release(lock_name, lock.execution_id):
                self._released(lock_name)
            lock = None
        if lock is None:
            raise NotFound(f"lock '{lock_name}' is not held")
        if lock.is_hold:
            if lock.user_email != caller.email and not caller.is_admin:
                raise Forbidden("only the hold's holder or an admin can release a hold")
        elif not caller.is_admin:
            raise Forbidden("only admins can release a run's lock")
        if not self._locks.release(lock_name, lock.execution_id):
            raise NotFound(f"lock '{lock_name}' is not held")
        holder = self._holder(lock)
        now = utc_iso(self._clock.now())
        if lock.is_hold:
            self._record(LockAction.RELEASE, caller, lock, at=now)
        else:
            self._executions.annotate(
                lock.execution_id, lock_released_by=caller.email, updated_at=now
            )
            self._record(LockAction.FORCE_RELEASE, caller, lock, at=now)
        self._released(lock_name)
        return holder

    def force_release(self, caller: Caller, lock_name: str) -> LockHolder:
        """An admin frees the lock whatever holds it (kept for older callers)."""
        if not caller.is_admin:
            raise Forbidden("only admins can release locks")
        return self.release(caller, lock_name)

    def note_expired_hold(self, lock_name: str) -> bool:
        """When the lock's stored holder is a hold past its end, record that it expired
        (once, however often this is called). True when it had expired. The lock itself is
        left to whoever takes it next (an expired lock counts as free everywhere)."""
        lock = self._locks.get(lock_name)
        if lock is None or not lock.is_hold or lock.is_active(self._clock.now()):
            return False
        self._history.record(
            LockEvent(
                lock_name=lock_name,
                action=LockAction.EXPIRE,
                user_email=lock.user_email,
                at=lock.expires_at,
                holder_id=lock.execution_id,
                holder_email=lock.user_email,
                reason=lock.reason,
                event_id=f"expire-{lock.execution_id}",
            )
        )
        return True

    def history(
        self, lock_name: str | None = None, limit: int | None = None, cursor: str | None = None
    ) -> HistoryPage:
        """Newest first, `limit` a page (1..200, default 50); `next_cursor` continues."""
        if lock_name is not None:
            check_lock_name(lock_name)
        limit = check_limit(limit)
        events = self._history.newest(lock_name, limit + 1, cursor_mark(cursor))
        more = len(events) > limit
        events = events[:limit]
        return HistoryPage(events, mark_cursor(events[-1].mark) if more else None)

    def _holder(self, lock: Lock) -> LockHolder:
        return LockHolder.of(lock, self._run_of(lock))

    def _run_of(self, lock: Lock) -> Execution | None:
        return None if lock.is_hold else self._executions.get(lock.execution_id)

    def _record(self, action: LockAction, caller: Caller, lock: Lock, *, at: str) -> None:
        self._history.record(
            LockEvent(
                lock_name=lock.lock_name,
                action=action,
                user_email=caller.email,
                at=at,
                holder_id=lock.execution_id,
                holder_email=lock.user_email,
                reason=lock.reason,
                event_id=new_event_id(),
            )
        )

    def _released(self, lock_name: str) -> None:
        """Let the queue move on; a failure here leaves it to the next sweep."""
        if self.on_release is None:
            return
        try:
            self.on_release(lock_name)
        except Exception:
            logger.exception("advancing the queue of lock %r after a release failed", lock_name)
