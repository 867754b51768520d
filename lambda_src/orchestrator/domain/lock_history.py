"""What happened to named locks, newest first (issue 21): holds taken, released, expired,
and runs' locks an admin forced free. Stored through the LockHistory port."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from enum import StrEnum

from orchestrator.domain.cursors import decode_cursor, encode_cursor
from orchestrator.domain.errors import ValidationFailed

DEFAULT_HISTORY_LIMIT = 50
MAX_HISTORY_LIMIT = 200


class LockAction(StrEnum):
    HOLD = "hold"
    RELEASE = "release"
    FORCE_RELEASE = "force_release"
    EXPIRE = "expire"


# Where an event stands in the newest-first order: (at, lock_name, event_id).
HistoryMark = tuple[str, str, str]


@dataclass(frozen=True)
class LockEvent:
    """`user_email` did `action` on `lock_name` at `at`; the holder was `holder_id` (a hold
    id or a run's execution id) of `holder_email`; `reason` is the hold's."""

    lock_name: str
    action: LockAction
    user_email: str
    at: str
    holder_id: str
    holder_email: str
    reason: str | None
    event_id: str

    @property
    def mark(self) -> HistoryMark:
        return (self.at, self.lock_name, self.event_id)

    def to_dict(self) -> dict[str, object]:
        """The API's shape (the event id is the store's, not shown)."""
        return {
            "lock_name": self.lock_name,
            "action": self.action.value,
            "user_email": self.user_email,
            "at": self.at,
            "reason": self.reason,
            "holder_id": self.holder_id,
            "holder_email": self.holder_email,
        }


def new_event_id() -> str:
    """Unique, and in the order this host made them: events of one lock in the same
    millisecond (a hold released at once) still list in the order they happened."""
    return f"{time.time_ns():020d}{secrets.token_hex(4)}"


@dataclass(frozen=True)
class HistoryPage:
    items: list[LockEvent]
    next_cursor: str | None


def mark_cursor(mark: HistoryMark) -> str:
    at, lock_name, event_id = mark
    return encode_cursor({"at": at, "lock": lock_name, "id": event_id})


def cursor_mark(cursor: str | None) -> HistoryMark | None:
    """The position a history cursor stands for; ValidationFailed for one we did not make."""
    if not cursor:
        return None
    position = decode_cursor(cursor, ("at", "lock", "id"))
    mark = (position["at"], position["lock"], position["id"])
    if not all(isinstance(part, str) for part in mark):
        raise ValidationFailed("invalid cursor", {"cursor": cursor})
    return mark


def check_limit(limit: int | None) -> int:
    limit = DEFAULT_HISTORY_LIMIT if limit is None else limit
    if not 1 <= limit <= MAX_HISTORY_LIMIT:
        raise ValidationFailed(f"limit must be 1 to {MAX_HISTORY_LIMIT}", {"limit": limit})
    return limit
