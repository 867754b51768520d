"""One pool manager at a time (domain/warm_lease.py) with the in-memory lease: a run that
finds the lease held asks the holder to run again and does nothing itself; the holder runs
once more per burst of asks, at most MAX_ROUNDS times; a failing holder lets go."""

from __future__ import annotations

import pytest

from fake_warm_pool import InMemoryPoolManagerLease
from fakes import FakeClock
from orchestrator.domain.warm_lease import MAX_ROUNDS, run_alone


def test_a_lone_run_works_once_and_lets_go() -> None:
    lease, clock = InMemoryPoolManagerLease(), FakeClock()
    assert run_alone(lease, "a", clock, lambda: "planned") == ["planned"]
    assert lease.holder is None


def test_runs_arriving_meanwhile_make_the_holder_run_once_more() -> None:
    # given a holder whose first round sees two other runs arrive
    lease, clock = InMemoryPoolManagerLease(), FakeClock()
    others: list[list[str]] = []

    def work() -> str:
        if not others:
            others.append(run_alone(lease, "b", clock, lambda: "b worked"))
            others.append(run_alone(lease, "c", clock, lambda: "c worked"))
        return "a worked"

    # when it runs: then the others did nothing, and it ran twice (once for both asks)
    assert run_alone(lease, "a", clock, work) == ["a worked", "a worked"]
    assert others == [[], []]
    assert lease.holder is None


def test_a_holder_asked_without_end_stops_after_max_rounds() -> None:
    lease, clock = InMemoryPoolManagerLease(), FakeClock()

    def work() -> int:
        assert lease.ask_again("2026-01-01T12:00:00.000Z")
        return 1

    assert run_alone(lease, "a", clock, work) == [1] * MAX_ROUNDS
    assert lease.holder is None  # the last ask is left to the next run


def test_a_failing_holder_lets_go() -> None:
    lease, clock = InMemoryPoolManagerLease(), FakeClock()

    def work() -> None:
        raise RuntimeError("ECS is down")

    with pytest.raises(RuntimeError):
        run_alone(lease, "a", clock, work)
    assert run_alone(lease, "b", clock, lambda: "b") == ["b"]


def test_a_dead_holders_lease_is_taken_after_its_time() -> None:
    lease, clock = InMemoryPoolManagerLease(), FakeClock()
    lease.acquire("dead", "2026-01-01T11:59:00.000Z", "2026-01-01T12:00:30.000Z")
    assert run_alone(lease, "b", clock, lambda: "b") == []  # held: asked, nothing done
    clock.advance(31)
    assert run_alone(lease, "c", clock, lambda: "c") == ["c"]
