"""The server-side lock queue and holds (issue 21), over the LockQueue and LockStore ports.

- A run that finds its lock taken waits in the lock's queue, in arrival order, for at most
  its wait; `MAX_QUEUE_LENGTH` wait per lock (more: 429 queue_full).
- `promote` starts the head when the lock is free: the port takes the lock and removes the
  entry in one atomic step, so no run starts twice and none starts while the lock is held.
  Waits that expired first leave the queue and are returned for the caller to end.
- A hold is the lock taken by a person with no run and a reason, for `--for` (default one
  hour, at most a day). Runs queue behind it; its holder or an admin releases it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from orchestrator.domain.errors import Forbidden, LockHeld, NotFound, ValidationFailed
from orchestrator.domain.models import Caller, Lock, utc_iso
from orchestrator.domain.queue_entry import QueueEntry
from orchestrator.ports import Clock, LockQueue, LockStore

MAX_QUEUE_LENGTH = 100
HOLD_DEFAULT_SECONDS = 3600
HOLD_MAX_SECONDS = 24 * 3600
MAX_REASON_LENGTH = 500
HOLD_ID_PREFIX = "hold-"


@dataclass(frozen=True)
class Promotion:
    """What one promotion did: the entry that now holds the lock (None when the lock is
    held or nobody waits) and the entries whose wait had expired, now out of the queue."""

    started: QueueEntry | None
    expired: list[QueueEntry] = field(default_factory=list)


class LockQueueService:
    def __init__(self, queue: LockQueue, locks: LockStore, clock: Clock) -> None:
        self._queue = queue
        self._locks = locks
        self._clock = clock

    def enqueue(
        self,
        lock_name: str,
        execution_id: str,
        user_email: str,
        wait_seconds: int,
        lock_seconds: int,
    ) -> QueueEntry:
        """Queue the run for the lock; the entry with its position at arrival."""
        now = self._clock.now()
        entry = QueueEntry(
            lock_name=lock_name,
            execution_id=execution_id,
            user_email=user_email,
            queued_at=utc_iso(now),
            wait_until=utc_iso(now + timedelta(seconds=wait_seconds)),
            lock_seconds=lock_seconds,
        )
        return entry.at(self._queue.enqueue(entry, MAX_QUEUE_LENGTH))

    def queue(self, lock_name: str) -> list[QueueEntry]:
        return self._queue.entries(lock_name)

    def position(self, lock_name: str, execution_id: str) -> int | None:
        """Where the run stands in the lock's queue (1 = next); None when not queued."""
        for entry in self._queue.entries(lock_name):
            if entry.execution_id == execution_id:
                return entry.position
        return None

    def leave(self, lock_name: str, execution_id: str) -> bool:
        """Take a queued run out (cancelled); False when it was not queued."""
        return self._queue.remove(lock_name, execution_id)

    def promote(self, lock_name: str) -> Promotion:
        """Drop the expired waits (wherever they stand), then start the head if the lock is
        free."""
        now = self._clock.now()
        expired = [
            entry
            for entry in self._queue.entries(lock_name)
            if entry.wait_expired(now) and self._queue.remove(lock_name, entry.execution_id)
        ]
        return Promotion(started=self._queue.promote_head(lock_name, now), expired=expired)

    def waiting_locks(self) -> list[str]:
        """The locks someone waits for."""
        return self._queue.waiting_locks()

    def promote_all(self) -> list[Promotion]:
        """`promote` on every lock someone waits for (the reaper's sweep)."""
        return [self.promote(name) for name in self._queue.waiting_locks()]

    def hold(self, caller: Caller, lock_name: str, reason: str, seconds: int | None) -> Lock:
        """Take the lock with no run; raises LockHeld (with the holder) when it is taken."""
        reason = reason.strip()
        if not reason or len(reason) > MAX_REASON_LENGTH:
            raise ValidationFailed(f"a hold needs a reason of 1 to {MAX_REASON_LENGTH} characters")
        seconds = HOLD_DEFAULT_SECONDS if seconds is None else seconds
        if not 0 < seconds <= HOLD_MAX_SECONDS:
            raise ValidationFailed(f"a hold lasts from 1 second to {HOLD_MAX_SECONDS} seconds")
        now = self._clock.now()
        hold = Lock(
            lock_name=lock_name,
            execution_id=HOLD_ID_PREFIX + secrets.token_hex(8),
            user_email=caller.email,
            acquired_at=utc_iso(now),
            expires_at=utc_iso(now + timedelta(seconds=seconds)),
            reason=reason,
        )
        holder = self._locks.acquire(hold, now)
        if holder is not None:
            raise LockHeld(
                f"lock '{lock_name}' is held by {holder.user_email}",
                details={"lock_name": lock_name, "holder": holder.to_dict()},
            )
        return hold

    def release_hold(self, caller: Caller, lock_name: str) -> Lock:
        """End the lock's hold: its holder or an admin. The queue's head may start next."""
        hold = self._locks.get(lock_name)
        if hold is None or not hold.is_hold or not hold.is_active(self._clock.now()):
            raise NotFound(f"lock '{lock_name}' is not held by a hold")
        if hold.user_email != caller.email and not caller.is_admin:
            raise Forbidden("only the holder or an admin can release a hold")
        if not self._locks.release(lock_name, hold.execution_id):
            raise NotFound(f"lock '{lock_name}' is not held by a hold")
        return hold
