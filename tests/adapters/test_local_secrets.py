"""Secrets on the embedded platform: encrypted at rest under a 0600 key file, delivered to
the command's environment, masked in its stored output (real processes and files)."""

from __future__ import annotations

import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from data_files import stored_bytes
from orchestrator.adapters.clock import SystemClock
from orchestrator.adapters.local.database import Database
from orchestrator.adapters.local.logfiles import LogFileReader
from orchestrator.adapters.local.runner import LocalProcessRunner
from orchestrator.adapters.local.secrets import KEY_FILE, FernetSecretStore
from orchestrator.domain.errors import Conflict
from orchestrator.domain.models import LaunchSpec, Secret, SecretValues
from support import started_execution

VALUE = "s3cr3t-Value-42"


def secret(name: str) -> Secret:
    return Secret(name, "", (), "admin@example.com", "2026-01-01T00:00:00.000Z", 0)


def every_byte_under(directory: Path) -> bytes:
    return stored_bytes(directory)


def test_the_data_directory_never_holds_a_value_in_plain_text(tmp_path: Path) -> None:
    store = FernetSecretStore(Database(tmp_path / "mycli.db"), tmp_path / KEY_FILE)

    store.put(secret("db"), VALUE)
    store.put(secret("db"), VALUE + "-rotated")
    store.delete("db")
    store.put(secret("db"), VALUE)

    stored = every_byte_under(tmp_path)
    assert VALUE.encode() not in stored and b"rotated" not in stored
    assert store.reveal(["db"], "e1") == {"db": VALUE}


def test_the_key_file_is_0600_and_kept_across_restarts(tmp_path: Path) -> None:
    old_umask = os.umask(0)
    try:
        FernetSecretStore(Database(tmp_path / "mycli.db"), tmp_path / KEY_FILE).put(
            secret("db"), VALUE
        )
    finally:
        os.umask(old_umask)
    key = tmp_path / KEY_FILE

    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    reopened = FernetSecretStore(Database(tmp_path / "mycli.db"), key)
    assert reopened.reveal(["db"], "e2") == {"db": VALUE}


def test_a_value_moved_to_another_row_does_not_decrypt_as_that_secret(tmp_path: Path) -> None:
    database = Database(tmp_path / "mycli.db")
    store = FernetSecretStore(database, tmp_path / KEY_FILE)
    store.put(secret("a"), VALUE)
    store.put(secret("b"), "other")
    database.connection().execute(
        "UPDATE secrets SET ciphertext = (SELECT ciphertext FROM secrets WHERE name = 'a')"
        " WHERE name = 'b'"
    )

    with pytest.raises(Conflict, match="another secret's value"):
        store.reveal(["b"], "e1")


def test_a_replaced_key_file_is_said_in_words(tmp_path: Path) -> None:
    FernetSecretStore(Database(tmp_path / "mycli.db"), tmp_path / KEY_FILE).put(secret("db"), VALUE)
    (tmp_path / KEY_FILE).unlink()

    with pytest.raises(Conflict, match="cannot be decrypted with this data directory's key"):
        FernetSecretStore(Database(tmp_path / "mycli.db"), tmp_path / KEY_FILE).reveal(["db"], "e1")


class Exits:
    def __init__(self) -> None:
        self.done = threading.Event()

    def on_running(self, execution_id: str) -> None:
        return None

    def on_log_truncated(self, execution_id: str, offset: int) -> None:
        return None

    def on_exit(self, execution_id: str, exit_code: int, *, timed_out: bool) -> None:
        self.done.set()


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[tuple[LocalProcessRunner, Exits]]:
    exits = Exits()
    runner = LocalProcessRunner(tmp_path / "work", tmp_path / "logs", SystemClock())
    runner.subscribe(exits)
    yield runner, exits
    runner.stop_all()


def test_a_secret_reaches_the_command_and_is_masked_in_its_stored_output(
    runner: tuple[LocalProcessRunner, Exits], tmp_path: Path
) -> None:
    local, exits = runner
    # Printed whole, split over two writes a moment apart, and on stderr.
    command = (
        'echo "db=$DB"; printf "%s" "${DB%Value-42}"; sleep 0.2; echo "Value-42!";'
        ' echo "err $DB" >&2; printf "tail %s" "$DB"'
    )
    spec = LaunchSpec("e1", command, {}, 30, secrets=SecretValues({"DB": VALUE}))

    launched = local.launch(spec)
    assert exits.done.wait(10)

    execution = started_execution("e1", command, launched.task_ref, launched.log_stream_name)
    chunks = LogFileReader(tmp_path / "logs").read(execution, None, 1 << 20).chunks
    by_stream: dict[str, bytes] = {}
    for chunk in chunks:
        by_stream[chunk.stream.value] = by_stream.get(chunk.stream.value, b"") + chunk.data
    assert by_stream == {"stdout": b"db=***\n***!\ntail ***", "stderr": b"err ***\n"}
    assert VALUE.encode() not in every_byte_under(tmp_path)
    assert VALUE not in repr(spec)
