"""Runs that wait for their lock, through the resolver on the embedded platform: a create
with `wait_lock_seconds` answers 202 QUEUED with its place, GET shows it, a full queue is
429 `queue_full` (nothing recorded), bad waits are 400, and a cancel takes it out."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api_harness import ApiHarness
from orchestrator.domain.executions import ExecutionPolicy
from orchestrator.domain.lock_queue import MAX_QUEUE_LENGTH
from orchestrator.domain.models import Role
from orchestrator.local.platform import LocalPlatform, LocalSettings


@pytest.fixture
def roomy(tmp_path: Path) -> Iterator[ApiHarness]:
    """The embedded platform with quotas above the queue's maximum length."""
    policy = ExecutionPolicy(max_running_per_user=500, max_running_total=500)
    local = LocalPlatform(
        LocalSettings(data_dir=tmp_path / "data", kill_grace_seconds=1.0, policy=policy)
    )
    users = local.services.users
    yield ApiHarness(
        services=local.services,
        admin_key=users.issue_key("admin@example.com", Role.ADMIN).api_key,
        alice_key=users.issue_key("alice@example.com", Role.USER).api_key,
        bob_key=users.issue_key("bob@example.com", Role.USER).api_key,
    )
    local.shutdown()


def create(api: ApiHarness, key: str, **body: Any) -> tuple[int, Any]:
    return api.call("POST", "/executions", key, body={"command": "sleep 30", **body})


def test_a_run_that_may_wait_is_queued_with_its_place(roomy: ApiHarness) -> None:
    status, holder = create(roomy, roomy.alice_key, lock="prod")
    assert status == 202 and holder["status"] in {"STARTING", "RUNNING"}

    status, queued = create(roomy, roomy.bob_key, lock="prod", wait_lock_seconds=600)

    assert status == 202 and queued["status"] == "QUEUED"
    assert queued["lock_wait_until"] and queued["dequeued_at"] is None
    assert queued["queue"]["position"] == 1
    assert queued["queue"]["holder"]["execution_id"] == holder["execution_id"]
    assert queued["queue"]["holder"]["kind"] == "run"
    status, again = roomy.call("GET", f"/executions/{queued['execution_id']}", roomy.bob_key)
    # (the holder's status may have moved on, STARTING -> RUNNING, meanwhile)
    assert status == 200 and again["queue"]["position"] == 1
    assert again["queue"]["holder"]["execution_id"] == holder["execution_id"]
    assert "sealed_env" not in again
    # A cancel takes it out of the queue
    status, cancelled = roomy.call(
        "POST", f"/executions/{queued['execution_id']}/cancel", roomy.bob_key
    )
    assert (status, cancelled["status"]) == (202, "CANCELLED")
    assert roomy.call("GET", "/locks", roomy.bob_key)[1]["locks"][0]["queue"] == []
    roomy.call("POST", f"/executions/{holder['execution_id']}/cancel", roomy.alice_key)


def test_a_full_queue_refuses_with_429_and_records_nothing(roomy: ApiHarness) -> None:
    status, holder = create(roomy, roomy.alice_key, lock="prod")
    for _ in range(MAX_QUEUE_LENGTH):
        assert create(roomy, roomy.bob_key, lock="prod", wait_lock_seconds=600)[0] == 202
    listed = roomy.call("GET", "/executions", roomy.bob_key, query={"limit": "5"})[1]["items"]

    status, refused = create(roomy, roomy.bob_key, lock="prod", wait_lock_seconds=600)

    assert status == 429 and refused["error"]["code"] == "queue_full"
    assert (
        roomy.call("GET", "/executions", roomy.bob_key, query={"limit": "5"})[1]["items"] == listed
    )
    roomy.call("POST", f"/executions/{holder['execution_id']}/cancel", roomy.alice_key)


@pytest.mark.parametrize(
    "body",
    [
        {"wait_lock_seconds": 60},  # no lock
        {"lock": "prod", "wait_lock_seconds": 0},
        {"lock": "prod", "wait_lock_seconds": 86401},
        {"lock": "prod", "wait_lock_seconds": "60"},
        {"lock": "prod", "wait_lock_seconds": 1.5},
    ],
)
def test_a_bad_wait_is_400_and_nothing_runs(roomy: ApiHarness, body: dict[str, Any]) -> None:
    status, refused = create(roomy, roomy.alice_key, **body)

    assert status == 400, refused
    assert refused["error"]["code"] == "validation_error"
    assert roomy.call("GET", "/executions", roomy.alice_key)[1]["items"] == []
