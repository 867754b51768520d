"""UploadService and the upload checks of ExecutionService, with fakes."""

from __future__ import annotations

import pytest

from orchestrator.domain.errors import NotFound, TooLarge, ValidationFailed
from orchestrator.domain.models import ExecutionRequest, utc_iso
from support import ALICE, BOB, FakeWorld


def uploaded(world: FakeWorld, size: int = 100) -> str:
    slot = world.services.uploads.open_slot(ALICE)
    world.uploads.complete(slot.upload_id, size, utc_iso(world.clock.now()))
    return slot.upload_id


def test_a_slot_carries_the_limit_and_an_expiry(world: FakeWorld) -> None:
    slot = world.services.uploads.open_slot(ALICE)
    assert slot.max_bytes == 50 * 1024 * 1024
    assert slot.method == "PUT"


def test_an_execution_gets_the_location_of_its_upload(world: FakeWorld) -> None:
    upload_id = uploaded(world)

    execution = world.services.executions.start(
        ALICE, ExecutionRequest("./run.sh", upload_id=upload_id)
    )

    assert execution.upload_id == upload_id
    assert world.runner.launched[0].upload_location == f"memory://{upload_id}"


def test_a_stdin_upload_becomes_the_commands_stdin(world: FakeWorld) -> None:
    upload_id = uploaded(world)

    execution = world.services.executions.start(
        ALICE, ExecutionRequest("cat", stdin_upload_id=upload_id)
    )

    assert execution.stdin_upload_id == upload_id
    assert world.runner.launched[0].stdin_location == f"memory://{upload_id}"
    assert world.runner.launched[0].upload_location is None


def test_a_stdin_upload_that_is_not_the_callers_is_not_found(world: FakeWorld) -> None:
    with pytest.raises(NotFound):
        world.services.executions.start(ALICE, ExecutionRequest("cat", stdin_upload_id="nope"))
    assert world.runner.launched == []


@pytest.mark.parametrize("whose", ["another users", "never completed", "unknown"])
def test_an_upload_that_is_not_the_callers_is_not_found_and_nothing_runs(
    world: FakeWorld, whose: str
) -> None:
    upload_id = "nope"
    if whose == "another users":
        upload_id = uploaded(world)
    elif whose == "never completed":
        upload_id = world.services.uploads.open_slot(BOB).upload_id
    caller = BOB if whose == "another users" else ALICE

    with pytest.raises(NotFound):
        world.services.executions.start(
            caller, ExecutionRequest("x", lock="prod", upload_id=upload_id)
        )

    assert world.runner.launched == []
    assert world.locks.get("prod") is None
    assert world.executions.items == {}


def test_an_upload_past_its_retention_has_expired(world: FakeWorld) -> None:
    upload_id = uploaded(world)
    world.clock.advance(7 * 24 * 3600)
    with pytest.raises(ValidationFailed, match="expired"):
        world.services.executions.start(ALICE, ExecutionRequest("x", upload_id=upload_id))


def test_an_upload_over_the_limit_is_too_large(world: FakeWorld) -> None:
    upload_id = uploaded(world, size=50 * 1024 * 1024 + 1)
    with pytest.raises(TooLarge):
        world.services.executions.start(ALICE, ExecutionRequest("x", upload_id=upload_id))
