"""The SQLite file behind the local stores: WAL, busy timeout, versioned migrations,
one connection per thread."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from orchestrator.adapters.local.private import create_private, private_dir

BUSY_TIMEOUT_MS = 10_000

# Append only: each entry upgrades the schema by one version (PRAGMA user_version).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE api_keys (
        api_key_hash TEXT PRIMARY KEY,
        user_email   TEXT NOT NULL,
        role         TEXT NOT NULL,
        created_at   TEXT NOT NULL,
        revoked      INTEGER NOT NULL DEFAULT 0,
        revoked_at   TEXT,
        last_used    TEXT
    );
    CREATE INDEX api_keys_user_email ON api_keys (user_email);

    CREATE TABLE executions (
        execution_id     TEXT PRIMARY KEY,
        started_at       TEXT NOT NULL,
        user_email       TEXT NOT NULL,
        command          TEXT NOT NULL,
        status           TEXT NOT NULL,
        timeout_seconds  INTEGER NOT NULL,
        lock_name        TEXT,
        upload_id        TEXT,
        env_names        TEXT NOT NULL DEFAULT '[]',
        exit_code        INTEGER,
        reason           TEXT,
        task_ref         TEXT,
        log_stream_name  TEXT,
        finished_at      TEXT,
        updated_at       TEXT,
        request_id       TEXT,
        cancelled_by     TEXT,
        lock_released_by TEXT
    );
    CREATE INDEX executions_by_start ON executions (started_at DESC, execution_id DESC);
    CREATE INDEX executions_by_user ON executions (user_email, started_at DESC, execution_id DESC);
    CREATE INDEX executions_by_status ON executions (status, started_at DESC, execution_id DESC);

    CREATE TABLE locks (
        lock_name    TEXT PRIMARY KEY,
        execution_id TEXT NOT NULL,
        user_email   TEXT NOT NULL,
        acquired_at  TEXT NOT NULL,
        expires_at   TEXT NOT NULL,
        ttl          INTEGER NOT NULL
    );
    """,
    """
    CREATE TABLE uploads (
        upload_id    TEXT PRIMARY KEY,
        user_email   TEXT NOT NULL,
        token_hash   TEXT NOT NULL,
        expires_at   TEXT NOT NULL,
        max_bytes    INTEGER NOT NULL,
        size         INTEGER,
        completed_at TEXT
    );
    CREATE INDEX uploads_by_completion ON uploads (completed_at);
    """,
    """
    ALTER TABLE executions ADD COLUMN log_truncated_at INTEGER;
    ALTER TABLE executions ADD COLUMN stdin_upload_id TEXT;
    """,
    "ALTER TABLE executions ADD COLUMN playbook TEXT;",
    """
    CREATE TABLE images (
        name          TEXT PRIMARY KEY,
        uri           TEXT NOT NULL,
        cpu           INTEGER NOT NULL,
        memory        INTEGER NOT NULL,
        max_cpu       INTEGER NOT NULL,
        max_memory    INTEGER NOT NULL,
        registered_by TEXT NOT NULL,
        registered_at TEXT NOT NULL,
        description   TEXT NOT NULL DEFAULT '',
        task_role_arn TEXT,
        is_default    INTEGER NOT NULL DEFAULT 0,
        secrets       TEXT NOT NULL DEFAULT '[]',
        platform_ref  TEXT
    );
    ALTER TABLE executions ADD COLUMN image TEXT;
    ALTER TABLE executions ADD COLUMN image_uri TEXT;
    ALTER TABLE executions ADD COLUMN cpu INTEGER;
    ALTER TABLE executions ADD COLUMN memory INTEGER;
    """,
    """
    CREATE TABLE secrets (
        name        TEXT PRIMARY KEY,
        description TEXT NOT NULL,
        images      TEXT NOT NULL DEFAULT '[]',
        set_by      TEXT NOT NULL,
        set_at      TEXT NOT NULL,
        version     INTEGER NOT NULL,
        ciphertext  TEXT NOT NULL
    );
    ALTER TABLE executions ADD COLUMN secret_names TEXT NOT NULL DEFAULT '[]';
    """,
    """
    ALTER TABLE executions ADD COLUMN git_url TEXT;
    ALTER TABLE executions ADD COLUMN git_ref TEXT;
    ALTER TABLE executions ADD COLUMN git_subdir TEXT;
    ALTER TABLE executions ADD COLUMN git_commit TEXT;
    ALTER TABLE executions ADD COLUMN git_secret TEXT;
    """,
    # The digest of the request behind an Idempotency-Key (domain/idempotency.py); older
    # records have none and keep answering a repeated key as before.
    "ALTER TABLE executions ADD COLUMN request_fingerprint TEXT;",
    # What a launch holds beyond its task (AWS: the run's KMS grant); always empty here.
    "ALTER TABLE executions ADD COLUMN grant_id TEXT;",
    # Idempotency-Keys' markers (domain/idempotency.py): claimed before a keyed create.
    """
    CREATE TABLE idempotency_markers (
        execution_id TEXT PRIMARY KEY,
        fingerprint  TEXT NOT NULL,
        owner        TEXT NOT NULL,
        claimed_at   TEXT NOT NULL,
        expires_at   TEXT NOT NULL
    );
    CREATE INDEX idempotency_markers_by_expiry ON idempotency_markers (expires_at);
    """,
    # What an execution is for ('run', or 'check': `mycli doctor`'s): listings read one
    # purpose at a time, so each listing index has it before the start time.
    """
    ALTER TABLE executions ADD COLUMN purpose TEXT NOT NULL DEFAULT 'run';
    DROP INDEX executions_by_start;
    DROP INDEX executions_by_user;
    DROP INDEX executions_by_status;
    CREATE INDEX executions_by_start ON executions (purpose, started_at DESC, execution_id DESC);
    CREATE INDEX executions_by_user
        ON executions (user_email, purpose, started_at DESC, execution_id DESC);
    CREATE INDEX executions_by_status
        ON executions (status, purpose, started_at DESC, execution_id DESC);
    """,
    # Lock queues and holds (domain/lock_queue.py): `seq` is the arrival order; a hold is a
    # lock row with a reason.
    """
    CREATE TABLE lock_queue (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        lock_name    TEXT NOT NULL,
        execution_id TEXT NOT NULL,
        user_email   TEXT NOT NULL,
        queued_at    TEXT NOT NULL,
        wait_until   TEXT NOT NULL,
        lock_seconds INTEGER NOT NULL,
        UNIQUE (lock_name, execution_id)
    );
    CREATE INDEX lock_queue_by_lock ON lock_queue (lock_name, seq);
    ALTER TABLE locks ADD COLUMN reason TEXT;
    """,
    # 13: what happened to locks (holds taken, released, expired; force-releases), newest
    # first for every lock or one.
    """
    CREATE TABLE lock_history (
        event_id     TEXT PRIMARY KEY,
        lock_name    TEXT NOT NULL,
        action       TEXT NOT NULL,
        user_email   TEXT NOT NULL,
        at           TEXT NOT NULL,
        holder_id    TEXT NOT NULL,
        holder_email TEXT NOT NULL,
        reason       TEXT
    );
    CREATE INDEX lock_history_by_time ON lock_history (at, lock_name, event_id);
    CREATE INDEX lock_history_by_lock ON lock_history (lock_name, at, event_id);
    """,
    # 14: a queued run: how long it may wait, when it got its lock, its sealed env values.
    """
    ALTER TABLE executions ADD COLUMN lock_wait_until TEXT;
    ALTER TABLE executions ADD COLUMN dequeued_at TEXT;
    ALTER TABLE executions ADD COLUMN sealed_env TEXT;
    """,
    # 15: an image's warm pool (recorded here; kept on AWS only: docs/warm-runners.md).
    """
    ALTER TABLE images ADD COLUMN warm INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE images ADD COLUMN warm_idle_seconds INTEGER NOT NULL DEFAULT 3600;
    """,
    # 16: how a run's task started (warm or cold: AWS only; null here).
    """
    ALTER TABLE executions ADD COLUMN start TEXT;
    """,
)


class Database:
    """Opens the file, applies pending migrations, hands each thread its own connection."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        private_dir(path.parent)
        # SQLite gives its -wal and -shm files the mode of the database file.
        create_private(path)
        self._migrate()

    @property
    def schema_version(self) -> int:
        return int(self.connection().execute("PRAGMA user_version").fetchone()[0])

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            self._local.conn = conn
        return conn

    @contextmanager
    def immediate(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock up front (BEGIN IMMEDIATE)."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # WAL + NORMAL: a committed transaction survives the process being killed.
        conn.execute("PRAGMA synchronous = NORMAL")
        return conn

    def _migrate(self) -> None:
        conn = self.connection()
        conn.execute("PRAGMA journal_mode = WAL")
        with self.immediate():
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > len(MIGRATIONS):
                raise RuntimeError(
                    f"{self.path} has schema version {version}, newer than this mycli "
                    f"({len(MIGRATIONS)}); upgrade mycli"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")
