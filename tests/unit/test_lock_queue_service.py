"""LockQueueService over the in-memory queue: expired waits leave before promotion, the
sweep covers every waiting lock, holds validate, block, and are released by their holder
or an admin."""

from __future__ import annotations

import pytest

from fake_lock_queue import InMemoryLockQueue
from fakes import FakeClock, InMemoryLockStore
from orchestrator.domain.errors import Forbidden, LockHeld, NotFound, ValidationFailed
from orchestrator.domain.lock_queue import HOLD_MAX_SECONDS, LockQueueService
from orchestrator.domain.models import Caller, Role

ALICE = Caller(email="alice@x.io", role=Role.USER)
BOB = Caller(email="bob@x.io", role=Role.USER)
ADMIN = Caller(email="root@x.io", role=Role.ADMIN)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def service(clock: FakeClock) -> LockQueueService:
    locks = InMemoryLockStore()
    return LockQueueService(InMemoryLockQueue(locks), locks, clock)


def test_given_waiters_when_queued_then_positions_follow_arrival(
    service: LockQueueService,
) -> None:
    first = service.enqueue("prod", "e1", "a@x.io", wait_seconds=60, lock_seconds=300)
    second = service.enqueue("prod", "e2", "b@x.io", wait_seconds=60, lock_seconds=300)

    assert (first.position, second.position) == (1, 2)
    assert service.position("prod", "e2") == 2
    assert service.leave("prod", "e1") is True
    assert service.position("prod", "e2") == 1
    assert service.position("prod", "e1") is None


def test_given_an_expired_wait_at_the_head_when_promoting_then_it_leaves_and_the_next_starts(
    service: LockQueueService, clock: FakeClock
) -> None:
    service.enqueue("prod", "short", "a@x.io", wait_seconds=10, lock_seconds=300)
    service.enqueue("prod", "long", "b@x.io", wait_seconds=600, lock_seconds=300)
    clock.advance(11)

    promotion = service.promote("prod")

    assert [entry.execution_id for entry in promotion.expired] == ["short"]
    assert promotion.started is not None and promotion.started.execution_id == "long"
    assert service.queue("prod") == []


def test_given_waiters_on_two_free_locks_when_sweeping_then_each_head_starts(
    service: LockQueueService,
) -> None:
    service.enqueue("a", "e1", "a@x.io", wait_seconds=60, lock_seconds=300)
    service.enqueue("b", "e2", "a@x.io", wait_seconds=60, lock_seconds=300)

    started = [p.started.execution_id for p in service.promote_all() if p.started]

    assert started == ["e1", "e2"]


def test_given_a_hold_when_promoting_then_nobody_starts_until_its_holder_releases(
    service: LockQueueService,
) -> None:
    hold = service.hold(ALICE, "prod", "incident 42", seconds=None)
    service.enqueue("prod", "e1", "b@x.io", wait_seconds=600, lock_seconds=300)

    assert service.promote("prod").started is None
    with pytest.raises(Forbidden):
        service.release_hold(BOB, "prod")
    assert service.release_hold(ALICE, "prod") == hold
    promotion = service.promote("prod")
    assert promotion.started is not None and promotion.started.execution_id == "e1"


def test_given_a_hold_when_an_admin_releases_it_then_it_ends(service: LockQueueService) -> None:
    service.hold(ALICE, "prod", "freeze", seconds=60)

    assert service.release_hold(ADMIN, "prod").reason == "freeze"
    with pytest.raises(NotFound):
        service.release_hold(ADMIN, "prod")


def test_given_a_held_lock_when_holding_it_then_the_holder_is_named(
    service: LockQueueService,
) -> None:
    service.hold(ALICE, "prod", "freeze", seconds=60)

    with pytest.raises(LockHeld) as raised:
        service.hold(BOB, "prod", "me too", seconds=60)

    assert raised.value.details["holder"]["reason"] == "freeze"
    assert raised.value.details["holder"]["user_email"] == ALICE.email


def test_given_an_expired_hold_when_holding_again_then_it_is_taken_over(
    service: LockQueueService, clock: FakeClock
) -> None:
    service.hold(ALICE, "prod", "freeze", seconds=60)
    clock.advance(61)

    assert service.hold(BOB, "prod", "mine now", seconds=60).user_email == BOB.email
    with pytest.raises(NotFound):
        service.release_hold(ADMIN, "nope")


@pytest.mark.parametrize(
    ("reason", "seconds"),
    [("", 60), ("   ", 60), ("x" * 501, 60), ("ok", 0), ("ok", HOLD_MAX_SECONDS + 1)],
)
def test_given_a_bad_reason_or_duration_when_holding_then_it_is_refused(
    service: LockQueueService, reason: str, seconds: int
) -> None:
    with pytest.raises(ValidationFailed):
        service.hold(ALICE, "prod", reason, seconds=seconds)


def test_given_a_run_lock_when_releasing_a_hold_then_not_found(
    service: LockQueueService,
) -> None:
    service.enqueue("prod", "e1", "a@x.io", wait_seconds=60, lock_seconds=300)
    service.promote("prod")

    with pytest.raises(NotFound):
        service.release_hold(ADMIN, "prod")
