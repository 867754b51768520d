"""A run waiting for a named lock, as the lock queue stores it (ports.LockQueue)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from orchestrator.domain.models import Lock, parse_iso, utc_iso


@dataclass(frozen=True)
class QueueEntry:
    """`execution_id` waits for `lock_name` since `queued_at`, until `wait_until` at most.
    Once promoted it holds the lock for `lock_seconds` (its timeout and the grace).
    `position` (1 = next) is filled in when read; 0 in what is stored."""

    lock_name: str
    execution_id: str
    user_email: str
    queued_at: str
    wait_until: str
    lock_seconds: int
    position: int = 0

    def at(self, position: int) -> QueueEntry:
        return replace(self, position=position)

    def wait_expired(self, now: datetime) -> bool:
        return parse_iso(self.wait_until) < now

    def lock_from(self, now: datetime) -> Lock:
        """The lock this entry takes when promoted at `now`."""
        return Lock(
            lock_name=self.lock_name,
            execution_id=self.execution_id,
            user_email=self.user_email,
            acquired_at=utc_iso(now),
            expires_at=utc_iso(now + timedelta(seconds=self.lock_seconds)),
        )

    def to_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}
