"""An existing data directory keeps its executions across the schema upgrade that added the
log truncation and stdin upload columns."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from orchestrator.adapters.local.database import MIGRATIONS, Database
from orchestrator.adapters.local.stores import SqliteExecutionStore


def test_a_version_2_database_is_upgraded_and_its_executions_read_back(tmp_path: Path) -> None:
    # Given a database as the previous mycli left it (schema version 2), with one execution
    path = tmp_path / "mycli.db"
    old = sqlite3.connect(path)
    for script in MIGRATIONS[:2]:
        old.executescript(script)
    old.execute(
        "INSERT INTO executions (execution_id, started_at, user_email, command, status,"
        " timeout_seconds) VALUES ('e1', '2026-01-01T00:00:00.000Z', 'a@x.io', 'echo', "
        "'SUCCEEDED', 60)"
    )
    old.execute("PRAGMA user_version = 2")
    old.commit()
    old.close()

    # When this mycli opens it
    database = Database(path)
    execution = SqliteExecutionStore(database).get("e1")

    # Then it is at the latest version and the old execution has no truncation or stdin
    assert database.schema_version == len(MIGRATIONS) >= 4
    assert execution is not None
    assert (execution.log_truncated_at, execution.stdin_upload_id) == (None, None)
    assert (execution.image, execution.image_uri, execution.cpu, execution.memory) == (
        None,
        None,
        None,
        None,
    )
    assert execution.playbook is None
    assert (execution.git_url, execution.git_commit) == (None, None)
