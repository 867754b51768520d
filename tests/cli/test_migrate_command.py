"""`mycli migrate --to PROFILE` from a real embedded platform (SQLite, log files, Fernet key)
to a second real one through its HTTP API (the import routes behave the same on AWS: the
e2e test migrates onto the Fargate twin)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result

from cli_harness import CliHarness
from orchestrator.adapters.local.images import SqliteImageStore
from orchestrator.adapters.local.logfiles import LogFileReader
from orchestrator.domain.models import Execution, LogChunk, Role
from orchestrator.local.platform import LocalPlatform, LocalSettings
from orchestrator.local.server import LocalApiServer

SECRET = "Migrated-Secret-Value-91"


class Target:
    def __init__(self, data_dir: Path) -> None:
        self.platform = LocalPlatform(LocalSettings(data_dir=data_dir, kill_grace_seconds=1.0))
        self.server = LocalApiServer(self.platform.services, "127.0.0.1", 0)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        users = self.platform.services.users
        self.admin_key = users.issue_key("boss@target", Role.ADMIN).api_key

    def execution(self, execution_id: str) -> Execution | None:
        return self.platform.executions_store.get(execution_id)

    def chunks(self, execution: Execution) -> list[LogChunk]:
        return LogFileReader(self.platform.settings.log_dir).read(execution, None, 10**8).chunks


@pytest.fixture
def target(tmp_path: Path, harness: CliHarness) -> Iterator[Target]:
    made = Target(tmp_path / "target")
    config = harness.config_home / "mycli" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'[profiles.aws]\napi_url = "{made.server.url}"\napi_key = "{made.admin_key}"\n'
    )
    yield made
    made.server.shutdown()
    made.platform.shutdown()


@pytest.fixture
def source(harness: CliHarness) -> list[str]:
    """Runs, a secret and an image on the source; the ids of the runs."""
    ids = []
    for command in ("printf 'out\\n'; printf 'err\\n' >&2; exit 3", "head -c 700000 /dev/zero"):
        run = harness.run("exec", "--detach", "--", command)
        assert run.exit_code == 0, run.output
        ids.append(run.stdout.strip())
    admin = harness.admin_key
    assert harness.run("admin", "secrets", "set", "db", key=admin, input=SECRET).exit_code == 0
    made = harness.run("admin", "images", "register", "tools", "--image", "alpine:3.20", key=admin)
    assert made.exit_code == 0, made.output
    for execution_id in ids:
        harness.run("logs", execution_id, "--follow")
    return ids


def merged(chunks: list[LogChunk]) -> list[tuple[int, str, str, bytes]]:
    """Chunks with a page's cuts undone: neighbours of one stream and time joined."""
    joined: list[tuple[int, str, str, bytes]] = []
    for chunk in chunks:
        if joined and joined[-1][1:3] == (chunk.stream.value, chunk.timestamp):
            offset, stream, stamp, data = joined[-1]
            joined[-1] = (offset, stream, stamp, data + chunk.data)
        else:
            joined.append((chunk.offset, chunk.stream.value, chunk.timestamp, chunk.data))
    return joined


def migrate(harness: CliHarness, *extra: str) -> Result:
    data_dir = str(harness.platform.settings.data_dir)
    return harness.run("migrate", "--to", "aws", "--data-dir", data_dir, *extra)


def test_a_migration_moves_keys_secrets_images_and_runs_with_their_exact_output(
    harness: CliHarness, target: Target, source: list[str]
) -> None:
    result = migrate(harness)

    assert result.exit_code == 0, result.output
    assert "users 2/2, images 1/1, secrets 1/1, executions 2/2" in result.stderr
    assert SECRET not in result.output
    # The source's user key works on the target, as the same user.
    whoami = harness.run("whoami", "-o", "json", env={"MYCLI_API_URL": target.server.url})
    assert json.loads(whoami.stdout)["email"] == "user@example.com"
    assert target.platform.secrets_store.reveal(["db"], "test") == {"db": SECRET}
    assert [i.name for i in SqliteImageStore(target.platform.database).list_all()] == ["tools"]
    for execution_id in source:
        moved, original = (
            target.execution(execution_id),
            harness.platform.executions_store.get(execution_id),
        )
        assert moved is not None and original is not None
        assert moved.to_dict() == original.to_dict()
        reader = LogFileReader(harness.platform.settings.log_dir)
        assert merged(target.chunks(moved)) == merged(reader.read(original, None, 10**8).chunks)
    assert target.platform.executions_store.count_active("user@example.com").total == 0


def test_a_second_run_changes_nothing_and_a_conflicting_record_is_refused_not_replaced(
    harness: CliHarness, target: Target, source: list[str]
) -> None:
    assert migrate(harness).exit_code == 0
    before = sorted(p.read_bytes() for p in target.platform.settings.log_dir.iterdir())

    again = migrate(harness)

    assert again.exit_code == 0, again.output
    assert "users 0 moved, 2 already there" in again.stderr
    assert "executions 0 moved, 2 already there" in again.stderr
    assert sorted(p.read_bytes() for p in target.platform.settings.log_dir.iterdir()) == before

    # Given the target's record of a run changed, a migration refuses it (exit 5), unchanged.
    target.platform.executions_store.annotate(source[0], reason="edited on the target")
    refused = migrate(harness)
    assert refused.exit_code == 5
    assert f"refused: execution {source[0]}" in refused.stderr
    stored = target.execution(source[0])
    assert stored is not None and stored.reason == "edited on the target"


def test_an_interrupted_migration_continues_where_the_output_stopped(
    harness: CliHarness, target: Target, source: list[str]
) -> None:
    # Given half of the long run's output already imported (the first request of two).
    long_run = harness.platform.executions_store.get(source[1])
    assert long_run is not None
    first = LogFileReader(harness.platform.settings.log_dir).read(long_run, None, 512 * 1024)
    admin = target.platform.services.users.authenticate(target.admin_key)
    assert target.platform.services.imports is not None
    target.platform.services.imports.import_output(admin, source[1], first.chunks)

    result = migrate(harness)

    assert result.exit_code == 0, result.output
    moved = target.execution(source[1])
    assert moved is not None
    assert b"".join(c.data for c in target.chunks(moved)) == b"\0" * 700000


def test_only_an_admin_profile_can_be_a_target_and_an_unknown_one_is_a_usage_error(
    harness: CliHarness, target: Target
) -> None:
    assert migrate(harness, "--to", "nowhere").exit_code == 2
    user_key = target.platform.services.users.issue_key("x@y", Role.USER).api_key
    config = harness.config_home / "mycli" / "config.toml"
    config.write_text(f'[profiles.aws]\napi_url = "{target.server.url}"\napi_key = "{user_key}"\n')

    refused = migrate(harness)

    assert refused.exit_code == 3
    assert "needs an admin key" in refused.stderr
    assert target.platform.keys_store.get("0" * 64) is None


def test_a_doctors_check_moves_and_stays_a_check(harness: CliHarness, target: Target) -> None:
    # Given a run and a doctor's check on the source
    harness.run("exec", "--", "echo mine")
    assert harness.run("doctor", "--timeout", "30").exit_code == 0
    [check] = json.loads(harness.run("list", "--checks", "-o", "json").stdout)["items"][:1]

    # When the platform moves
    result = migrate(harness)

    # Then the check moved too, still a check: out of the target's default listing
    assert result.exit_code == 0, result.output
    assert "executions 2/2" in result.stderr
    moved = target.execution(check["execution_id"])
    assert moved is not None and moved.purpose == "check"
    listed = target.platform.executions_store.list_page(
        user_email=None, status=None, limit=10, cursor=None
    )
    assert [e.command for e in listed.items] == ["echo mine"]
