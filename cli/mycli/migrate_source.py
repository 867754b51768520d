"""The embedded platform's data directory, read for `mycli migrate` without writing to it:
a consistent snapshot of its SQLite database (SQLite's online backup, from a read-only
connection, so it works while the server runs), its log files and its secrets' key."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mycli.errors import CliError
from orchestrator.adapters.local.database import MIGRATIONS, Database
from orchestrator.adapters.local.images import SqliteImageStore
from orchestrator.adapters.local.logfiles import LogFileReader
from orchestrator.adapters.local.secrets import KEY_FILE, FernetSecretStore
from orchestrator.adapters.local.stores import SqliteApiKeyStore, SqliteExecutionStore
from orchestrator.domain.errors import Conflict
from orchestrator.domain.imports import MAX_IMPORT_CHUNKS, MAX_IMPORT_OUTPUT_BYTES
from orchestrator.domain.models import (
    MAX_PAGE_SIZE,
    ApiKeyRecord,
    Execution,
    Image,
    LogChunk,
    Secret,
)
from orchestrator.local.platform import DATABASE_FILE


class _Snapshot(Database):
    """An in-memory copy of the database, taken once; the source file is only read."""

    def __init__(self, source: Path) -> None:  # no super().__init__: it would migrate
        self.path = source
        self._copy = sqlite3.connect(":memory:", check_same_thread=False)
        try:
            reading = sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)
            with contextlib.closing(reading):
                reading.backup(self._copy)
        except sqlite3.Error as error:
            raise CliError(f"cannot read {source}: {error}") from error
        self._copy.row_factory = sqlite3.Row

    def connection(self) -> sqlite3.Connection:
        return self._copy


@dataclass(frozen=True)
class SecretToMove:
    secret: Secret
    value: str

    def __repr__(self) -> str:  # never the value
        return f"SecretToMove({self.secret.name!r})"


class SourcePlatform:
    """What `mycli local up` keeps in `data_dir`, as records."""

    def __init__(self, data_dir: Path) -> None:
        database = data_dir / DATABASE_FILE
        if not database.is_file():
            raise CliError(f"no embedded platform in {data_dir} (no {DATABASE_FILE})")
        self.data_dir = data_dir
        self._db = _Snapshot(database)
        if self._db.schema_version != len(MIGRATIONS):
            raise CliError(
                f"{database} has schema version {self._db.schema_version}, this mycli "
                f"{len(MIGRATIONS)}: run `mycli local up` with this mycli once first"
            )
        self._logs = LogFileReader(data_dir / "logs")

    def keys(self) -> list[ApiKeyRecord]:
        return SqliteApiKeyStore(self._db).list_all()

    def images(self) -> list[Image]:
        return SqliteImageStore(self._db).list_all()

    def secrets(self) -> list[SecretToMove]:
        """Every secret with its value, decrypted with the data directory's key."""
        names = [row["name"] for row in self._db.connection().execute("SELECT name FROM secrets")]
        if not names:
            return []
        if not (self.data_dir / KEY_FILE).is_file():
            raise CliError(f"{self.data_dir / KEY_FILE} is missing: the secrets cannot be read")
        store = FernetSecretStore(self._db, self.data_dir / KEY_FILE)
        try:
            values = store.reveal(names, "migrate")
        except Conflict as error:
            raise CliError(error.message) from error
        metadata = store.describe(names)
        return [SecretToMove(metadata[name], values[name]) for name in sorted(values)]

    def executions(self) -> list[Execution]:
        """Every execution, checks (`mycli doctor`'s) included, oldest first."""
        store = SqliteExecutionStore(self._db)
        found: list[Execution] = []
        cursor: str | None = None
        while True:
            page = store.list_page(
                user_email=None,
                status=None,
                limit=MAX_PAGE_SIZE,
                cursor=cursor,
                include_checks=True,
            )
            found += page.items
            if page.next_cursor is None:
                return found[::-1]
            cursor = page.next_cursor

    def output_size(self, execution: Execution) -> int:
        if not execution.log_stream_name:
            return 0
        try:
            return (self.data_dir / "logs" / Path(execution.log_stream_name).name).stat().st_size
        except FileNotFoundError:
            return 0

    def output(self, execution: Execution, start: int) -> Iterator[list[LogChunk]]:
        """The output from byte `start`, in pieces one import request carries."""
        cursor = str(start)
        while True:
            page = self._logs.read(execution, cursor, MAX_IMPORT_OUTPUT_BYTES)
            for first in range(0, len(page.chunks), MAX_IMPORT_CHUNKS):
                yield page.chunks[first : first + MAX_IMPORT_CHUNKS]
            if page.at_end or not page.chunks:
                return
            cursor = page.next_cursor
