"""LockHistory contract: newest first for every lock or one, pages that join up with no
gap or repeat, recording the same event twice keeps one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from orchestrator.domain.lock_history import LockAction, LockEvent
from orchestrator.domain.models import utc_iso

START = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)


def event(n: int, lock_name: str = "prod", *, seconds: int | None = None) -> LockEvent:
    return LockEvent(
        lock_name=lock_name,
        action=LockAction.HOLD if n % 2 == 0 else LockAction.RELEASE,
        user_email=f"u{n}@x.io",
        at=utc_iso(START + timedelta(seconds=n if seconds is None else seconds)),
        holder_id=f"hold-{n:016x}",
        holder_email="h@x.io",
        reason=f"reason {n}" if n % 2 == 0 else None,
        event_id=f"{n:016x}",
    )


def flat(pages: list[list[LockEvent]]) -> list[LockEvent]:
    return [event for page in pages for event in page]


def read_all(history: Any, lock_name: str | None, limit: int) -> list[list[LockEvent]]:
    """Every page of the listing, each at most `limit` long."""
    pages: list[list[LockEvent]] = []
    before = None
    while True:
        page = history.newest(lock_name, limit, before)
        if not page:
            return pages
        pages.append(page)
        before = page[-1].mark


def test_events_come_back_newest_first_as_recorded(lock_history: Any) -> None:
    for n in (2, 0, 1):
        lock_history.record(event(n))

    assert lock_history.newest(None, 10, None) == [event(2), event(1), event(0)]
    assert lock_history.newest("prod", 2, None) == [event(2), event(1)]


def test_one_lock_s_history_leaves_the_others_out(lock_history: Any) -> None:
    lock_history.record(event(0, "prod"))
    lock_history.record(event(1, "team/prod"))
    lock_history.record(event(2, "prod-2"))

    assert lock_history.newest("prod", 10, None) == [event(0, "prod")]
    assert lock_history.newest("team/prod", 10, None) == [event(1, "team/prod")]
    assert lock_history.newest("nope", 10, None) == []
    assert [e.lock_name for e in lock_history.newest(None, 10, None)] == [
        "prod-2",
        "team/prod",
        "prod",
    ]


def test_pages_join_up_without_gaps_or_repeats(lock_history: Any) -> None:
    recorded = [event(n, "prod" if n % 3 else "staging") for n in range(11)]
    for item in recorded:
        lock_history.record(item)

    everything = read_all(lock_history, None, 4)
    prod = read_all(lock_history, "prod", 3)

    assert [len(page) for page in everything] == [4, 4, 3]
    assert flat(everything) == sorted(recorded, key=lambda e: e.mark, reverse=True)
    assert flat(prod) == [e for e in reversed(recorded) if e.lock_name == "prod"]


def test_events_of_the_same_instant_are_ordered_by_lock_then_id(lock_history: Any) -> None:
    same = [event(n, lock, seconds=0) for n, lock in ((1, "a"), (2, "a-b"), (3, "a"), (4, "b"))]
    for item in same:
        lock_history.record(item)

    listed = flat(read_all(lock_history, None, 1))

    assert [(e.lock_name, e.event_id) for e in listed] == [
        ("b", f"{4:016x}"),
        ("a-b", f"{2:016x}"),
        ("a", f"{3:016x}"),
        ("a", f"{1:016x}"),
    ]
    assert flat(read_all(lock_history, "a", 1)) == [same[2], same[0]]


def test_recording_the_same_event_again_keeps_one(lock_history: Any) -> None:
    lock_history.record(event(0))
    lock_history.record(event(0))

    assert lock_history.newest(None, 10, None) == [event(0)]
    assert lock_history.newest("prod", 10, None) == [event(0)]
