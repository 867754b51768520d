"""The create rules around failures and quotas (in-memory fakes): a failure after the lock
is taken frees it, an unexpected launch error stops what started and records FAILED, and a
repeated Idempotency-Key is answered with the first execution even when the quota is full."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.domain.errors import TooManyExecutions
from orchestrator.domain.executions import ExecutionPolicy, ExecutionService
from orchestrator.domain.models import ExecutionRequest, ExecutionStatus, LaunchSpec
from support import ALICE, FakeWorld


def limited(world: FakeWorld, per_user: int, total: int = 50) -> ExecutionService:
    return ExecutionService(
        world.executions,
        world.locks,
        world.runner,
        world.logs,
        world.clock,
        ExecutionPolicy(max_running_per_user=per_user, max_running_total=total),
    )


def test_an_unexpected_launch_error_frees_the_lock_and_records_failed(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a runner that blows up with something other than LaunchFailed
    def explode(spec: LaunchSpec) -> Any:
        raise ValueError("embedded null byte")

    monkeypatch.setattr(world.runner, "launch", explode)

    # When a create with a lock reaches the launch, Then the error goes out
    with pytest.raises(ValueError, match="null byte"):
        world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"))

    # And the lock is free and the execution is FAILED, not left running
    assert world.locks.get("prod") is None
    (execution,) = world.executions.items.values()
    assert execution.status is ExecutionStatus.FAILED
    assert execution.reason == "failed to start: internal error"


def test_a_store_failure_after_the_launch_stops_what_started(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a store that fails to record the launch details
    def broken(execution_id: str, **fields: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(world.executions, "annotate", broken)

    with pytest.raises(OSError, match="disk full"):
        world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"))

    # Then the started task is stopped and the lock is free
    assert [reason for _, reason in world.runner.stopped] == ["failed to start: internal error"]
    assert world.locks.get("prod") is None


def test_a_repeated_key_gets_the_first_execution_even_at_the_limit(world: FakeWorld) -> None:
    # Given Alice at her limit of one, through a request with a key
    executions = limited(world, per_user=1)
    first = executions.start(ALICE, ExecutionRequest("x", lock="prod"), None, "key-1")

    # When the same request is repeated, Then it is the first, not a refusal
    assert executions.start(ALICE, ExecutionRequest("x", lock="prod"), None, "key-1") == first
    with pytest.raises(TooManyExecutions):
        executions.start(ALICE, ExecutionRequest("x"), None, "key-2")
    assert world.locks.get("prod").execution_id == first.execution_id  # type: ignore[union-attr]


def test_the_refusal_says_the_limit_and_the_running_count(world: FakeWorld) -> None:
    executions = limited(world, per_user=5, total=1)
    executions.start(ALICE, ExecutionRequest("x"))

    with pytest.raises(TooManyExecutions) as refused:
        executions.start(ALICE, ExecutionRequest("x"))

    assert refused.value.code == "too_many_executions"
    assert refused.value.message == (
        "too many executions: 1 running on the platform, the limit is 1; wait for one to finish"
    )
    assert refused.value.details == {
        "max_running_per_user": 5,
        "max_running_total": 1,
        "running": 1,
        "total_running": 1,
    }
