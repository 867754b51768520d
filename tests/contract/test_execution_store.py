"""ExecutionStore contract: create/get, forward-only conditional updates, listings."""

from __future__ import annotations

from typing import Any

import pytest

from orchestrator.domain.errors import Conflict, ValidationFailed
from orchestrator.domain.models import Execution, ExecutionStatus

S = ExecutionStatus


def make(execution_id: str, started_at: str, user: str = "a@x.io", **fields: Any) -> Execution:
    return Execution(
        execution_id=execution_id,
        user_email=user,
        command=fields.pop("command", f"echo {execution_id}"),
        status=fields.pop("status", S.PENDING),
        started_at=started_at,
        timeout_seconds=60,
        env_names=("A", "B"),
        **fields,
    )


def ts(n: int) -> str:
    return f"2026-01-01T00:00:{n:02d}.000Z"


def test_a_created_execution_reads_back_equal(execution_store: Any) -> None:
    execution = make("e1", ts(1), lock_name="prod", request_id="r1")
    execution_store.create(execution)

    assert execution_store.get("e1") == execution
    assert execution_store.get("missing") is None


def test_the_stdin_upload_and_the_log_truncation_are_kept(execution_store: Any) -> None:
    # Given an execution fed from a stdin upload
    execution_store.create(make("e1", ts(1), stdin_upload_id="u1"))

    # When its log reaches the cap, and later it ends
    execution_store.annotate("e1", log_truncated_at=104857600)
    execution_store.advance("e1", S.SUCCEEDED, updated_at=ts(2), exit_code=0)

    # Then both are read back
    current = execution_store.get("e1")
    assert (current.stdin_upload_id, current.log_truncated_at) == ("u1", 104857600)
    assert execution_store.get("e1") == current


def test_creating_the_same_id_twice_is_a_conflict(execution_store: Any) -> None:
    execution_store.create(make("e1", ts(1)))
    with pytest.raises(Conflict):
        execution_store.create(make("e1", ts(2), command="other"))
    assert execution_store.get("e1").started_at == ts(1)


def test_advance_moves_forward_and_sets_fields(execution_store: Any) -> None:
    execution_store.create(make("e1", ts(1)))

    running = execution_store.advance("e1", S.RUNNING, updated_at=ts(2))
    done = execution_store.advance(
        "e1",
        S.FAILED,
        updated_at=ts(3),
        exit_code=2,
        reason="exited with code 2",
        finished_at=ts(3),
    )

    assert running is not None and running.status is S.RUNNING
    assert done is not None
    assert (done.status, done.exit_code, done.reason, done.finished_at) == (
        S.FAILED,
        2,
        "exited with code 2",
        ts(3),
    )
    assert execution_store.get("e1") == done


@pytest.mark.parametrize(
    ("path", "late"),
    [
        ([S.RUNNING], S.STARTING),
        ([S.SUCCEEDED], S.RUNNING),
        ([S.SUCCEEDED], S.FAILED),
        ([S.CANCELLING], S.RUNNING),
    ],
)
def test_a_late_or_backward_update_changes_nothing(
    execution_store: Any, path: list[S], late: S
) -> None:
    execution_store.create(make("e1", ts(1)))
    for status in path:
        execution_store.advance("e1", status, updated_at=ts(2))
    before = execution_store.get("e1")

    assert execution_store.advance("e1", late, updated_at=ts(9), exit_code=1) is None
    assert execution_store.get("e1") == before


def test_advance_on_an_unknown_id_does_nothing(execution_store: Any) -> None:
    assert execution_store.advance("nope", S.RUNNING, updated_at=ts(1)) is None
    assert execution_store.get("nope") is None


def test_annotate_sets_fields_without_touching_the_status(execution_store: Any) -> None:
    execution_store.create(make("e1", ts(1)))
    execution_store.advance("e1", S.SUCCEEDED, updated_at=ts(2))

    execution_store.annotate("e1", task_ref="123", log_stream_name="e1.log")

    current = execution_store.get("e1")
    assert (current.status, current.task_ref, current.log_stream_name) == (
        S.SUCCEEDED,
        "123",
        "e1.log",
    )


def seed(store: Any) -> None:
    for n in range(7):
        user = "a@x.io" if n % 2 == 0 else "b@x.io"
        store.create(make(f"e{n}", ts(n), user=user))
    store.advance("e6", S.RUNNING, updated_at=ts(10))
    store.advance("e3", S.RUNNING, updated_at=ts(10))


def walk(store: Any, **filters: Any) -> list[list[str]]:
    pages, cursor = [], None
    while True:
        page = store.list_page(cursor=cursor, **filters)
        pages.append([e.execution_id for e in page.items])
        cursor = page.next_cursor
        if cursor is None:
            return pages


def test_listing_is_newest_first_and_pages_without_gaps(execution_store: Any) -> None:
    seed(execution_store)
    pages = walk(execution_store, user_email=None, status=None, limit=3)
    assert pages == [["e6", "e5", "e4"], ["e3", "e2", "e1"], ["e0"]]


def test_an_exactly_full_last_page_has_no_cursor(execution_store: Any) -> None:
    seed(execution_store)
    assert walk(execution_store, user_email="b@x.io", status=None, limit=3) == [["e5", "e3", "e1"]]


def test_listing_filters_by_user_and_status(execution_store: Any) -> None:
    seed(execution_store)
    assert walk(execution_store, user_email="a@x.io", status=None, limit=2) == [
        ["e6", "e4"],
        ["e2", "e0"],
    ]
    assert walk(execution_store, user_email=None, status=S.RUNNING, limit=10) == [["e6", "e3"]]
    assert walk(execution_store, user_email="b@x.io", status=S.RUNNING, limit=10) == [["e3"]]


def test_ties_on_the_start_time_still_page_exactly(execution_store: Any) -> None:
    for n in range(5):
        execution_store.create(make(f"same{n}", ts(1)))
    pages = walk(execution_store, user_email=None, status=None, limit=2)
    seen = [execution_id for page in pages for execution_id in page]
    assert sorted(seen) == [f"same{n}" for n in range(5)]


def test_a_foreign_cursor_is_a_validation_error(execution_store: Any) -> None:
    with pytest.raises(ValidationFailed):
        execution_store.list_page(user_email=None, status=None, limit=5, cursor="garbage!")


def test_list_active_returns_only_unfinished(execution_store: Any) -> None:
    seed(execution_store)
    for n in (0, 1, 2, 4, 5):
        execution_store.advance(f"e{n}", S.SUCCEEDED, updated_at=ts(20))
    assert sorted(e.execution_id for e in execution_store.list_active()) == ["e3", "e6"]


def test_the_playbook_that_started_an_execution_is_kept(execution_store: Any) -> None:
    # Given an execution started by `mycli run deploy`, and one started by `mycli exec`
    execution_store.create(make("e1", ts(1), playbook="deploy"))
    execution_store.create(make("e2", ts(2)))

    # When it ends
    execution_store.advance("e1", S.SUCCEEDED, updated_at=ts(3), exit_code=0)

    # Then the record names the playbook, and only that one
    assert execution_store.get("e1").playbook == "deploy"
    assert execution_store.get("e2").playbook is None


def test_how_a_run_started_is_kept_and_absent_on_older_records(execution_store: Any) -> None:
    # Given a run launched on a warm task, one launched cold, and one never launched
    for n in (1, 2, 3):
        execution_store.create(make(f"e{n}", ts(n)))

    # When the launches are recorded
    execution_store.annotate("e1", task_ref="arn:warm", start="warm")
    execution_store.annotate("e2", task_ref="arn:cold", start="cold")

    # Then each record says which path its task took; the other says nothing
    assert [execution_store.get(f"e{n}").start for n in (1, 2, 3)] == ["warm", "cold", None]
    assert execution_store.get("e1").to_dict()["start"] == "warm"
