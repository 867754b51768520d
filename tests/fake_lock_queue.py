"""The in-memory LockQueue, sharing an InMemoryLockStore's locks (and its mutex, so
promotion is one atomic step as on the real stores)."""

from __future__ import annotations

import itertools
from datetime import datetime

from fakes import InMemoryLockStore
from orchestrator.domain.errors import Conflict, QueueFull
from orchestrator.domain.queue_entry import QueueEntry


class InMemoryLockQueue:
    def __init__(self, locks: InMemoryLockStore) -> None:
        self._locks = locks
        self._queues: dict[str, list[QueueEntry]] = {}
        self._arrivals = itertools.count(1)

    def enqueue(self, entry: QueueEntry, max_length: int) -> int:
        with self._locks.mutex:
            queue = self._queues.setdefault(entry.lock_name, [])
            if any(item.execution_id == entry.execution_id for item in queue):
                raise Conflict(f"{entry.execution_id} is queued for {entry.lock_name} already")
            if len(queue) >= max_length:
                raise QueueFull(f"{max_length} runs wait for lock '{entry.lock_name}' already")
            queue.append(entry)
            return len(queue)

    def entries(self, lock_name: str) -> list[QueueEntry]:
        with self._locks.mutex:
            queue = list(self._queues.get(lock_name, []))
        return [entry.at(n) for n, entry in enumerate(queue, start=1)]

    def remove(self, lock_name: str, execution_id: str) -> bool:
        with self._locks.mutex:
            queue = self._queues.get(lock_name, [])
            kept = [entry for entry in queue if entry.execution_id != execution_id]
            self._queues[lock_name] = kept
            return len(kept) < len(queue)

    def promote_head(self, lock_name: str, now: datetime) -> QueueEntry | None:
        with self._locks.mutex:
            queue = self._queues.get(lock_name, [])
            held = self._locks.locks.get(lock_name)
            if not queue or (held is not None and held.is_active(now)):
                return None
            head = queue.pop(0)
            self._locks.locks[lock_name] = head.lock_from(now)
            return head.at(1)

    def waiting_locks(self) -> list[str]:
        with self._locks.mutex:
            return sorted(name for name, queue in self._queues.items() if queue)
