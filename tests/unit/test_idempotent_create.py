"""Idempotent create: a repeated Idempotency-Key from the same user returns the first
execution, started once (in-memory fakes)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from orchestrator.domain.errors import Conflict, IdempotencyKeyReused, LockHeld
from orchestrator.domain.executions import idempotent_execution_id
from orchestrator.domain.idempotency import request_fingerprint
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


# -- the same key for another request ----------------------------------------------------------


@pytest.mark.parametrize(
    "changed",
    [
        {"command": "echo bye"},
        {"lock": "other"},
        {"env": {"A": "2"}},
        {"env": {"A": "1", "B": ""}},
        {"timeout_seconds": 61},
        {"secrets": {"A": "db"}},
        {"playbook": "deploy"},
        {"git_url": "https://example.com/r.git"},
    ],
    ids=lambda changed: next(iter(changed)),
)
def test_a_key_reused_for_another_request_is_refused_and_starts_nothing(
    world: FakeWorld, changed: dict[str, object]
) -> None:
    request = ExecutionRequest("echo hi", lock="prod", env={"A": "1"}, timeout_seconds=60)
    first = world.services.executions.start(ALICE, request, None, "k")

    with pytest.raises(IdempotencyKeyReused) as refused:
        world.services.executions.start(ALICE, replace(request, **changed), None, "k")  # type: ignore[arg-type]

    assert refused.value.code == "idempotency_key_reused"
    assert first.execution_id in refused.value.message
    assert len(world.runner.launched) == 1
    assert world.locks.get("prod").execution_id == first.execution_id  # type: ignore[union-attr]


def test_the_same_request_in_another_order_is_the_same_request(world: FakeWorld) -> None:
    first = world.services.executions.start(
        ALICE, ExecutionRequest("x", env={"A": "1", "B": "2"}), None, "k"
    )

    again = world.services.executions.start(
        ALICE, ExecutionRequest("x", env={"B": "2", "A": "1"}), None, "k"
    )

    assert again.execution_id == first.execution_id


def test_a_concurrent_repeat_with_another_request_is_refused(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"), None, "k")
    store_get = world.executions.get
    looks = []

    def get(execution_id: str) -> Execution | None:
        looks.append(execution_id)  # the repeat's first look finds nothing: mid-create
        return store_get(execution_id) if len(looks) > 1 else None

    monkeypatch.setattr(world.executions, "get", get)

    with pytest.raises(IdempotencyKeyReused):
        world.services.executions.start(ALICE, ExecutionRequest("y", lock="prod"), None, "k")
    assert len(world.runner.launched) == 1


def test_the_fingerprint_depends_on_the_execution_and_hides_values() -> None:
    request = ExecutionRequest("x", env={"PASSWORD": "hunter2"})

    one = request_fingerprint(request, "e1")

    assert one == request_fingerprint(ExecutionRequest("x", env={"PASSWORD": "hunter2"}), "e1")
    assert one != request_fingerprint(request, "e2")
    assert "hunter2" not in one and len(one) == len("v1:") + 64
