"""The lock queue in the local SQLite file, beside the `locks` table it promotes into:
each change is one write transaction (BEGIN IMMEDIATE), so arrival order is the order of
`seq` and a promotion takes the lock and removes the entry together."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from orchestrator.adapters.local.database import Database
from orchestrator.domain.errors import Conflict, QueueFull
from orchestrator.domain.queue_entry import QueueEntry


class SqliteLockQueue:
    def __init__(self, db: Database) -> None:
        self._db = db

    def enqueue(self, entry: QueueEntry, max_length: int) -> int:
        with self._db.immediate() as conn:
            waiting = int(
                conn.execute(
                    "SELECT COUNT(*) FROM lock_queue WHERE lock_name = ?", (entry.lock_name,)
                ).fetchone()[0]
            )
            if waiting >= max_length:
                raise QueueFull(f"{max_length} runs wait for lock '{entry.lock_name}' already")
            try:
                conn.execute(
                    "INSERT INTO lock_queue (lock_name, execution_id, user_email, queued_at,"
                    " wait_until, lock_seconds) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        entry.lock_name,
                        entry.execution_id,
                        entry.user_email,
                        entry.queued_at,
                        entry.wait_until,
                        entry.lock_seconds,
                    ),
                )
            except sqlite3.IntegrityError as error:
                raise Conflict(
                    f"{entry.execution_id} is queued for {entry.lock_name} already"
                ) from error
        return waiting + 1

    def entries(self, lock_name: str) -> list[QueueEntry]:
        rows = self._db.connection().execute(
            "SELECT * FROM lock_queue WHERE lock_name = ? ORDER BY seq", (lock_name,)
        )
        return [_entry(row).at(n) for n, row in enumerate(rows, start=1)]

    def remove(self, lock_name: str, execution_id: str) -> bool:
        cursor = self._db.connection().execute(
            "DELETE FROM lock_queue WHERE lock_name = ? AND execution_id = ?",
            (lock_name, execution_id),
        )
        return cursor.rowcount > 0

    def promote_head(self, lock_name: str, now: datetime) -> QueueEntry | None:
        with self._db.immediate() as conn:
            held = conn.execute(
                "SELECT 1 FROM locks WHERE lock_name = ? AND ttl >= ?",
                (lock_name, int(now.timestamp())),
            ).fetchone()
            head = conn.execute(
                "SELECT * FROM lock_queue WHERE lock_name = ? ORDER BY seq LIMIT 1", (lock_name,)
            ).fetchone()
            if held is not None or head is None:
                return None
            entry = _entry(head).at(1)
            lock = entry.lock_from(now)
            conn.execute(
                "INSERT OR REPLACE INTO locks (lock_name, execution_id, user_email, acquired_at,"
                " expires_at, ttl, reason) VALUES (?, ?, ?, ?, ?, ?, NULL)",
                (
                    lock.lock_name,
                    lock.execution_id,
                    lock.user_email,
                    lock.acquired_at,
                    lock.expires_at,
                    lock.ttl,
                ),
            )
            conn.execute("DELETE FROM lock_queue WHERE seq = ?", (head["seq"],))
        return entry

    def waiting_locks(self) -> list[str]:
        rows = self._db.connection().execute(
            "SELECT DISTINCT lock_name FROM lock_queue ORDER BY lock_name"
        )
        return [str(row["lock_name"]) for row in rows]


def _entry(row: sqlite3.Row) -> QueueEntry:
    return QueueEntry(
        lock_name=row["lock_name"],
        execution_id=row["execution_id"],
        user_email=row["user_email"],
        queued_at=row["queued_at"],
        wait_until=row["wait_until"],
        lock_seconds=int(row["lock_seconds"]),
    )
