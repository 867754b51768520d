"""Idempotent create: a repeated Idempotency-Key from the same user returns the first
execution, started once (in-memory fakes)."""

from __future__ import annotations

import pytest

from orchestrator.domain.errors import Conflict, LockHeld
from orchestrator.domain.executions import idempotent_execution_id
from orchestrator.domain.models import Execution, ExecutionRequest, ExecutionStatus
from support import ALICE, BOB, FakeWorld


def test_the_same_key_twice_starts_one_execution(world: FakeWorld) -> None:
    first = world.services.executions.start(ALICE, ExecutionRequest("echo hi"), None, "key-1")

    again = world.services.executions.start(ALICE, ExecutionRequest("echo hi"), None, "key-1")

    assert again == world.executions.get(first.execution_id)
    assert first.execution_id == idempotent_execution_id(ALICE.email, "key-1")
    assert len(world.runner.launched) == 1


def test_a_repeat_returns_the_first_execution_as_it_stands_now(world: FakeWorld) -> None:
    first = world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"), None, "k")
    world.services.executions.on_exit(first.execution_id, 3, timed_out=False)

    again = world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"), None, "k")

    assert again.execution_id == first.execution_id
    assert again.status is ExecutionStatus.FAILED
    assert again.exit_code == 3
    assert world.locks.get("prod") is None, "a repeat does not take the lock again"
    assert len(world.runner.launched) == 1


def test_a_concurrent_repeat_that_loses_the_race_returns_the_first(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"), None, "k")
    store_get = world.executions.get
    looks = []

    def get(execution_id: str) -> Execution | None:
        looks.append(execution_id)  # the repeat's first look finds nothing: mid-create
        return store_get(execution_id) if len(looks) > 1 else None

    monkeypatch.setattr(world.executions, "get", get)

    again = world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"), None, "k")

    assert again.execution_id == first.execution_id
    assert world.locks.get("prod").execution_id == first.execution_id  # type: ignore[union-attr]
    assert len(world.runner.launched) == 1
    assert len(looks) == 2


def test_a_repeat_before_the_first_is_recorded_is_a_conflict_to_retry(world: FakeWorld) -> None:
    world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"), None, "k")
    world.executions.items.clear()  # the first holds the lock but is not recorded yet

    with pytest.raises(Conflict, match="in progress"):
        world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"), None, "k")

    assert world.locks.get("prod") is not None, "the first keeps its lock"


def test_the_same_key_from_another_user_is_another_execution(world: FakeWorld) -> None:
    alices = world.services.executions.start(ALICE, ExecutionRequest("x"), None, "shared")

    bobs = world.services.executions.start(BOB, ExecutionRequest("x"), None, "shared")

    assert bobs.execution_id != alices.execution_id
    assert bobs.user_email == BOB.email
    assert len(world.runner.launched) == 2


def test_a_lock_held_by_another_execution_is_still_refused_with_a_key(world: FakeWorld) -> None:
    world.services.executions.start(BOB, ExecutionRequest("x", lock="prod"))

    with pytest.raises(LockHeld):
        world.services.executions.start(ALICE, ExecutionRequest("y", lock="prod"), None, "k")

    assert world.executions.get(idempotent_execution_id(ALICE.email, "k")) is None


def test_without_a_key_every_create_is_a_new_execution(world: FakeWorld) -> None:
    first = world.services.executions.start(ALICE, ExecutionRequest("x"))
    second = world.services.executions.start(ALICE, ExecutionRequest("x"))

    assert first.execution_id != second.execution_id
