"""An existing data directory keeps its executions across the schema upgrades (the log
truncation and stdin upload columns, the request fingerprint of idempotent creates, the
Idempotency-Key markers, the purpose of checks)."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from orchestrator.adapters.local.database import MIGRATIONS, Database
from orchestrator.adapters.local.stores import SqliteExecutionStore
from orchestrator.domain.errors import TooManyExecutions
from orchestrator.domain.executions import idempotent_execution_id
from orchestrator.domain.idempotency import IdempotencyMarker
from orchestrator.domain.models import Caller, ExecutionRequest, ExecutionStatus, Role
from orchestrator.domain.quota import RunningLimits
from orchestrator.local.platform import LocalPlatform, LocalSettings


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
    assert execution.start is None  # how its task started: not known before issue 22
    assert (execution.git_url, execution.git_commit) == (None, None)
    # and it is a run, in the default listing
    assert execution.purpose == "run"
    page = SqliteExecutionStore(database).list_page(
        user_email=None, status=None, limit=5, cursor=None
    )
    assert [e.execution_id for e in page.items] == ["e1"]
    # which reads an index led by the purpose, in order (no sort, no scan)
    plan = database.connection().execute(
        "EXPLAIN QUERY PLAN SELECT * FROM executions WHERE purpose = 'run'"
        " ORDER BY started_at DESC, execution_id DESC LIMIT 5"
    )
    steps = " ".join(str(row[-1]) for row in plan)
    assert "INDEX executions_by_start (purpose=?)" in steps and "TEMP B-TREE" not in steps


def test_an_idempotent_run_from_before_fingerprints_still_answers_its_key(
    tmp_path: Path,
) -> None:
    # Given a data directory from the release before request fingerprints, holding a run
    # that was created with an Idempotency-Key
    path = tmp_path / "data" / "mycli.db"
    path.parent.mkdir()
    before = MIGRATIONS.index("ALTER TABLE executions ADD COLUMN request_fingerprint TEXT;")
    old = sqlite3.connect(path)
    for script in MIGRATIONS[:before]:
        old.executescript(script)
    execution_id = idempotent_execution_id("admin@localhost", "key-1")
    old.execute(
        "INSERT INTO executions (execution_id, started_at, user_email, command, status,"
        " timeout_seconds) VALUES (?, '2026-01-01T00:00:00.000Z', 'admin@localhost',"
        " 'echo old', 'SUCCEEDED', 60)",
        (execution_id,),
    )
    old.execute(f"PRAGMA user_version = {before}")
    old.commit()
    old.close()

    # When this mycli opens it and the key is repeated with another request
    platform = LocalPlatform(LocalSettings(data_dir=path.parent))
    try:
        admin = Caller("admin@localhost", Role.ADMIN)
        again = platform.services.executions.start(
            admin, ExecutionRequest("echo new"), None, "key-1"
        )
    finally:
        platform.shutdown()

    # Then the old run comes back as it always did (it has no fingerprint to compare)
    assert (again.execution_id, again.command) == (execution_id, "echo old")
    assert again.request_fingerprint is None


def test_a_database_from_before_markers_gets_them_and_keeps_counting_its_runs(
    tmp_path: Path,
) -> None:
    # Given a database from the release before Idempotency-Key markers, with a run going on
    path = tmp_path / "data" / "mycli.db"
    path.parent.mkdir()
    before = next(n for n, script in enumerate(MIGRATIONS) if "idempotency_markers" in script)
    old = sqlite3.connect(path)
    for script in MIGRATIONS[:before]:
        old.executescript(script)
    old.execute(
        "INSERT INTO executions (execution_id, started_at, user_email, command, status,"
        " timeout_seconds) VALUES ('e-old', '2026-01-01T00:00:00.000Z', 'admin@localhost',"
        " 'sleep 1', 'RUNNING', 60)"
    )
    old.execute(f"PRAGMA user_version = {before}")
    old.commit()
    old.close()

    # When this mycli opens it
    database = Database(path)
    store = SqliteExecutionStore(database)

    # Then the markers' table is there, and the old run still takes its place in the quota
    assert database.schema_version == len(MIGRATIONS)
    marker = IdempotencyMarker("k", "v1:aa", "me", "2026-01-01T00:00:00.000Z", "2026-01-02")
    assert store.claim_marker(marker, stale_before="2025-12-31T23:59:00.000Z") is None
    with pytest.raises(TooManyExecutions):
        store.create(
            replace(store.get("e-old"), execution_id="e-new", status=ExecutionStatus.PENDING),  # type: ignore[arg-type]
            limits=RunningLimits(per_user=1, total=10),
        )
