"""Creates at once on every store backend (in-memory, SQLite, DynamoDB on moto), from
threads, each through its own ExecutionService (a host of its own) over the shared stores:
the quota admits exactly its limit, and one Idempotency-Key makes one execution and one
launch."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from concurrent_calls import HeldAt, all_at_once
from contract.conftest import EXECUTION_STORES, LOCK_STORES
from fakes import FakeClock, FakeLogReader, FakeRunner
from orchestrator.domain.errors import TooManyExecutions
from orchestrator.domain.executions import (
    ExecutionPolicy,
    ExecutionService,
    idempotent_execution_id,
)
from orchestrator.domain.models import Execution, ExecutionRequest, RunningCount
from support import ALICE

HOSTS = 6


@pytest.fixture(params=sorted(EXECUTION_STORES))
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, Any]:
    return (
        EXECUTION_STORES[request.param](request, tmp_path),
        LOCK_STORES[request.param](request, tmp_path),
    )


def hosts(
    stores: tuple[Any, Any], runner: FakeRunner, step: str, policy: ExecutionPolicy
) -> list[ExecutionService]:
    """HOSTS services over the stores, each holding at `step` until all have reached it."""
    executions, locks = stores
    barrier = threading.Barrier(HOSTS)
    return [
        ExecutionService(
            HeldAt(executions, step, barrier),
            locks,
            runner,
            FakeLogReader(),
            FakeClock(),
            policy,
        )
        for _ in range(HOSTS)
    ]


def test_creates_counted_at_once_admit_exactly_the_limit(stores: tuple[Any, Any]) -> None:
    # Given 6 hosts that have all counted Alice's running executions before any records
    runner = FakeRunner()
    policy = ExecutionPolicy(max_running_per_user=2, max_running_total=50)

    # When her 6 creates arrive at once
    results = all_at_once(
        [
            lambda host=host: host.start(ALICE, ExecutionRequest("x"))
            for host in hosts(stores, runner, "create", policy)
        ]
    )

    # Then exactly 2 are recorded and launched; the other 4 are refused with the figures
    started = [r for r in results if isinstance(r, Execution)]
    refused = [r for r in results if isinstance(r, TooManyExecutions)]
    assert (len(started), len(refused)) == (2, 4), results
    assert len(runner.launched) == 2
    assert stores[0].count_active(ALICE.email) == RunningCount(user=2, total=2)


def test_one_key_at_once_makes_one_execution_and_one_launch(stores: tuple[Any, Any]) -> None:
    runner = FakeRunner()
    request = ExecutionRequest("make deploy")

    results = all_at_once(
        [
            lambda host=host: host.start(ALICE, request, None, "retry-1")
            for host in hosts(stores, runner, "get", ExecutionPolicy())
        ]
    )

    assert all(isinstance(r, Execution) for r in results), results
    assert {r.execution_id for r in results} == {idempotent_execution_id(ALICE.email, "retry-1")}
    assert len(runner.launched) == 1
    assert stores[0].count_active(ALICE.email) == RunningCount(user=1, total=1)
