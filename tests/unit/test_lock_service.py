"""LockService over in-memory fakes: the one picture (holder + queue), holds and who may
release them, an admin's release of a run's lock, history, and the release callback."""

from __future__ import annotations

import pytest

from orchestrator.domain.errors import Forbidden, LockHeld, NotFound, ValidationFailed
from orchestrator.domain.lock_history import LockAction
from orchestrator.domain.lock_queue import LockQueueService
from orchestrator.domain.models import ExecutionRequest
from support import ADMIN, ALICE, BOB, FakeWorld


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
def released(world: FakeWorld) -> list[str]:
    names: list[str] = []
    world.services.locks.on_release = names.append
    return names


def queue_run(world: FakeWorld, lock: str, execution_id: str, user: str) -> None:
    LockQueueService(world.lock_queue, world.locks, world.clock).enqueue(
        lock, execution_id, user, wait_seconds=600, lock_seconds=300
    )


def test_given_a_run_and_a_hold_with_waiters_then_the_picture_shows_both(
    world: FakeWorld,
) -> None:
    run = world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"))
    world.services.locks.hold(BOB, "freeze", "incident 42", 600)
    queue_run(world, "prod", "e-waiting", "carol@example.com")
    queue_run(world, "free-now", "e-next", "dave@example.com")

    picture = [view.to_dict() for view in world.services.locks.picture()]

    assert [view["name"] for view in picture] == ["free-now", "freeze", "prod"]
    assert picture[0]["holder"] is None
    assert picture[1]["holder"] == {
        "kind": "hold",
        "lock_name": "freeze",
        "execution_id": picture[1]["holder"]["execution_id"],  # type: ignore[index]
        "user_email": BOB.email,
        "since": "2026-01-01T12:00:00.000Z",
        "until": "2026-01-01T12:10:00.000Z",
        "status": None,
        "reason": "incident 42",
    }
    assert str(picture[1]["holder"]["execution_id"]).startswith("hold-")  # type: ignore[index]
    prod = picture[2]
    assert prod["holder"]["kind"] == "run"  # type: ignore[index]
    assert prod["holder"]["execution_id"] == run.execution_id  # type: ignore[index]
    assert prod["holder"]["status"] == run.status.value  # type: ignore[index]
    assert prod["holder"]["reason"] is None  # type: ignore[index]
    assert prod["queue"] == [
        {
            "position": 1,
            "execution_id": "e-waiting",
            "user_email": "carol@example.com",
            "queued_at": "2026-01-01T12:00:00.000Z",
            "wait_until": "2026-01-01T12:10:00.000Z",
        }
    ]


def test_a_taken_lock_refuses_a_hold_naming_the_holder_as_create_does(world: FakeWorld) -> None:
    world.services.locks.hold(BOB, "prod", "incident 42", 60)

    with pytest.raises(LockHeld) as refused:
        world.services.locks.hold(ALICE, "prod", "me too", 60)

    details = refused.value.details
    assert details["holder"] == BOB.email
    assert (details["holder_kind"], details["reason"]) == ("hold", "incident 42")
    assert details["expires_at"] == "2026-01-01T12:01:00.000Z"
    assert "incident 42" in refused.value.message


@pytest.mark.parametrize(
    ("lock", "reason", "seconds"),
    [
        ("has space", "r", 60),
        ("x" * 129, "r", 60),
        ("prod", "", 60),
        ("prod", "   ", 60),
        ("prod", "r" * 501, 60),
        ("prod", "r", 0),
        ("prod", "r", 86401),
    ],
)
def test_bad_holds_are_refused_and_take_nothing(
    world: FakeWorld, lock: str, reason: str, seconds: int
) -> None:
    with pytest.raises(ValidationFailed):
        world.services.locks.hold(ALICE, lock, reason, seconds)
    assert world.services.locks.picture() == []
    assert world.lock_history.events == {}


def test_a_hold_is_released_by_its_holder_or_an_admin_only(
    world: FakeWorld, released: list[str]
) -> None:
    world.services.locks.hold(ALICE, "prod", "deploy freeze", None)
    with pytest.raises(Forbidden):
        world.services.locks.release(BOB, "prod")

    holder = world.services.locks.release(ALICE, "prod")
    world.services.locks.hold(ALICE, "prod", "again", None)
    world.services.locks.release(ADMIN, "prod")

    assert (holder.kind, holder.reason, holder.until) == (
        "hold",
        "deploy freeze",
        "2026-01-01T13:00:00.000Z",
    )
    assert released == ["prod", "prod"]
    assert world.services.locks.picture() == []
    with pytest.raises(NotFound):
        world.services.locks.release(ADMIN, "prod")


def test_a_run_s_lock_is_released_by_an_admin_only_and_noted_on_the_run(
    world: FakeWorld, released: list[str]
) -> None:
    run = world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"))
    with pytest.raises(Forbidden):
        world.services.locks.release(ALICE, "prod")

    holder = world.services.locks.release(ADMIN, "prod")

    assert (holder.kind, holder.execution_id) == ("run", run.execution_id)
    stored = world.executions.get(run.execution_id)
    assert stored is not None and stored.lock_released_by == ADMIN.email
    assert released == ["prod"]
    [event] = world.services.locks.history().items
    assert (event.action, event.user_email, event.holder_id) == (
        LockAction.FORCE_RELEASE,
        ADMIN.email,
        run.execution_id,
    )


def test_history_lists_holds_releases_and_expiry_newest_first(world: FakeWorld) -> None:
    first = world.services.locks.hold(ALICE, "prod", "incident 1", 60)
    world.clock.advance(10)
    world.services.locks.release(ADMIN, "prod")
    world.clock.advance(10)
    expiring = world.services.locks.hold(BOB, "staging", "incident 2", 30)
    world.clock.advance(60)

    with pytest.raises(NotFound):  # the hold is past its end: recorded as expired
        world.services.locks.release(BOB, "staging")
    world.services.locks.hold(ALICE, "staging", "mine now", 60)

    events = [e.to_dict() for e in world.services.locks.history().items]
    assert [(e["action"], e["lock_name"], e["user_email"]) for e in events] == [
        ("hold", "staging", ALICE.email),
        ("expire", "staging", BOB.email),
        ("hold", "staging", BOB.email),
        ("release", "prod", ADMIN.email),
        ("hold", "prod", ALICE.email),
    ]
    assert events[1]["at"] == expiring.until and events[1]["holder_id"] == expiring.execution_id
    assert events[3]["holder_id"] == first.execution_id
    assert events[3]["holder_email"] == ALICE.email
    assert events[3]["reason"] == "incident 1"
    prod = world.services.locks.history("prod").items
    assert [e.action for e in prod] == [LockAction.RELEASE, LockAction.HOLD]


def test_history_pages_follow_the_cursor_and_bad_arguments_are_refused(world: FakeWorld) -> None:
    for n in range(5):
        world.services.locks.hold(ALICE, f"l{n}", "r", 60)
        world.clock.advance(1)

    first = world.services.locks.history(limit=2)
    second = world.services.locks.history(limit=2, cursor=first.next_cursor)
    last = world.services.locks.history(limit=2, cursor=second.next_cursor)

    names = [e.lock_name for page in (first, second, last) for e in page.items]
    assert names == ["l4", "l3", "l2", "l1", "l0"]
    assert last.next_cursor is None
    for bad in ({"limit": 0}, {"limit": 201}, {"cursor": "!!"}, {"lock_name": "a b"}):
        with pytest.raises(ValidationFailed):
            world.services.locks.history(**bad)  # type: ignore[arg-type]


def test_a_failing_release_callback_does_not_undo_the_release(world: FakeWorld) -> None:
    def broken(lock_name: str) -> None:
        raise RuntimeError("launch failed")

    world.services.locks.on_release = broken
    world.services.locks.hold(ALICE, "prod", "r", 60)

    assert world.services.locks.release(ALICE, "prod").lock_name == "prod"
    assert world.services.locks.picture() == []


def test_an_expired_hold_is_recorded_once_and_freed_by_a_release_attempt(
    world: FakeWorld, released: list[str]
) -> None:
    world.services.locks.hold(ALICE, "prod", "r", 30)
    world.clock.advance(31)

    assert world.services.locks.note_expired_hold("prod") is True
    assert world.services.locks.note_expired_hold("prod") is True
    assert released == []  # noticing it frees nothing: a hold never starts runs
    with pytest.raises(NotFound):
        world.services.locks.release(ALICE, "prod")

    assert released == ["prod"] and world.locks.get("prod") is None
    assert [e.action for e in world.services.locks.history().items] == [
        LockAction.EXPIRE,
        LockAction.HOLD,
    ]


def test_a_hold_over_an_expired_hold_records_the_expiry_and_starts_nothing(
    world: FakeWorld, released: list[str]
) -> None:
    world.services.locks.hold(ALICE, "prod", "old", 30)
    world.clock.advance(31)

    holder = world.services.locks.hold(BOB, "prod", "new", 60)

    assert (holder.user_email, released) == (BOB.email, [])
    assert [(e.action, e.user_email) for e in world.services.locks.history("prod").items] == [
        (LockAction.HOLD, BOB.email),
        (LockAction.EXPIRE, ALICE.email),
        (LockAction.HOLD, ALICE.email),
    ]
