"""Creating an execution on every store backend (in-memory, SQLite, DynamoDB on moto): no
lock outlives a failed create, whatever step after taking it fails, and the running-execution
quota counts right."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from contract.conftest import EXECUTION_STORES, LOCK_STORES
from fakes import FakeClock, FakeLogReader, FakeRunner
from orchestrator.domain.errors import TooManyExecutions
from orchestrator.domain.executions import ExecutionPolicy, ExecutionService
from orchestrator.domain.models import (
    Caller,
    Execution,
    ExecutionRequest,
    ExecutionStatus,
    Role,
    RunningCount,
    utc_iso,
)
from support import ALICE, BOB

BACKENDS = sorted(EXECUTION_STORES)


class Injected(RuntimeError):
    """The failure a wrapped store or runner raises at the chosen step."""


class Steps:
    """Counts the calls made after the lock is taken and fails the `fail_at`-th one."""

    def __init__(self, fail_at: int) -> None:
        self.fail_at = fail_at
        self.after_lock = 0
        self.lock_taken = False
        self.failed: str | None = None
        self._guard = threading.Lock()

    def call(self, name: str, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with self._guard:
            if self.lock_taken and self.failed is None:
                self.after_lock += 1
                if self.after_lock == self.fail_at:
                    self.failed = name
                    raise Injected(f"injected failure in {name}")
        return method(*args, **kwargs)


class Wrapped:
    """`target` with every public method going through `steps` (lock acquisition marks the
    start of counting; releasing a lock is the cure, never a step that fails)."""

    def __init__(self, target: Any, steps: Steps, label: str) -> None:
        self._target = target
        self._steps = steps
        self._label = label

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._target, name)
        if name == "acquire":

            def acquire(*args: Any, **kwargs: Any) -> Any:
                holder = method(*args, **kwargs)
                self._steps.lock_taken = holder is None
                return holder

            return acquire
        if name == "release":
            return method
        return lambda *args, **kwargs: self._steps.call(
            f"{self._label}.{name}", method, *args, **kwargs
        )


@pytest.fixture(params=BACKENDS)
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Any, Any]:
    return (
        EXECUTION_STORES[request.param](request, tmp_path),
        LOCK_STORES[request.param](request, tmp_path),
    )


def service(executions: Any, locks: Any, runner: Any, policy: ExecutionPolicy | None = None) -> Any:
    return ExecutionService(executions, locks, runner, FakeLogReader(), FakeClock(), policy)


def test_no_lock_outlives_a_failure_at_any_step_after_it_is_taken(
    stores: tuple[Any, Any],
) -> None:
    executions, locks = stores
    failed_steps = []
    step = 0
    while True:
        step += 1
        # Given stores and a runner that fail at the step-th call after the lock is taken
        steps = Steps(fail_at=step)
        wrapped = service(
            Wrapped(executions, steps, "executions"),
            Wrapped(locks, steps, "locks"),
            Wrapped(FakeRunner(), steps, "runner"),
        )
        lock_name = f"prod-{step}"

        # When a create with a lock runs into it
        try:
            execution: Execution | None = wrapped.start(
                ALICE, ExecutionRequest("deploy", lock=lock_name)
            )
        except Injected:
            execution = None

        if steps.failed is None:  # past the last step: the create went through untouched
            assert execution is not None and execution.status is ExecutionStatus.STARTING
            assert locks.get(lock_name).execution_id == execution.execution_id
            break
        failed_steps.append(steps.failed)

        # Then the lock is free, and no execution is left counting as running
        assert locks.get(lock_name) is None, f"lock kept after a failure in {steps.failed}"
        assert executions.count_active(ALICE.email).user == 0, steps.failed
        assert execution is None or execution.status is ExecutionStatus.FAILED

    assert {"executions.create", "runner.launch", "executions.annotate"} <= set(failed_steps)
    assert "executions.advance" in failed_steps


def test_a_repeated_key_never_releases_the_first_requests_lock(stores: tuple[Any, Any]) -> None:
    executions, locks = stores
    runner = FakeRunner()
    svc = service(executions, locks, runner)
    first = svc.start(ALICE, ExecutionRequest("x", lock="prod"), None, "key-1")

    again = svc.start(ALICE, ExecutionRequest("x", lock="prod"), None, "key-1")

    assert again.execution_id == first.execution_id
    assert locks.get("prod").execution_id == first.execution_id
    assert len(runner.launched) == 1


def test_running_executions_are_counted_per_user_and_in_total(executions_and_now: Any) -> None:
    executions = executions_and_now
    for number, (user, status) in enumerate(
        [
            (ALICE, ExecutionStatus.PENDING),
            (ALICE, ExecutionStatus.RUNNING),
            (ALICE, ExecutionStatus.SUCCEEDED),
            (BOB, ExecutionStatus.CANCELLING),
            (BOB, ExecutionStatus.STARTING),
            (BOB, ExecutionStatus.FAILED),
        ]
    ):
        executions.create(
            Execution(
                execution_id=f"e{number}",
                user_email=user.email,
                command="x",
                status=status,
                started_at=utc_iso(FakeClock().now()),
                timeout_seconds=60,
            )
        )

    assert executions.count_active(ALICE.email) == RunningCount(user=2, total=4)
    assert executions.count_active(BOB.email) == RunningCount(user=2, total=4)
    assert executions.count_active("nobody@x.io") == RunningCount(user=0, total=4)


@pytest.fixture(params=BACKENDS)
def executions_and_now(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    return EXECUTION_STORES[request.param](request, tmp_path)


def test_the_quota_refuses_over_the_limit_and_admits_once_one_finishes(
    stores: tuple[Any, Any],
) -> None:
    # Given a limit of 2 per user and 3 in total
    executions, locks = stores
    svc = service(
        executions,
        locks,
        FakeRunner(),
        ExecutionPolicy(max_running_per_user=2, max_running_total=3),
    )
    first = svc.start(ALICE, ExecutionRequest("x"))
    svc.start(ALICE, ExecutionRequest("x"))

    # When Alice asks for a third, Then it is refused with the figures
    with pytest.raises(TooManyExecutions) as refused:
        svc.start(ALICE, ExecutionRequest("x", lock="prod"))
    assert refused.value.details["running"] == 2
    assert "2 running" in refused.value.message and "limit is 2" in refused.value.message
    assert locks.get("prod") is None, "a refused create never takes the lock"

    # And Bob gets one, then the total is reached for him too
    svc.start(BOB, ExecutionRequest("x"))
    with pytest.raises(TooManyExecutions, match="3 running on the platform"):
        svc.start(BOB, ExecutionRequest("x"))

    # When one of Alice's finishes, Then she is admitted again
    svc.on_exit(first.execution_id, 0, timed_out=False)
    assert svc.start(ALICE, ExecutionRequest("x")).status is ExecutionStatus.STARTING
    admin = Caller("root@x.io", Role.ADMIN)
    assert svc.quota(admin).total_running == 3
    assert svc.quota(ALICE).running == 2 and svc.quota(ALICE).total_running is None
