"""Lock history in the local SQLite file (migration 13): one row per event, read newest
first through an index, so a page costs what its limit does."""

from __future__ import annotations

import sqlite3

from orchestrator.adapters.local.database import Database
from orchestrator.domain.lock_history import HistoryMark, LockAction, LockEvent


class SqliteLockHistory:
    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, event: LockEvent) -> None:
        self._db.connection().execute(
            "INSERT OR IGNORE INTO lock_history (event_id, lock_name, action, user_email, at,"
            " holder_id, holder_email, reason) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                event.event_id,
                event.lock_name,
                event.action.value,
                event.user_email,
                event.at,
                event.holder_id,
                event.holder_email,
                event.reason,
            ),
        )

    def newest(
        self, lock_name: str | None, limit: int, before: HistoryMark | None
    ) -> list[LockEvent]:
        where: list[str] = []
        params: list[object] = []
        if lock_name is not None:
            where.append("lock_name = ?")
            params.append(lock_name)
        if before is not None:
            where.append("(at, lock_name, event_id) < (?, ?, ?)")
            params.extend(before)
        sql = "SELECT * FROM lock_history"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY at DESC, lock_name DESC, event_id DESC LIMIT ?"
        params.append(limit)
        return [_event(row) for row in self._db.connection().execute(sql, params)]


def _event(row: sqlite3.Row) -> LockEvent:
    return LockEvent(
        lock_name=row["lock_name"],
        action=LockAction(row["action"]),
        user_email=row["user_email"],
        at=row["at"],
        holder_id=row["holder_id"],
        holder_email=row["holder_email"],
        reason=row["reason"],
        event_id=row["event_id"],
    )
