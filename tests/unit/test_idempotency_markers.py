"""An Idempotency-Key's marker (in-memory fakes): claimed before anything else, given up by
a refused request so that its retry goes through, taken over once its request has been
silent past the lease, and a repeat that finds it held waits for the first execution."""

from __future__ import annotations

import pytest

from orchestrator.domain.errors import (
    Conflict,
    IdempotencyKeyReused,
    LockHeld,
    TooManyExecutions,
    ValidationFailed,
)
from orchestrator.domain.executions import (
    ExecutionPolicy,
    ExecutionService,
    idempotent_execution_id,
)
from orchestrator.domain.idempotency import IdempotencyMarker, request_fingerprint
from orchestrator.domain.models import ExecutionRequest, ExecutionStatus, utc_iso
from support import ALICE, BOB, FakeWorld

KEY_ID = idempotent_execution_id(ALICE.email, "k")


def service(world: FakeWorld, **policy: int) -> ExecutionService:
    return ExecutionService(
        world.executions,
        world.locks,
        world.runner,
        world.logs,
        world.clock,
        ExecutionPolicy(idempotency_wait_seconds=0.2, **policy),  # type: ignore[arg-type]
    )


def held_by_a_silent_request(world: FakeWorld, request: ExecutionRequest) -> None:
    """The key's marker as a request left it that claimed it and then died."""
    now = world.clock.now()
    world.executions.markers[KEY_ID] = IdempotencyMarker(
        KEY_ID, request_fingerprint(request, KEY_ID), "silent", utc_iso(now), utc_iso(now)
    )


def test_a_create_refused_for_its_lock_leaves_the_key_free_for_its_retry(
    world: FakeWorld,
) -> None:
    # Given Bob holding the lock
    executions = service(world)
    bobs = executions.start(BOB, ExecutionRequest("x", lock="prod"))

    # When Alice's keyed create is refused for it, and retried once the lock is free
    with pytest.raises(LockHeld):
        executions.start(ALICE, ExecutionRequest("y", lock="prod"), None, "k")
    assert world.executions.markers == {}
    executions.finish(bobs.execution_id, ExecutionStatus.SUCCEEDED)
    again = executions.start(ALICE, ExecutionRequest("y", lock="prod"), None, "k")

    # Then the retry runs
    assert (again.execution_id, again.status) == (KEY_ID, ExecutionStatus.STARTING)


@pytest.mark.parametrize(
    ("request_", "refusal"),
    [
        (ExecutionRequest("x", timeout_seconds=10**9), ValidationFailed),
        (ExecutionRequest("x"), TooManyExecutions),
    ],
    ids=["invalid", "over the quota"],
)
def test_a_refused_create_gives_its_key_up(
    world: FakeWorld, request_: ExecutionRequest, refusal: type[Exception]
) -> None:
    executions = service(world, max_running_per_user=1)
    executions.start(ALICE, ExecutionRequest("first"))

    with pytest.raises(refusal):
        executions.start(ALICE, request_, None, "k")

    assert world.executions.markers == {}
    assert world.executions.get(KEY_ID) is None


def test_a_key_whose_request_went_silent_is_taken_over_after_the_lease(
    world: FakeWorld,
) -> None:
    # Given a marker whose request never recorded its execution
    executions = service(world, idempotency_lease_seconds=60)
    request = ExecutionRequest("x")
    held_by_a_silent_request(world, request)

    # When the same request comes within the lease, Then it is in progress (409)
    with pytest.raises(Conflict, match="in progress"):
        executions.start(ALICE, request, None, "k")

    # When it comes after the lease, Then it runs, once
    world.clock.advance(61)
    again = executions.start(ALICE, request, None, "k")
    assert (again.execution_id, again.status) == (KEY_ID, ExecutionStatus.STARTING)
    assert world.executions.markers[KEY_ID].owner != "silent"
    assert len(world.runner.launched) == 1


def test_another_request_under_a_held_key_is_refused_at_once(world: FakeWorld) -> None:
    executions = service(world)
    held_by_a_silent_request(world, ExecutionRequest("x"))

    with pytest.raises(IdempotencyKeyReused) as refused:
        executions.start(ALICE, ExecutionRequest("y"), None, "k")

    assert refused.value.details == {"execution_id": KEY_ID}
    assert world.runner.launched == []


def test_a_repeat_waits_for_the_first_requests_execution(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a first request that holds the key and records its execution a moment later
    executions = service(world)
    request = ExecutionRequest("x")
    held_by_a_silent_request(world, request)
    first = ExecutionService(world.executions, world.locks, world.runner, world.logs, world.clock)
    looks = []
    store_get = world.executions.get

    def get(execution_id: str) -> object:
        looks.append(execution_id)
        if len(looks) == 3:  # meanwhile, the first request records and launches
            world.executions.markers.clear()
            first.start(ALICE, request, None, "k")
        return store_get(execution_id)

    monkeypatch.setattr(world.executions, "get", get)

    # When the repeat arrives, Then it answers with the first's execution
    again = executions.start(ALICE, request, None, "k")
    assert again.execution_id == KEY_ID
    assert len(world.runner.launched) == 1
