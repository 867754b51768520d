"""SQLite implementations of the API key, execution and lock stores."""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import lru_cache
from typing import Any

from orchestrator.adapters.local.database import Database
from orchestrator.adapters.local.markers import SqliteMarkers, held_marker
from orchestrator.domain.cursors import decode_cursor, encode_cursor
from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import (
    ACTIVE_STATUSES,
    CHECK,
    RUN,
    ApiKeyRecord,
    Execution,
    ExecutionStatus,
    Lock,
    Page,
    Role,
    RunningCount,
    settable_fields,
)
from orchestrator.domain.quota import RunningLimits

_EXECUTION_FIELDS = tuple(Execution.__dataclass_fields__)
# Executions are read as plain tuples in field order (no sqlite3.Row lookups by name): a
# listing turns dozens of rows into records per request, so the per-row cost is what counts.
_EXECUTION_COLUMNS = ", ".join(_EXECUTION_FIELDS)
_STATUS_AT = _EXECUTION_FIELDS.index("status")
_ENV_NAMES_AT = _EXECUTION_FIELDS.index("env_names")
_SECRET_NAMES_AT = _EXECUTION_FIELDS.index("secret_names")
_STATUSES = {status.value: status for status in ExecutionStatus}


class SqliteApiKeyStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, record: ApiKeyRecord) -> None:
        self._db.connection().execute(
            "INSERT INTO api_keys (api_key_hash, user_email, role, created_at, revoked,"
            " revoked_at, last_used) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                record.api_key_hash,
                record.user_email,
                record.role.value,
                record.created_at,
                int(record.revoked),
                record.revoked_at,
                record.last_used,
            ),
        )

    def add(self, record: ApiKeyRecord) -> None:
        try:
            self.put(record)
        except sqlite3.IntegrityError as error:
            raise Conflict(f"key hash {record.api_key_hash[:12]}… exists") from error

    def get(self, api_key_hash: str) -> ApiKeyRecord | None:
        row = (
            self._db.connection()
            .execute("SELECT * FROM api_keys WHERE api_key_hash = ?", (api_key_hash,))
            .fetchone()
        )
        return _api_key(row) if row else None

    def list_by_email(self, email: str) -> list[ApiKeyRecord]:
        rows = self._db.connection().execute(
            "SELECT * FROM api_keys WHERE user_email = ? ORDER BY created_at", (email,)
        )
        return [_api_key(row) for row in rows]

    def list_all(self) -> list[ApiKeyRecord]:
        rows = self._db.connection().execute("SELECT * FROM api_keys ORDER BY created_at")
        return [_api_key(row) for row in rows]

    def revoke(self, api_key_hash: str, revoked_at: str) -> None:
        self._db.connection().execute(
            "UPDATE api_keys SET revoked = 1, revoked_at = ? WHERE api_key_hash = ?",
            (revoked_at, api_key_hash),
        )

    def touch(self, api_key_hash: str, last_used: str) -> None:
        self._db.connection().execute(
            "UPDATE api_keys SET last_used = ? WHERE api_key_hash = ?"
            " AND (last_used IS NULL OR last_used < ?)",
            (last_used, api_key_hash, last_used),
        )


class SqliteExecutionStore(SqliteMarkers):
    """Executions, and the Idempotency-Keys' markers beside them (SqliteMarkers). A running
    slot is a row whose status is not terminal: counted in the create's transaction, given
    back by the terminal update itself."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self._db = db

    def create(
        self,
        execution: Execution,
        *,
        limits: RunningLimits | None = None,
        claimed_by: str | None = None,
    ) -> None:
        row = _execution_row(execution)
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        # One write transaction: the marker's check, the count and the insert.
        with self._db.immediate() as conn:
            if claimed_by is not None:
                marker = held_marker(conn, execution.execution_id)
                if marker is None or marker.owner != claimed_by:
                    raise Conflict(
                        f"execution {execution.execution_id}: the Idempotency-Key's marker "
                        "is another request's"
                    )
            if limits is not None and not execution.status.is_terminal:
                running = _running(conn, execution.user_email)
                if not limits.admits(running):
                    raise limits.refusal(running)
            try:
                conn.execute(
                    f"INSERT INTO executions ({columns}) VALUES ({marks})", tuple(row.values())
                )
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"execution {execution.execution_id} already exists") from exc

    def get(self, execution_id: str) -> Execution | None:
        rows = _tuples(
            self._db.connection(),
            f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE execution_id = ?",
            (execution_id,),
        )
        return next(_executions(rows), None)

    def advance(
        self,
        execution_id: str,
        status: ExecutionStatus,
        *,
        updated_at: str,
        **fields: object,
    ) -> Execution | None:
        sources = ExecutionStatus.sources_of(status)
        values = {"status": status.value, "updated_at": updated_at, **settable_fields(fields)}
        assignments = ", ".join(f"{name} = ?" for name in values)
        marks = ", ".join("?" for _ in sources)
        rows = _tuples(
            self._db.connection(),
            f"UPDATE executions SET {assignments} WHERE execution_id = ?"
            f" AND status IN ({marks}) RETURNING {_EXECUTION_COLUMNS}",
            (*values.values(), execution_id, *(s.value for s in sources)),
        )
        return next(_executions(rows), None)

    def annotate(self, execution_id: str, **fields: object) -> None:
        values = settable_fields(fields)
        if not values:
            return
        assignments = ", ".join(f"{name} = ?" for name in values)
        self._db.connection().execute(
            f"UPDATE executions SET {assignments} WHERE execution_id = ?",
            (*values.values(), execution_id),
        )

    def list_page(
        self,
        *,
        user_email: str | None,
        status: ExecutionStatus | None,
        limit: int,
        cursor: str | None,
        include_checks: bool = False,
    ) -> Page:
        """One indexed query per purpose listed (runs; and checks, merged, when included),
        each reading at most `limit` + 1 rows. The cursor is the last row's position."""
        conditions: list[str] = []
        params: list[Any] = []
        if user_email is not None:
            conditions.append("user_email = ?")
            params.append(user_email)
        if status is not None:
            conditions.append("status = ?")
            params.append(status.value)
        if cursor:
            position = decode_cursor(cursor, ("started_at", "execution_id"))
            conditions.append("(started_at, execution_id) < (?, ?)")
            params += [position["started_at"], position["execution_id"]]
        where = " AND ".join(["purpose = ?", *conditions])
        sql = (
            f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE {where}"
            " ORDER BY started_at DESC, execution_id DESC LIMIT ?"
        )
        connection = self._db.connection()
        listed = (RUN, CHECK) if include_checks else (RUN,)
        items = heapq.nlargest(
            limit + 1,
            (
                execution
                for purpose in listed
                for execution in _executions(
                    _tuples(connection, sql, (purpose, *params, limit + 1))
                )
            ),
            key=lambda e: (e.started_at, e.execution_id),
        )
        next_cursor = None
        if len(items) > limit:
            items = items[:limit]
            last = items[-1]
            next_cursor = encode_cursor(
                {"started_at": last.started_at, "execution_id": last.execution_id}
            )
        return Page(items=items, next_cursor=next_cursor)

    def list_active(self) -> list[Execution]:
        marks = ", ".join("?" for _ in ACTIVE_STATUSES)
        rows = _tuples(
            self._db.connection(),
            f"SELECT {_EXECUTION_COLUMNS} FROM executions WHERE status IN ({marks})"
            " ORDER BY started_at",
            tuple(s.value for s in ACTIVE_STATUSES),
        )
        return list(_executions(rows))

    def count_active(self, user_email: str) -> RunningCount:
        return _running(self._db.connection(), user_email)


class SqliteLockStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    def acquire(self, lock: Lock, now: datetime) -> Lock | None:
        with self._db.immediate() as conn:
            row = conn.execute(
                "SELECT * FROM locks WHERE lock_name = ?", (lock.lock_name,)
            ).fetchone()
            if row is not None and row["ttl"] >= int(now.timestamp()):
                return _lock(row)
            conn.execute(
                "INSERT OR REPLACE INTO locks (lock_name, execution_id, user_email, acquired_at,"
                " expires_at, ttl, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    lock.lock_name,
                    lock.execution_id,
                    lock.user_email,
                    lock.acquired_at,
                    lock.expires_at,
                    lock.ttl,
                    lock.reason,
                ),
            )
        return None

    def release(self, lock_name: str, execution_id: str) -> bool:
        cursor = self._db.connection().execute(
            "DELETE FROM locks WHERE lock_name = ? AND execution_id = ?", (lock_name, execution_id)
        )
        return cursor.rowcount > 0

    def get(self, lock_name: str) -> Lock | None:
        row = (
            self._db.connection()
            .execute("SELECT * FROM locks WHERE lock_name = ?", (lock_name,))
            .fetchone()
        )
        return _lock(row) if row else None

    def list_active(self, now: datetime) -> list[Lock]:
        rows = self._db.connection().execute(
            "SELECT * FROM locks WHERE ttl >= ? ORDER BY lock_name", (int(now.timestamp()),)
        )
        return [_lock(row) for row in rows]


def _running(conn: sqlite3.Connection, user_email: str) -> RunningCount:
    """The executions not terminal, `user_email`'s and everyone's: reads only the active
    rows, through the (status, ...) index."""
    marks = ", ".join("?" for _ in ACTIVE_STATUSES)
    total, user = conn.execute(
        "SELECT COUNT(*), COALESCE(SUM(user_email = ?), 0) FROM executions"
        f" INDEXED BY executions_by_status WHERE status IN ({marks})",
        (user_email, *(s.value for s in ACTIVE_STATUSES)),
    ).fetchone()
    return RunningCount(user=int(user), total=int(total))


def _execution_row(execution: Execution) -> dict[str, object]:
    row = {name: getattr(execution, name) for name in _EXECUTION_FIELDS}
    row["status"] = execution.status.value
    row["env_names"] = json.dumps(list(execution.env_names))
    row["secret_names"] = json.dumps(list(execution.secret_names))
    return row


def _tuples(connection: sqlite3.Connection, sql: str, params: tuple[object, ...]) -> sqlite3.Cursor:
    """The rows of `sql` as plain tuples."""
    cursor = connection.cursor()
    cursor.row_factory = None
    return cursor.execute(sql, params)


def _executions(rows: Iterable[tuple[Any, ...]]) -> Iterator[Execution]:
    """Records from rows holding the columns of `_EXECUTION_COLUMNS`, in that order."""
    for row in rows:
        values = list(row)
        values[_STATUS_AT] = _STATUSES[values[_STATUS_AT]]
        values[_ENV_NAMES_AT] = _names(values[_ENV_NAMES_AT])
        values[_SECRET_NAMES_AT] = _names(values[_SECRET_NAMES_AT])
        # What Execution(*values) makes, without its frozen __init__'s one setattr per field
        # (it has no __post_init__ and no slots): a third of a listing's cost otherwise.
        execution = object.__new__(Execution)
        object.__setattr__(execution, "__dict__", dict(zip(_EXECUTION_FIELDS, values, strict=True)))
        yield execution


@lru_cache(maxsize=1024)
def _names(stored: str) -> tuple[str, ...]:
    # The same few name lists recur across a user's executions; a tuple is safe to share.
    return tuple(json.loads(stored))


def _api_key(row: sqlite3.Row) -> ApiKeyRecord:
    return ApiKeyRecord(
        api_key_hash=row["api_key_hash"],
        user_email=row["user_email"],
        role=Role(row["role"]),
        created_at=row["created_at"],
        revoked=bool(row["revoked"]),
        revoked_at=row["revoked_at"],
        last_used=row["last_used"],
    )


def _lock(row: sqlite3.Row) -> Lock:
    return Lock(
        lock_name=row["lock_name"],
        execution_id=row["execution_id"],
        user_email=row["user_email"],
        acquired_at=row["acquired_at"],
        expires_at=row["expires_at"],
        reason=row["reason"],
    )
