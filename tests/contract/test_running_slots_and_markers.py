"""Running slots and Idempotency-Key markers on every execution store (in-memory, SQLite,
DynamoDB on moto): a create counts and records in one step, refused past a limit; a
terminal transition gives the slot back exactly once; a key's marker is held by one
request until it is released or goes stale; none of it ever shows as an execution."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from contract.conftest import EXECUTION_STORES
from fakes import FakeClock
from orchestrator.domain.errors import Conflict, TooManyExecutions
from orchestrator.domain.idempotency import IdempotencyMarker
from orchestrator.domain.models import Execution, ExecutionStatus, RunningCount, utc_iso
from orchestrator.domain.quota import RunningLimits
from support import ALICE, BOB

NOW = utc_iso(FakeClock().now())
KEY_ID = "6f1d3c9e8a524b7e9d0a2c4e5f718293"


@pytest.fixture(params=sorted(EXECUTION_STORES))
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return EXECUTION_STORES[request.param](request, tmp_path)


def pending(execution_id: str, user: str = ALICE.email) -> Execution:
    return Execution(
        execution_id=execution_id,
        user_email=user,
        command="x",
        status=ExecutionStatus.PENDING,
        started_at=NOW,
        timeout_seconds=60,
    )


def marker(owner: str, claimed_at: str = NOW, fingerprint: str = "v1:aa") -> IdempotencyMarker:
    return IdempotencyMarker(KEY_ID, fingerprint, owner, claimed_at, "2026-01-02T12:00:00.000Z")


def finish(store: Any, execution_id: str, status: ExecutionStatus) -> Execution | None:
    return store.advance(execution_id, status, updated_at=NOW, finished_at=NOW)  # type: ignore[no-any-return]


def test_a_create_past_the_per_user_limit_is_refused_with_the_counts(store: Any) -> None:
    limits = RunningLimits(per_user=2, total=10)
    store.create(pending("e1"), limits=limits)
    store.create(pending("e2"), limits=limits)

    with pytest.raises(TooManyExecutions) as refused:
        store.create(pending("e3"), limits=limits)

    assert refused.value.details["running"] == 2
    assert "you have 2 running, the limit is 2 per user" in refused.value.message
    assert store.get("e3") is None
    assert store.count_active(ALICE.email) == RunningCount(user=2, total=2)
    store.create(pending("b1", BOB.email), limits=limits)  # Bob has room


def test_a_create_past_the_total_limit_is_refused_for_everyone(store: Any) -> None:
    limits = RunningLimits(per_user=10, total=2)
    store.create(pending("e1"), limits=limits)
    store.create(pending("b1", BOB.email), limits=limits)

    with pytest.raises(TooManyExecutions) as refused:
        store.create(pending("b2", BOB.email), limits=limits)

    assert "2 running on the platform, the limit is 2" in refused.value.message
    assert refused.value.details["total_running"] == 2
    assert refused.value.details["running"] == 1


def test_a_terminal_transition_gives_the_slot_back_exactly_once(store: Any) -> None:
    # Given Alice at her limit of one
    limits = RunningLimits(per_user=1, total=10)
    store.create(pending("e1"), limits=limits)

    # When the run ends, and its end is replayed with another outcome
    ended = finish(store, "e1", ExecutionStatus.SUCCEEDED)
    replayed = finish(store, "e1", ExecutionStatus.FAILED)

    # Then the slot came back once: one more fits, and no more than one
    assert ended is not None and ended.status is ExecutionStatus.SUCCEEDED
    assert replayed is None
    assert store.count_active(ALICE.email) == RunningCount(user=0, total=0)
    store.create(pending("e2"), limits=limits)
    with pytest.raises(TooManyExecutions):
        store.create(pending("e3"), limits=limits)


def test_moves_short_of_the_end_keep_the_slot(store: Any) -> None:
    store.create(pending("e1"))

    for status in (ExecutionStatus.STARTING, ExecutionStatus.RUNNING, ExecutionStatus.CANCELLING):
        assert store.advance("e1", status, updated_at=NOW) is not None
        assert store.count_active(ALICE.email) == RunningCount(user=1, total=1), status

    assert finish(store, "e1", ExecutionStatus.CANCELLED) is not None
    assert store.count_active(ALICE.email) == RunningCount(user=0, total=0)


def test_an_execution_recorded_as_ended_takes_no_slot(store: Any) -> None:
    store.create(replace(pending("e1"), status=ExecutionStatus.FAILED))

    assert store.count_active(ALICE.email) == RunningCount(user=0, total=0)
    assert finish(store, "e1", ExecutionStatus.SUCCEEDED) is None
    assert store.count_active(ALICE.email) == RunningCount(user=0, total=0)


def test_one_claim_holds_a_key_until_it_is_released(store: Any) -> None:
    assert store.claim_marker(marker("first"), stale_before="2026-01-01T11:59:00.000Z") is None

    holder = store.claim_marker(marker("second"), stale_before="2026-01-01T11:59:00.000Z")

    assert holder == marker("first")
    store.release_marker(KEY_ID, "second")  # not its marker: nothing happens
    assert store.claim_marker(marker("third"), "2026-01-01T11:59:00.000Z") == marker("first")
    store.release_marker(KEY_ID, "first")
    assert store.claim_marker(marker("third"), "2026-01-01T11:59:00.000Z") is None


def test_a_stale_claim_is_taken_over_and_its_create_then_refused(store: Any) -> None:
    # Given a claim whose request went silent a minute ago
    store.claim_marker(marker("silent", claimed_at="2026-01-01T11:58:00.000Z"), NOW)

    # When another request claims the key, counting claims older than a lease as stale
    taken = store.claim_marker(marker("retry"), stale_before="2026-01-01T11:59:00.000Z")

    # Then it holds the key: the silent one's create is refused, the retry's goes through
    assert taken is None
    with pytest.raises(Conflict):
        store.create(pending(KEY_ID), claimed_by="silent")
    assert store.get(KEY_ID) is None
    assert store.count_active(ALICE.email) == RunningCount(user=0, total=0)
    store.create(pending(KEY_ID), claimed_by="retry")
    assert store.get(KEY_ID) is not None


def test_a_create_for_a_claim_needs_its_marker(store: Any) -> None:
    with pytest.raises(Conflict):
        store.create(pending(KEY_ID), claimed_by="nobody")

    assert store.get(KEY_ID) is None
    assert store.count_active(ALICE.email) == RunningCount(user=0, total=0)


def test_counters_and_markers_never_show_as_executions(store: Any) -> None:
    store.claim_marker(marker("first"), NOW)
    store.create(pending(KEY_ID), claimed_by="first")
    store.create(pending("b1", BOB.email))

    everyone = store.list_page(user_email=None, status=None, limit=50, cursor=None)
    running = store.list_page(
        user_email=None, status=ExecutionStatus.PENDING, limit=50, cursor=None
    )

    assert {e.execution_id for e in everyone.items} == {KEY_ID, "b1"}
    assert {e.execution_id for e in running.items} == {KEY_ID, "b1"}
    assert {e.execution_id for e in store.list_active()} == {KEY_ID, "b1"}
    for reserved in ("quota#total", f"quota#user#{ALICE.email}", f"idempotency#{KEY_ID}"):
        assert store.get(reserved) is None
