"""LockQueue contract (with the LockStore it promotes into): arrival order, positions,
removal, promotion only onto a free lock and only once, holds, 50 concurrent enqueuers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orchestrator.domain.errors import Conflict, QueueFull
from orchestrator.domain.models import Lock, utc_iso
from orchestrator.domain.queue_entry import QueueEntry

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
MAX = 100


def entry(execution_id: str, lock_name: str = "prod", user: str = "a@x.io") -> QueueEntry:
    return QueueEntry(
        lock_name=lock_name,
        execution_id=execution_id,
        user_email=user,
        queued_at=utc_iso(NOW),
        wait_until=utc_iso(NOW + timedelta(minutes=10)),
        lock_seconds=600,
    )


def held(execution_id: str, expires_in: float = 600, reason: str | None = None) -> Lock:
    return Lock(
        lock_name="prod",
        execution_id=execution_id,
        user_email="h@x.io",
        acquired_at=utc_iso(NOW),
        expires_at=utc_iso(NOW + timedelta(seconds=expires_in)),
        reason=reason,
    )


def ids(entries: list[QueueEntry]) -> list[str]:
    return [item.execution_id for item in entries]


def race(count: int, action: Callable[[int], Any]) -> list[Any]:
    """`action(n)` for n in range(count), each in its own thread, all let go at once."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(n: int) -> None:
        barrier.wait()
        results[n] = action(n)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_entries_keep_arrival_order_with_positions(queue_and_locks: Any) -> None:
    queue, _ = queue_and_locks

    positions = [queue.enqueue(entry(f"e{n}"), MAX) for n in range(3)]
    queue.enqueue(entry("other", lock_name="staging"), MAX)

    assert positions == [1, 2, 3]
    listed = queue.entries("prod")
    assert ids(listed) == ["e0", "e1", "e2"]
    assert [item.position for item in listed] == [1, 2, 3]
    assert listed[0] == entry("e0").at(1)
    assert queue.waiting_locks() == ["prod", "staging"]


def test_a_removed_entry_moves_the_others_up(queue_and_locks: Any) -> None:
    queue, _ = queue_and_locks
    for n in range(3):
        queue.enqueue(entry(f"e{n}"), MAX)

    assert queue.remove("prod", "e1") is True
    assert queue.remove("prod", "e1") is False
    assert queue.remove("staging", "e0") is False

    assert [(item.execution_id, item.position) for item in queue.entries("prod")] == [
        ("e0", 1),
        ("e2", 2),
    ]
    assert queue.enqueue(entry("e3"), MAX) == 3


def test_the_same_run_is_queued_once_and_the_length_is_bounded(queue_and_locks: Any) -> None:
    queue, _ = queue_and_locks
    queue.enqueue(entry("e0"), 2)

    with pytest.raises(Conflict):
        queue.enqueue(entry("e0"), 2)
    queue.enqueue(entry("e1"), 2)
    with pytest.raises(QueueFull):
        queue.enqueue(entry("e2"), 2)

    assert ids(queue.entries("prod")) == ["e0", "e1"]
    queue.remove("prod", "e0")
    assert queue.enqueue(entry("e2"), 2) == 2


def test_the_head_is_promoted_only_when_the_lock_is_free(queue_and_locks: Any) -> None:
    queue, locks = queue_and_locks
    assert queue.promote_head("prod", NOW) is None  # nobody waits
    locks.acquire(held("running"), NOW)
    queue.enqueue(entry("e0"), MAX)
    queue.enqueue(entry("e1"), MAX)

    assert queue.promote_head("prod", NOW) is None
    assert ids(queue.entries("prod")) == ["e0", "e1"]

    locks.release("prod", "running")
    promoted = queue.promote_head("prod", NOW)

    assert promoted == entry("e0").at(1)
    assert locks.get("prod") == entry("e0").lock_from(NOW)
    assert ids(queue.entries("prod")) == ["e1"]
    assert queue.promote_head("prod", NOW) is None  # e0 holds it now


def test_an_expired_holder_gives_way_to_the_head(queue_and_locks: Any) -> None:
    queue, locks = queue_and_locks
    locks.acquire(held("crashed", expires_in=10), NOW)
    queue.enqueue(entry("e0"), MAX)

    later = NOW + timedelta(seconds=11)
    assert queue.promote_head("prod", later).execution_id == "e0"
    assert locks.get("prod").execution_id == "e0"
    assert queue.waiting_locks() == []


def test_racing_promoters_start_the_head_exactly_once(queue_and_locks: Any) -> None:
    queue, locks = queue_and_locks
    for n in range(3):
        queue.enqueue(entry(f"e{n}"), MAX)

    promoted = [item for item in race(10, lambda n: queue.promote_head("prod", NOW)) if item]

    assert ids(promoted) == ["e0"]
    assert locks.get("prod").execution_id == "e0"
    assert ids(queue.entries("prod")) == ["e1", "e2"]


def test_a_hold_blocks_promotion_until_released(queue_and_locks: Any) -> None:
    queue, locks = queue_and_locks
    assert locks.acquire(held("hold-1", reason="incident 42"), NOW) is None
    queue.enqueue(entry("e0"), MAX)

    assert queue.promote_head("prod", NOW) is None
    assert locks.get("prod").reason == "incident 42"
    assert locks.get("prod").is_hold

    assert locks.release("prod", "hold-1") is True
    assert queue.promote_head("prod", NOW).execution_id == "e0"
    assert locks.get("prod").reason is None


def test_a_hold_blocks_promotion_until_it_expires(queue_and_locks: Any) -> None:
    queue, locks = queue_and_locks
    locks.acquire(held("hold-1", expires_in=60, reason="freeze"), NOW)
    queue.enqueue(entry("e0"), MAX)

    assert queue.promote_head("prod", NOW + timedelta(seconds=59)) is None
    assert queue.promote_head("prod", NOW + timedelta(seconds=61)).execution_id == "e0"


def test_fifty_concurrent_enqueuers_get_distinct_positions_in_arrival_order(
    queue_and_locks: Any,
) -> None:
    queue, _ = queue_and_locks

    positions = race(50, lambda n: queue.enqueue(entry(f"e{n}"), MAX))

    assert sorted(positions) == list(range(1, 51))
    by_position = {position: f"e{n}" for n, position in enumerate(positions)}
    listed = queue.entries("prod")
    assert ids(listed) == [by_position[p] for p in range(1, 51)]
    assert [item.position for item in listed] == list(range(1, 51))


def test_fifty_waiters_are_each_promoted_once_in_arrival_order(queue_and_locks: Any) -> None:
    queue, locks = queue_and_locks
    race(50, lambda n: queue.enqueue(entry(f"e{n}"), MAX))
    arrival = ids(queue.entries("prod"))
    started: list[str] = []

    while queue.entries("prod"):
        winners = [item for item in race(4, lambda n: queue.promote_head("prod", NOW)) if item]
        assert len(winners) == 1
        started.append(winners[0].execution_id)
        assert locks.release("prod", winners[0].execution_id)

    assert started == arrival
