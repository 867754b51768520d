"""An Idempotency-Key stands for one request, on every store backend (in-memory, SQLite,
DynamoDB on moto): the request's fingerprint is stored with the execution and read back, a
repeat with the same request returns the first execution, a different request is refused,
and a record stored before fingerprints existed keeps answering as before."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from contract.conftest import EXECUTION_STORES, LOCK_STORES
from fakes import FakeClock, FakeLogReader, FakeRunner
from orchestrator.domain.errors import IdempotencyKeyReused
from orchestrator.domain.executions import ExecutionService, idempotent_execution_id
from orchestrator.domain.models import ExecutionRequest
from support import ALICE


@pytest.fixture(params=sorted(EXECUTION_STORES))
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, Any]:
    return (
        EXECUTION_STORES[request.param](request, tmp_path),
        LOCK_STORES[request.param](request, tmp_path),
    )


def service(stores: tuple[Any, Any], runner: FakeRunner) -> ExecutionService:
    executions, locks = stores
    return ExecutionService(executions, locks, runner, FakeLogReader(), FakeClock())


def test_the_fingerprint_is_stored_and_never_shown(stores: tuple[Any, Any]) -> None:
    executions, _ = stores
    svc = service(stores, FakeRunner())

    first = svc.start(ALICE, ExecutionRequest("x", env={"TOKEN": "s3cret"}), None, "k")
    stored = executions.get(first.execution_id)

    assert stored.request_fingerprint is not None
    assert stored.request_fingerprint.startswith("v1:")
    assert "s3cret" not in stored.request_fingerprint
    assert "request_fingerprint" not in stored.to_dict()
    with pytest.raises(ValueError, match="not settable"):
        executions.annotate(first.execution_id, request_fingerprint="v1:other")


def test_the_same_request_returns_the_first_and_another_is_refused(
    stores: tuple[Any, Any],
) -> None:
    runner = FakeRunner()
    svc = service(stores, runner)
    request = ExecutionRequest("deploy", lock="prod", env={"A": "1"}, timeout_seconds=60)
    first = svc.start(ALICE, request, None, "k")

    assert svc.start(ALICE, replace(request), None, "k").execution_id == first.execution_id
    with pytest.raises(IdempotencyKeyReused) as refused:
        svc.start(ALICE, replace(request, env={"A": "2"}), None, "k")

    assert refused.value.details == {"execution_id": first.execution_id}
    assert len(runner.launched) == 1


def test_a_record_from_before_fingerprints_keeps_answering_a_repeat(
    stores: tuple[Any, Any],
) -> None:
    # Given an execution stored by an older release: no fingerprint
    executions, _ = stores
    runner = FakeRunner()
    svc = service(stores, runner)
    started = svc.start(ALICE, ExecutionRequest("old"), None, "other-key")
    old = replace(
        started,
        execution_id=idempotent_execution_id(ALICE.email, "old-key"),
        request_fingerprint=None,
    )
    executions.create(old)

    # When its key is repeated with any request, Then the first execution comes back
    again = svc.start(ALICE, ExecutionRequest("something else"), None, "old-key")

    assert again.execution_id == old.execution_id
    assert again.command == "old"
    assert len(runner.launched) == 1
