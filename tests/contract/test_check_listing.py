"""ExecutionStore contract for checks (purpose "check", `mycli doctor`'s runs), on every store:
recorded and read back like any run, counted by the quota, seen by the reaper's list_active,
but listed only when a listing includes checks; paging across runs and checks is exact."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.domain.errors import ValidationFailed
from orchestrator.domain.models import CHECK, Execution, ExecutionStatus, RunningCount
from orchestrator.domain.quota import RunningLimits

S = ExecutionStatus


def make(execution_id: str, started_at: str, user: str = "a@x.io", **fields: Any) -> Execution:
    return Execution(
        execution_id=execution_id,
        user_email=user,
        command=f"echo {execution_id}",
        status=S.PENDING,
        started_at=started_at,
        timeout_seconds=60,
        **fields,
    )


def ts(n: int) -> str:
    return f"2026-01-01T00:00:{n:02d}.000Z"


def walk(store: Any, **filters: Any) -> list[list[str]]:
    """The ids of every page of a listing, following its cursors."""
    pages, cursor = [], None
    while True:
        page = store.list_page(cursor=cursor, **filters)
        pages.append([e.execution_id for e in page.items])
        cursor = page.next_cursor
        if cursor is None:
            return pages


def seed_runs_and_checks(store: Any) -> None:
    """e0..e5 alternate runs and checks (c1, c3, c5), users a and b; e4 and c5 running."""
    for n in range(6):
        user = "a@x.io" if n < 3 else "b@x.io"
        if n % 2:
            store.create(make(f"c{n}", ts(n), user=user, purpose=CHECK))
        else:
            store.create(make(f"e{n}", ts(n), user=user))
    store.advance("e4", S.RUNNING, updated_at=ts(10))
    store.advance("c5", S.RUNNING, updated_at=ts(10))


def flat(pages: list[list[str]]) -> list[str]:
    return [execution_id for page in pages for execution_id in page]


def test_a_check_reads_back_with_its_purpose_and_advances(execution_store: Any) -> None:
    # Given a check and a run
    execution_store.create(make("c1", ts(1), purpose=CHECK))
    execution_store.create(make("e2", ts(2)))

    # When the check runs and ends
    execution_store.advance("c1", S.RUNNING, updated_at=ts(3))
    done = execution_store.advance("c1", S.SUCCEEDED, updated_at=ts(4), exit_code=0)

    # Then it reads back as a check of its user, with its status; the run is a run
    assert done is not None and done.status is S.SUCCEEDED
    check = execution_store.get("c1")
    assert (check.purpose, check.user_email, check.status) == ("check", "a@x.io", S.SUCCEEDED)
    assert check.to_dict()["purpose"] == "check"
    assert execution_store.get("e2").purpose == "run"
    # and a backward update of a check changes nothing, as for a run
    assert execution_store.advance("c1", S.RUNNING, updated_at=ts(5)) is None


def test_default_listings_leave_checks_out(execution_store: Any) -> None:
    seed_runs_and_checks(execution_store)
    assert flat(walk(execution_store, user_email=None, status=None, limit=2)) == [
        "e4",
        "e2",
        "e0",
    ]
    assert flat(walk(execution_store, user_email="b@x.io", status=None, limit=2)) == ["e4"]
    assert flat(walk(execution_store, user_email=None, status=S.RUNNING, limit=2)) == ["e4"]
    assert flat(walk(execution_store, user_email="b@x.io", status=S.RUNNING, limit=5)) == ["e4"]


def test_listings_that_include_checks_page_across_runs_and_checks(execution_store: Any) -> None:
    seed_runs_and_checks(execution_store)
    everyone = walk(execution_store, user_email=None, status=None, limit=2, include_checks=True)
    assert everyone == [["c5", "e4"], ["c3", "e2"], ["c1", "e0"]]
    of_a = walk(execution_store, user_email="a@x.io", status=None, limit=2, include_checks=True)
    assert of_a == [["e2", "c1"], ["e0"]]
    running = walk(execution_store, user_email=None, status=S.RUNNING, limit=1, include_checks=True)
    assert running == [["c5"], ["e4"]]
    pending_b = walk(
        execution_store, user_email="b@x.io", status=S.PENDING, limit=1, include_checks=True
    )
    assert pending_b == [["c3"]]


def test_a_cursor_of_one_listing_does_not_steer_another(execution_store: Any) -> None:
    # Given the first page of a listing that includes checks
    seed_runs_and_checks(execution_store)
    page = execution_store.list_page(
        user_email="a@x.io", status=None, limit=1, cursor=None, include_checks=True
    )
    assert page.next_cursor is not None

    # When its cursor is sent to a default listing of another kind, or tampered with
    # Then it is refused, or at least never shows a check
    for cursor in (page.next_cursor, "garbage!"):
        try:
            other = execution_store.list_page(
                user_email=None, status=S.RUNNING, limit=5, cursor=cursor
            )
        except ValidationFailed:
            continue
        assert all(e.purpose == "run" for e in other.items)


def test_no_email_reaches_a_checks_partition(execution_store: Any) -> None:
    # Given a check of a@x.io: an admin's ?user= that looks like its stored partition
    execution_store.create(make("c1", ts(1), purpose=CHECK))
    for user in ("check a@x.io", "check#a@x.io"):
        page = execution_store.list_page(user_email=user, status=None, limit=5, cursor=None)
        assert page.items == []


def test_checks_take_running_slots_and_the_reaper_sees_them(execution_store: Any) -> None:
    limits = RunningLimits(per_user=5, total=5)
    execution_store.create(make("c1", ts(1), purpose=CHECK), limits=limits)
    execution_store.create(make("e2", ts(2)), limits=limits)
    assert execution_store.count_active("a@x.io") == RunningCount(user=2, total=2)
    assert sorted(e.execution_id for e in execution_store.list_active()) == ["c1", "e2"]

    execution_store.advance("c1", S.FAILED, updated_at=ts(3), exit_code=1)
    assert execution_store.count_active("a@x.io") == RunningCount(user=1, total=1)
    assert [e.execution_id for e in execution_store.list_active()] == ["e2"]


@pytest.mark.parametrize("limit", [1, 3])
def test_many_checks_do_not_shorten_a_default_page(execution_store: Any, limit: int) -> None:
    # Given more checks than a page holds, newer than every run
    for n in range(3):
        execution_store.create(make(f"e{n}", ts(n)))
    for n in range(3, 9):
        execution_store.create(make(f"c{n}", ts(n), purpose=CHECK))
    # Then a default page is still full of runs
    page = execution_store.list_page(user_email=None, status=None, limit=limit, cursor=None)
    assert [e.execution_id for e in page.items] == ["e2", "e1", "e0"][:limit]
