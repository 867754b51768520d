"""Hostile uploads against a real `mycli local up` (limits: 1500 MiB unpacked, 1000
entries): bombs by size and by entry count end FAILED with the reason at once; link chains
(CVE-2025-4517 and friends) write nothing outside the run's directory; the unpack is part of
the run: POST /executions never waits for it, another user's create is not held behind it,
and it is cancelled and timed out like a command."""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from archives import MIB, bomb, chains, entry_bomb, member, realpath_overflow, tarball
from deployment import TERMINAL, LocalDeployment, running_deployment

pytestmark = [pytest.mark.e2e, pytest.mark.both_backends]
# On AWS a run's work tree is in its task's volume, which ends with the task.
WORK_TREE = "reads the embedded runs' work directories (on AWS, the task's own volume)"
EXECUTION_ID_LENGTH = 32  # uuid4().hex


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalDeployment]:
    with running_deployment(
        tmp_path_factory.mktemp("uploads"),
        *("--max-unpacked-mb", "1500", "--max-upload-entries", "1000"),
    ) as local:
        yield local


def upload(platform: LocalDeployment, key: str, data: bytes) -> str:
    _, slot = platform.api("POST", "/uploads", key)
    put = urllib.request.Request(slot["url"], data=data, method="PUT", headers=slot["headers"])
    urllib.request.urlopen(put, timeout=30).close()
    upload_id: str = slot["upload_id"]
    return upload_id


def create(
    platform: LocalDeployment, key: str, body: dict[str, Any]
) -> tuple[float, dict[str, Any]]:
    """How long POST /executions took, and what it answered."""
    started = time.monotonic()
    status, execution = platform.api("POST", "/executions", key, body)
    assert status == 202, execution
    return time.monotonic() - started, execution


def work_dir(platform: LocalDeployment) -> Path:
    return platform.home / "data" / "work"


def test_a_bomb_fails_with_the_reason_at_once_and_frees_its_lock(
    platform: LocalDeployment, tmp_path: Path
) -> None:
    data = bomb(tmp_path / "bomb.tgz", 2048 * MIB).read_bytes()
    assert len(data) < 3 * MIB

    upload_id = upload(platform, platform.admin_key, data)
    seconds, execution = create(
        platform, platform.admin_key, {"command": "touch ran", "upload_id": upload_id, "lock": "b"}
    )
    final = platform.wait_status(execution["execution_id"], ("FAILED",), timeout=10)

    assert seconds < 2
    assert final["reason"] == (
        "upload refused: unpacks to more than 1500 MiB (the unpacked-size limit)"
    )
    assert all(lock["name"] != "b" for lock in platform.locks())
    shown = platform.mycli("status", execution["execution_id"])
    assert "unpacks to more than 1500 MiB" in shown.stdout + shown.stderr


def test_an_entry_bomb_fails_with_the_reason(platform: LocalDeployment, tmp_path: Path) -> None:
    upload_id = upload(
        platform, platform.admin_key, entry_bomb(tmp_path / "many.tgz", 1001).read_bytes()
    )

    _, execution = create(platform, platform.admin_key, {"command": "ls", "upload_id": upload_id})

    final = platform.wait_status(execution["execution_id"], ("FAILED",), timeout=20)
    assert final["reason"] == "upload refused: has more than 1000 entries (the entry limit)"


@pytest.mark.parametrize("case", ["cve-2025-4517", *sorted(chains())])
@pytest.mark.embedded_only(WORK_TREE)
def test_a_link_chain_writes_nothing_outside_the_runs_directory(
    platform: LocalDeployment, case: str
) -> None:
    run_dir = work_dir(platform) / ("x" * EXECUTION_ID_LENGTH)
    members = realpath_overflow(run_dir) if case == "cve-2025-4517" else chains()[case]
    upload_id = upload(platform, platform.admin_key, tarball(member("ok.txt"), *members))

    _, execution = create(
        platform, platform.admin_key, {"command": "touch ran", "upload_id": upload_id}
    )

    final = platform.wait_status(execution["execution_id"], ("FAILED",), timeout=10)
    assert final["reason"].startswith("upload refused: ")
    assert list(platform.home.rglob("escaped*")) == []
    assert list(platform.home.rglob("ran")) == []


@pytest.mark.embedded_only(WORK_TREE)
def test_a_slow_unpack_holds_no_api_worker_and_is_cancelled_like_a_command(
    platform: LocalDeployment, tmp_path: Path
) -> None:
    # Given Alice's two runs unpacking a large (legitimate) upload
    alice = platform.add_user("alice-unpack@example.com")
    bob = platform.add_user("bob-unpack@example.com")
    upload_ids = [
        upload(platform, alice, bomb(tmp_path / f"large{n}.tgz", 1400 * MIB).read_bytes())
        for n in range(2)
    ]
    slow = []
    for upload_id in upload_ids:
        # (a command that outlives any unpack: on a loaded machine the cancel may come late)
        seconds, execution = create(
            platform, alice, {"command": "sleep 30", "upload_id": upload_id}
        )
        assert seconds < 2, "POST /executions never waits for the unpack"
        slow.append(execution["execution_id"])

    # When Bob creates a run meanwhile, Then he is not held behind them
    seconds, mine = create(platform, bob, {"command": "echo hi"})
    assert seconds < 2
    assert platform.wait_status(mine["execution_id"], TERMINAL, timeout=5)["status"] == "SUCCEEDED"
    assert [platform.execution(e)["status"] for e in slow] == ["RUNNING", "RUNNING"]

    # When Alice cancels them mid-unpack, Then they end at once and leave nothing
    for execution_id in slow:
        platform.mycli("cancel", execution_id, key=alice, check=True)
    for execution_id in slow:
        assert platform.wait_status(execution_id, TERMINAL, timeout=5)["status"] == "CANCELLED"
    deadline = time.monotonic() + 5
    while any(work_dir(platform).iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(work_dir(platform).iterdir()) == []


def test_the_unpack_counts_against_the_runs_timeout(
    platform: LocalDeployment, tmp_path: Path
) -> None:
    upload_id = upload(
        platform, platform.admin_key, bomb(tmp_path / "large.tgz", 1400 * MIB).read_bytes()
    )

    started = time.monotonic()
    _, execution = create(
        platform,
        platform.admin_key,
        {"command": "true", "upload_id": upload_id, "timeout_seconds": 1},
    )

    final = platform.wait_status(execution["execution_id"], TERMINAL, timeout=10)
    assert final["status"] == "TIMED_OUT"
    assert time.monotonic() - started < 5
