"""What a launch holds beyond its task (AWS: the run's KMS grant): stored with the execution,
never shown, released by the runner whatever ends the run, and swept by the reaper once no
run can need it. With fakes; tests/aws/test_run_grants.py has the same on moto."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from orchestrator.domain.executions import TIMEOUT_STOP_PREFIX
from orchestrator.domain.models import (
    Execution,
    ExecutionRequest,
    ExecutionStatus,
    LaunchResult,
    LaunchSpec,
    TaskStateChange,
)
from orchestrator.domain.reaper import LEFTOVER_MARGIN, Reaper
from support import ALICE, FakeWorld

S = ExecutionStatus


def started_with_env(world: FakeWorld) -> Execution:
    return world.services.executions.start(
        ALICE, ExecutionRequest(command="deploy", env={"TOKEN": "t0k"}, timeout_seconds=60)
    )


def stored(world: FakeWorld, execution_id: str) -> Execution:
    found = world.executions.get(execution_id)
    assert found is not None
    return found


def test_the_grant_id_is_stored_with_the_execution_and_never_shown(world: FakeWorld) -> None:
    execution = started_with_env(world)

    assert stored(world, execution.execution_id).grant_id == "grant-1"
    assert "grant_id" not in execution.to_dict()
    assert "grant-1" not in str(execution.to_dict())
    assert world.runner.released == []  # the run is going: nothing is released yet


def test_a_run_without_sealed_values_holds_nothing(world: FakeWorld) -> None:
    execution = world.services.executions.start(ALICE, ExecutionRequest(command="true"))

    world.services.executions.on_exit(execution.execution_id, 0, timed_out=False)

    assert stored(world, execution.execution_id).grant_id is None
    assert world.runner.released == [(execution.execution_id, None)]


def test_every_end_of_a_run_releases_its_grant(world: FakeWorld) -> None:
    executions = world.services.executions
    by_event, cancelled, by_exit = (started_with_env(world) for _ in range(3))

    executions.on_task_event(
        TaskStateChange(by_event.execution_id, "STOPPED", exit_code=0, stop_code="X")
    )
    executions.cancel(ALICE, cancelled.execution_id)
    executions.on_task_event(
        TaskStateChange(
            cancelled.execution_id, "STOPPED", stop_code="UserInitiated", stopped_reason="x"
        )
    )
    executions.on_exit(by_exit.execution_id, 3, timed_out=False)

    assert world.runner.released == [
        (by_event.execution_id, "grant-1"),
        (cancelled.execution_id, "grant-2"),
        (by_exit.execution_id, "grant-3"),
    ]
    assert stored(world, cancelled.execution_id).status is S.CANCELLED


def test_a_replayed_end_releases_again_and_changes_nothing_else(world: FakeWorld) -> None:
    execution = started_with_env(world)
    executions = world.services.executions

    executions.finish(execution.execution_id, S.SUCCEEDED)
    again = executions.finish(execution.execution_id, S.FAILED, reason="late")

    assert again is not None and again.status is S.SUCCEEDED
    assert world.runner.released == [(execution.execution_id, "grant-1")] * 2


def test_a_run_that_ended_while_its_launch_was_recorded_is_released(
    world: FakeWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a task whose STOPPED event is applied before the launch records its grant id
    launch = world.runner.launch

    def launch_then_end(spec: LaunchSpec) -> LaunchResult:
        launched = launch(spec)
        world.services.executions.finish(spec.execution_id, S.FAILED, reason="task lost")
        return launched

    monkeypatch.setattr(world.runner, "launch", launch_then_end)

    # When the launch records it
    execution = started_with_env(world)

    # Then the run's grant is released once its id is known (the event's finish had none)
    assert execution.status is S.FAILED
    assert stored(world, execution.execution_id).grant_id == "grant-1"
    assert world.runner.released == [
        (execution.execution_id, None),
        (execution.execution_id, "grant-1"),
    ]


def test_the_reaper_sweeps_leftovers_older_than_the_longest_timeout_and_a_margin(
    world: FakeWorld,
) -> None:
    leftovers = RecordingLeftovers()
    reaper = Reaper(
        world.executions,
        world.runner,
        world.services.executions,
        world.clock,
        leftovers=leftovers,
        max_timeout_seconds=3600,
    )

    report = reaper.run()

    assert leftovers.asked == [world.clock.now() - timedelta(seconds=3600) - LEFTOVER_MARGIN]
    assert report.swept == ["old-run"] and not report.sweep_failed


def test_a_sweep_that_fails_leaves_the_rest_of_the_reapers_work_done(world: FakeWorld) -> None:
    execution = started_with_env(world)
    world.clock.advance(61)
    leftovers = RecordingLeftovers(fails=True)
    reaper = Reaper(
        world.executions, world.runner, world.services.executions, world.clock, leftovers=leftovers
    )

    report = reaper.run()

    assert report.sweep_failed and report.swept == []
    assert report.stopped == [execution.execution_id]
    assert world.runner.stopped == [(execution.execution_id, f"{TIMEOUT_STOP_PREFIX} after 60s")]


class RecordingLeftovers:
    def __init__(self, fails: bool = False) -> None:
        self.asked: list[datetime] = []
        self._fails = fails

    def sweep(self, made_before: datetime) -> list[str]:
        self.asked.append(made_before)
        if self._fails:
            raise RuntimeError("KMS is throttling")
        return ["old-run"]
