"""LockStore contract: one holder at a time, expiry takeover, holder-only release."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.domain.models import Lock, utc_iso

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def lock(name: str, execution_id: str, expires_in: float = 600, user: str = "a@x.io") -> Lock:
    return Lock(
        lock_name=name,
        execution_id=execution_id,
        user_email=user,
        acquired_at=utc_iso(NOW),
        expires_at=utc_iso(NOW + timedelta(seconds=expires_in)),
    )


def test_a_free_lock_is_acquired(lock_store: Any) -> None:
    assert lock_store.acquire(lock("prod", "e1"), NOW) is None
    assert lock_store.get("prod") == lock("prod", "e1")


def test_a_held_lock_returns_its_holder(lock_store: Any) -> None:
    lock_store.acquire(lock("prod", "e1"), NOW)

    holder = lock_store.acquire(lock("prod", "e2", user="b@x.io"), NOW)

    assert holder == lock("prod", "e1")
    assert lock_store.get("prod").execution_id == "e1"


def test_an_expired_lock_is_taken_over(lock_store: Any) -> None:
    lock_store.acquire(lock("prod", "e1", expires_in=10), NOW)

    later = NOW + timedelta(seconds=11)
    assert lock_store.acquire(lock("prod", "e2"), later) is None
    assert lock_store.get("prod").execution_id == "e2"


def test_only_the_holder_releases(lock_store: Any) -> None:
    lock_store.acquire(lock("prod", "e1"), NOW)

    assert lock_store.release("prod", "e2") is False
    assert lock_store.get("prod") is not None
    assert lock_store.release("prod", "e1") is True
    assert lock_store.get("prod") is None
    assert lock_store.release("prod", "e1") is False


def test_a_late_release_does_not_free_a_new_holders_lock(lock_store: Any) -> None:
    lock_store.acquire(lock("prod", "e1", expires_in=10), NOW)
    lock_store.acquire(lock("prod", "e2"), NOW + timedelta(seconds=11))

    assert lock_store.release("prod", "e1") is False
    assert lock_store.get("prod").execution_id == "e2"


def test_only_unexpired_locks_are_listed(lock_store: Any) -> None:
    lock_store.acquire(lock("b-live", "e1"), NOW)
    lock_store.acquire(lock("a-live", "e2"), NOW)
    lock_store.acquire(lock("old", "e3", expires_in=5), NOW)

    names = [item.lock_name for item in lock_store.list_active(NOW + timedelta(seconds=6))]

    assert names == ["a-live", "b-live"]


def test_fifty_concurrent_acquisitions_leave_exactly_one_holder(lock_store: Any) -> None:
    barrier = threading.Barrier(50)
    winners: list[str] = []

    def contend(n: int) -> None:
        barrier.wait()
        if lock_store.acquire(lock("race", f"e{n}"), NOW) is None:
            winners.append(f"e{n}")

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(winners) == 1
    assert lock_store.get("race").execution_id == winners[0]
