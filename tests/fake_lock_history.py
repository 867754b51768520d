"""The in-memory LockHistory: events kept in a dict by id, read newest first."""

from __future__ import annotations

import threading

from orchestrator.domain.lock_history import HistoryMark, LockEvent


class InMemoryLockHistory:
    def __init__(self) -> None:
        self.events: dict[str, LockEvent] = {}
        self._mutex = threading.Lock()

    def record(self, event: LockEvent) -> None:
        with self._mutex:
            self.events.setdefault(event.event_id, event)

    def newest(
        self, lock_name: str | None, limit: int, before: HistoryMark | None
    ) -> list[LockEvent]:
        with self._mutex:
            events = sorted(self.events.values(), key=lambda event: event.mark, reverse=True)
        return [
            event
            for event in events
            if (lock_name is None or event.lock_name == lock_name)
            and (before is None or event.mark < before)
        ][:limit]
