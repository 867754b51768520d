"""`mycli local backup DEST` while runs write output: the copy, served by `mycli local up
--data-dir DEST`, holds every execution finished at backup time with the same record and the
same log bytes, marks those still running then FAILED ("server restarted") with a prefix of
their output, keeps users' keys and secrets working, and holds its keys 0700/0600."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from deployment import MYCLI, LocalDeployment

pytestmark = [pytest.mark.e2e, pytest.mark.embedded_only("backs up the embedded data directory")]
BURST = "for i in $(seq 1 300); do echo burst line $i; echo to stderr $i >&2; done"
# Writes until the test creates the file named by $1, after the backup (runs see this machine).
TRICKLE = 'i=0; while [ ! -e "$1" ]; do echo tick $i; i=$((i+1)); sleep 0.02; done'


def records(deployment: LocalDeployment) -> dict[str, dict[str, Any]]:
    result = deployment.mycli("list", "--all", "-o", "json", check=True)
    return {item["execution_id"]: item for item in json.loads(result.stdout)["items"]}


def log_bytes(deployment: LocalDeployment, execution_id: str) -> bytes:
    return subprocess.run(
        [MYCLI, "logs", execution_id],
        env=deployment.env,
        capture_output=True,
        check=True,
        timeout=30,
    ).stdout


def wait_running(deployment: LocalDeployment, marker: str) -> None:
    deadline = time.monotonic() + 20
    while not any(
        marker in r["command"] and r["status"] == "RUNNING" for r in records(deployment).values()
    ):
        assert time.monotonic() < deadline, "the trickling run never started"
        time.sleep(0.05)


def keep_writing(deployment: LocalDeployment, stop: threading.Event) -> None:
    """Runs one after the other until the backup is done (a few: each is compared after)."""
    for _ in range(4):
        if stop.is_set():
            return
        deployment.mycli("exec", "--", "sh", "-c", BURST, check=True)


def test_a_backup_taken_during_writes_restores_the_same_records_and_logs(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    # Given a platform with a secret, a user, finished runs, and runs writing output
    secret = subprocess.run(
        [MYCLI, "admin", "secrets", "set", "token"],
        env=deployment.env,
        input="s3cr3t",
        capture_output=True,
        text=True,
        check=False,
    )
    assert secret.returncode == 0, secret.stderr
    user_key = deployment.add_user("dev@example.com")
    deployment.mycli("exec", "--", "sh", "-c", BURST, key=user_key, check=True)
    release = tmp_path / "release"
    trickle = deployment.spawn("exec", "--", "sh", "-c", TRICKLE, "trickle", str(release))
    wait_running(deployment, str(release))
    stop = threading.Event()
    writer = threading.Thread(target=keep_writing, args=(deployment, stop))
    writer.start()
    try:
        deployment.mycli("exec", "--", "sh", "-c", BURST, check=True)
        finished_before = {i for i, r in records(deployment).items() if r["status"] == "SUCCEEDED"}

        # When the backup is taken while they run
        restored = LocalDeployment(tmp_path / "restored")
        backup = deployment.mycli("local", "backup", str(restored.home / "data"))
    finally:
        stop.set()
        release.touch()
        writer.join()
    assert trickle.wait(timeout=30) == 0
    assert backup.returncode == 0, backup.stderr
    assert "mycli local up --data-dir" in backup.stderr

    # Then the copy holds its keys where only its owner reads them
    for path in [restored.home / "data", *(restored.home / "data").rglob("*")]:
        wanted = 0o700 if path.is_dir() else 0o600
        assert stat.S_IMODE(path.stat().st_mode) == wanted, path

    # And served (with the original's config: its admin key), it answers the same
    shutil.copytree(deployment.home / "config", restored.home / "config")
    restored.up()
    try:
        original, copy = records(deployment), records(restored)
        assert finished_before <= copy.keys()
        unfinished = 0
        for execution_id, record in copy.items():
            if record.get("reason") == "server restarted":
                unfinished += 1
                assert record["status"] == "FAILED"
                assert log_bytes(deployment, execution_id).startswith(
                    log_bytes(restored, execution_id)
                )
                continue
            assert record == original[execution_id]
            assert log_bytes(restored, execution_id) == log_bytes(deployment, execution_id)
        assert unfinished >= 1, "the trickling run was running at backup time"
        # And users' keys and the secrets still work there
        assert restored.mycli("whoami", key=user_key, check=True).stdout
        check = restored.mycli(
            "exec", "--secret", "token", "--", "sh", "-c", 'test "$token" = s3cr3t', check=False
        )
        assert check.returncode == 0, check.stderr
    finally:
        restored.down()


def test_a_backup_refuses_a_non_empty_destination_and_leaves_it_alone(
    deployment: LocalDeployment, tmp_path: Path
) -> None:
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")

    result = deployment.mycli("local", "backup", str(taken))

    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"mycli: error: {taken} is not empty: back up into a new or empty directory"
    )
    assert [p.name for p in taken.iterdir()] == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".taken.partial-")]
