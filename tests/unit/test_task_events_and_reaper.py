"""Task-state events and the reaper (the AWS side of the lifecycle), with fakes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from fakes import FakeRunner
from orchestrator.domain.errors import StopFailed
from orchestrator.domain.executions import TIMEOUT_STOP_PREFIX
from orchestrator.domain.models import Execution, ExecutionRequest, ExecutionStatus, TaskStateChange
from orchestrator.domain.reaper import Reaper
from support import ALICE, FakeWorld

S = ExecutionStatus


def started(world: FakeWorld, **request: object) -> Execution:
    return world.services.executions.start(
        ALICE,
        ExecutionRequest(command="terraform apply", lock="prod", **request),  # type: ignore[arg-type]
    )


def stopped(execution: Execution, **fields: object) -> TaskStateChange:
    return TaskStateChange(execution_id=execution.execution_id, last_status="STOPPED", **fields)  # type: ignore[arg-type]


def current(world: FakeWorld, execution: Execution) -> Execution:
    found = world.executions.get(execution.execution_id)
    assert found is not None
    return found


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"stop_code": "EssentialContainerExited", "exit_code": 0}, S.SUCCEEDED, None),
        ({"stop_code": "EssentialContainerExited", "exit_code": 2}, S.FAILED, "exited with code 2"),
        (
            {
                "stop_code": "UserInitiated",
                "stopped_reason": f"{TIMEOUT_STOP_PREFIX} after 60s",
                "exit_code": 143,
            },
            S.TIMED_OUT,
            "timed out after 60s",
        ),
        (
            {
                "stop_code": "TaskFailedToStart",
                "stopped_reason": "CannotPullContainerError: not found",
            },
            S.FAILED,
            "failed to start: CannotPullContainerError: not found",
        ),
        (
            {"stop_code": "ServiceSchedulerInitiated", "stopped_reason": "Host EC2 terminated"},
            S.FAILED,
            "task stopped: Host EC2 terminated",
        ),
    ],
)
def test_a_stopped_task_settles_the_execution_and_frees_its_lock(
    world: FakeWorld, change: dict[str, object], status: S, reason: str | None
) -> None:
    execution = started(world, timeout_seconds=60)

    world.services.executions.on_task_event(stopped(execution, **change))

    assert (current(world, execution).status, current(world, execution).reason) == (status, reason)
    assert world.locks.get("prod") is None


def test_a_user_initiated_stop_is_cancelled(world: FakeWorld) -> None:
    execution = started(world)
    world.services.executions.cancel(ALICE, execution.execution_id)

    world.services.executions.on_task_event(
        stopped(
            execution, stop_code="UserInitiated", stopped_reason="cancelled by alice", exit_code=137
        )
    )

    assert current(world, execution).status is S.CANCELLED


def test_running_then_duplicates_and_late_events_change_nothing(world: FakeWorld) -> None:
    execution = started(world)
    running = TaskStateChange(execution.execution_id, "RUNNING")
    done = stopped(execution, stop_code="EssentialContainerExited", exit_code=0)

    world.services.executions.on_task_event(running)
    assert current(world, execution).status is S.RUNNING
    world.services.executions.on_task_event(done)
    settled = current(world, execution)
    for replay in (
        done,
        running,
        stopped(execution, exit_code=1),
        TaskStateChange(execution.execution_id, "PENDING"),
    ):
        world.services.executions.on_task_event(replay)

    assert current(world, execution) == settled
    assert settled.status is S.SUCCEEDED


def test_a_stopped_event_that_arrives_before_running_still_settles(world: FakeWorld) -> None:
    execution = started(world)
    world.services.executions.on_task_event(stopped(execution, exit_code=5))
    world.services.executions.on_task_event(TaskStateChange(execution.execution_id, "RUNNING"))
    assert current(world, execution).status is S.FAILED


def test_an_event_for_an_unknown_execution_is_ignored(world: FakeWorld) -> None:
    assert (
        world.services.executions.on_task_event(TaskStateChange("nope", "STOPPED", exit_code=0))
        is None
    )


def reaper(world: FakeWorld) -> Reaper:
    return Reaper(world.executions, world.runner, world.services.executions, world.clock)


def test_the_reaper_stops_overdue_tasks_with_the_timeout_reason(world: FakeWorld) -> None:
    overdue = started(world, timeout_seconds=60)
    world.clock.advance(61)
    fresh = world.services.executions.start(ALICE, ExecutionRequest("x", timeout_seconds=600))

    report = reaper(world).run()

    assert report.stopped == [overdue.execution_id]
    assert world.runner.stopped == [(overdue.execution_id, f"{TIMEOUT_STOP_PREFIX} after 60s")]
    assert current(world, fresh).status is S.STARTING


def test_the_reaper_fails_lost_tasks_and_frees_their_locks(world: FakeWorld) -> None:
    lost = started(world)
    world.runner.gone = {lost.execution_id}

    report = reaper(world).run()

    assert report.lost == [lost.execution_id]
    assert (current(world, lost).status, current(world, lost).reason) == (S.FAILED, "task lost")
    assert world.locks.get("prod") is None


def test_a_lost_task_past_its_deadline_timed_out(world: FakeWorld) -> None:
    execution = started(world, timeout_seconds=60)
    world.clock.advance(120)
    world.runner.gone = {execution.execution_id}

    reaper(world).run()

    assert current(world, execution).status is S.TIMED_OUT


def test_an_execution_that_never_got_a_task_fails_after_the_launch_grace(world: FakeWorld) -> None:
    execution = started(world)
    # As if the launching request died between recording PENDING and launching:
    world.executions.items[execution.execution_id] = replace(
        execution, status=S.PENDING, task_ref=None
    )

    assert reaper(world).run().lost == []
    world.clock.advance(301)
    assert reaper(world).run().lost == [execution.execution_id]
    assert current(world, execution).reason == "never started"


class FlakyStops(FakeRunner):
    """StopTask fails `failures` times, then works."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def stop(self, execution: Execution, reason: str) -> None:
        if self.failures:
            self.failures -= 1
            raise StopFailed("ThrottlingException: Rate exceeded")
        super().stop(execution, reason)


def test_a_cancel_whose_stop_failed_is_stopped_by_the_reaper(world: FakeWorld) -> None:
    flaky = FlakyStops(failures=1)
    world.runner = flaky
    world.services.executions._runner = flaky
    execution = started(world)

    cancelling = world.services.executions.cancel(ALICE, execution.execution_id)
    assert cancelling.status is S.CANCELLING  # answered, not failed
    assert current(world, execution).status is S.CANCELLING
    report = Reaper(world.executions, flaky, world.services.executions, world.clock).run()

    assert report.stopped == [execution.execution_id]
    assert flaky.stopped == [(execution.execution_id, "cancelled by alice@example.com")]


def test_one_failing_execution_does_not_stop_the_reaper(world: FakeWorld) -> None:
    flaky = FlakyStops(failures=1)
    first = started(world, timeout_seconds=60)
    second = world.services.executions.start(ALICE, ExecutionRequest("x", timeout_seconds=60))
    world.clock.advance(61)

    report = Reaper(world.executions, flaky, world.services.executions, world.clock).run()

    assert report.failed == [first.execution_id]
    assert report.stopped == [second.execution_id]


class EndedTasks:
    def __init__(self, ended: dict[str, TaskStateChange | None]) -> None:
        self.ended_tasks = ended

    def ended(self, executions: object) -> dict[str, TaskStateChange | None]:
        return self.ended_tasks


def test_the_reaper_settles_a_stopped_task_from_its_record_exit_code_included(
    world: FakeWorld,
) -> None:
    execution = started(world)
    stop = stopped(execution, task_ref=execution.task_ref, exit_code=7)
    tasks = EndedTasks({execution.execution_id: stop})

    report = Reaper(
        world.executions, world.runner, world.services.executions, world.clock, tasks=tasks
    ).run()
    world.services.executions.on_task_event(stop)  # the late event changes nothing

    assert report.settled == [execution.execution_id]
    assert (current(world, execution).status, current(world, execution).exit_code) == (S.FAILED, 7)
    assert world.locks.get("prod") is None


def test_a_never_recorded_execution_has_its_tasks_stopped_before_the_lock_is_freed(
    world: FakeWorld,
) -> None:
    execution = started(world)
    world.executions.items[execution.execution_id] = replace(
        execution, status=S.PENDING, task_ref=None
    )
    world.clock.advance(301)
    flaky = FlakyStops(failures=1)

    first = Reaper(world.executions, flaky, world.services.executions, world.clock).run()
    assert first.failed == [execution.execution_id]
    assert world.locks.get("prod") is not None  # not freed while its task may still run
    second = Reaper(world.executions, flaky, world.services.executions, world.clock).run()

    assert second.lost == [execution.execution_id]
    assert flaky.stopped == [
        (execution.execution_id, "mycli: its execution never recorded this task")
    ]
    assert world.locks.get("prod") is None
