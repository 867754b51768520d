"""UserService and LockService with in-memory fakes."""

from __future__ import annotations

import pytest

from orchestrator.domain.errors import Conflict, Forbidden, NotFound, Unauthorized
from orchestrator.domain.models import ExecutionRequest, Role
from orchestrator.domain.users import hash_api_key
from support import ADMIN, ALICE, FakeWorld


def test_a_new_key_is_stored_only_as_its_hash(world: FakeWorld) -> None:
    issued = world.services.users.create_user(ADMIN, "new@example.com", Role.USER)

    assert issued.api_key.startswith("mycli_")
    assert list(world.keys.records) == [hash_api_key(issued.api_key)]
    assert issued.api_key not in repr(world.keys.records)


@pytest.mark.parametrize("key", [None, "", "mycli_unknown"])
def test_missing_or_unknown_keys_are_unauthorized(world: FakeWorld, key: str | None) -> None:
    with pytest.raises(Unauthorized):
        world.services.users.authenticate(key)


def test_a_revoked_key_is_refused_at_once(world: FakeWorld) -> None:
    issued = world.services.users.create_user(ADMIN, "gone@example.com", Role.USER)
    assert world.services.users.authenticate(issued.api_key).email == "gone@example.com"

    world.services.users.revoke_user(ADMIN, "gone@example.com")

    with pytest.raises(Unauthorized):
        world.services.users.authenticate(issued.api_key)


def test_last_used_is_recorded_at_most_once_a_minute(world: FakeWorld) -> None:
    issued = world.services.users.issue_key("u@example.com", Role.USER)
    record_hash = hash_api_key(issued.api_key)

    world.services.users.authenticate(issued.api_key)
    first = world.keys.records[record_hash].last_used
    world.clock.advance(30)
    world.services.users.authenticate(issued.api_key)
    assert world.keys.records[record_hash].last_used == first
    world.clock.advance(31)
    world.services.users.authenticate(issued.api_key)
    assert world.keys.records[record_hash].last_used != first


def test_only_admins_manage_users(world: FakeWorld) -> None:
    with pytest.raises(Forbidden):
        world.services.users.create_user(ALICE, "x@example.com", Role.USER)
    with pytest.raises(Forbidden):
        world.services.users.list_users(ALICE)
    with pytest.raises(Forbidden):
        world.services.users.revoke_user(ALICE, ADMIN.email)


def test_an_active_user_cannot_be_added_twice_but_a_revoked_one_can(world: FakeWorld) -> None:
    world.services.users.create_user(ADMIN, "x@example.com", Role.USER)
    with pytest.raises(Conflict):
        world.services.users.create_user(ADMIN, "x@example.com", Role.USER)

    world.services.users.revoke_user(ADMIN, "x@example.com")
    world.services.users.create_user(ADMIN, "x@example.com", Role.ADMIN)

    [summary] = world.services.users.list_users(ADMIN)
    assert (summary.role, summary.revoked, summary.active_keys) == (Role.ADMIN, False, 1)


def test_revoking_an_unknown_user_or_yourself_is_refused(world: FakeWorld) -> None:
    with pytest.raises(NotFound):
        world.services.users.revoke_user(ADMIN, "nobody@example.com")
    with pytest.raises(Conflict):
        world.services.users.revoke_user(ADMIN, ADMIN.email)


def test_an_admin_force_release_is_recorded_on_the_holder(world: FakeWorld) -> None:
    execution = world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"))

    released = world.services.locks.force_release(ADMIN, "prod")

    assert released.execution_id == execution.execution_id
    assert world.services.locks.list_active() == []
    holder = world.executions.get(execution.execution_id)
    assert holder is not None
    assert holder.lock_released_by == ADMIN.email


def test_users_cannot_force_release_and_unknown_locks_are_not_found(world: FakeWorld) -> None:
    world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"))
    with pytest.raises(Forbidden):
        world.services.locks.force_release(ALICE, "prod")
    with pytest.raises(NotFound):
        world.services.locks.force_release(ADMIN, "nope")
