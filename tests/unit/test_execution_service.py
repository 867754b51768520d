"""ExecutionService with in-memory fakes: locks, launch, completion, cancel, visibility."""

from __future__ import annotations

import pytest

from orchestrator.domain.errors import Forbidden, LockHeld, NotFound, ValidationFailed
from orchestrator.domain.models import ExecutionRequest, ExecutionStatus
from support import ADMIN, ALICE, BOB, FakeWorld

S = ExecutionStatus


def test_start_records_the_execution_and_launches_it(world: FakeWorld) -> None:
    execution = world.services.executions.start(
        ALICE, ExecutionRequest("echo hi", env={"TOKEN": "hunter2"}), request_id="r1"
    )

    assert execution.status is S.STARTING
    assert execution.task_ref == "task-1"
    assert execution.env_names == ("TOKEN",)
    assert execution.request_id == "r1"
    assert world.runner.launched[0].env == {"TOKEN": "hunter2"}
    assert "hunter2" not in repr(world.executions.get(execution.execution_id))


@pytest.mark.parametrize("start", ["warm", "cold", None])
def test_the_record_says_how_the_runner_started_its_task(
    world: FakeWorld, start: str | None
) -> None:
    # Given a runner whose launches start warm, cold, or do not say (the embedded runner)
    world.runner.start = start

    # When a run is started
    execution = world.services.executions.start(ALICE, ExecutionRequest("echo hi"))

    # Then its record says so; a warm task runs already (its RUNNING event came before the
    # run), so the run is RUNNING at once, a cold one STARTING until its task's event
    assert execution.start == start
    assert execution.status is (S.RUNNING if start == "warm" else S.STARTING)
    assert world.executions.get(execution.execution_id).start == start  # type: ignore[union-attr]


def test_a_held_lock_is_refused_naming_the_holder_its_run_and_state(world: FakeWorld) -> None:
    first = world.services.executions.start(ALICE, ExecutionRequest("sleep 9", lock="prod"))
    world.services.executions.on_running(first.execution_id)

    with pytest.raises(LockHeld) as refused:
        world.services.executions.start(BOB, ExecutionRequest("true", lock="prod"))

    details = refused.value.details
    assert details["holder"] == ALICE.email
    assert details["execution_id"] == first.execution_id
    assert details["execution_status"] == "RUNNING"
    assert details["execution_started_at"] == first.started_at
    assert details["execution_finished_at"] is None
    assert details["expires_at"] > details["acquired_at"] == first.started_at
    assert refused.value.message == (
        f"lock 'prod' is held by alice@example.com "
        f"(execution {first.execution_id}, RUNNING since {first.started_at})"
    )
    assert len(world.runner.launched) == 1


def test_a_lock_whose_run_ended_says_so_not_the_far_expiry(world: FakeWorld) -> None:
    first = world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"))
    world.executions.advance(first.execution_id, S.SUCCEEDED, updated_at="t", finished_at="t9")

    with pytest.raises(LockHeld) as refused:
        world.services.executions.start(BOB, ExecutionRequest("true", lock="prod"))

    assert refused.value.details["execution_status"] == "SUCCEEDED"
    assert refused.value.details["execution_finished_at"] == "t9"
    assert "SUCCEEDED at t9; the lock is being freed" in refused.value.message
    assert "until" not in refused.value.message


def test_an_expired_lock_is_taken_over(world: FakeWorld) -> None:
    world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod", timeout_seconds=10))
    world.clock.advance(10 + 300 + 1)

    taken = world.services.executions.start(BOB, ExecutionRequest("y", lock="prod"))

    assert world.locks.get("prod").execution_id == taken.execution_id  # type: ignore[union-attr]


def test_a_launch_failure_records_failed_and_frees_the_lock(world: FakeWorld) -> None:
    world.runner.fail_with = "no capacity"

    execution = world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"))

    assert execution.status is S.FAILED
    assert execution.reason == "failed to start: no capacity"
    assert world.locks.get("prod") is None


@pytest.mark.parametrize(
    ("exit_code", "timed_out", "status"),
    [(0, False, S.SUCCEEDED), (2, False, S.FAILED), (143, True, S.TIMED_OUT)],
)
def test_every_exit_releases_the_lock(
    world: FakeWorld, exit_code: int, timed_out: bool, status: S
) -> None:
    execution = world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"))

    world.services.executions.on_exit(execution.execution_id, exit_code, timed_out=timed_out)

    finished = world.executions.get(execution.execution_id)
    assert finished is not None
    assert finished.status is status
    assert finished.exit_code == (124 if timed_out else exit_code)
    assert finished.finished_at is not None
    assert world.locks.get("prod") is None


def test_a_replayed_exit_changes_nothing(world: FakeWorld) -> None:
    execution = world.services.executions.start(ALICE, ExecutionRequest("x"))
    world.services.executions.on_exit(execution.execution_id, 0, timed_out=False)
    first = world.executions.get(execution.execution_id)

    world.services.executions.on_exit(execution.execution_id, 9, timed_out=False)
    world.services.executions.on_running(execution.execution_id)

    assert world.executions.get(execution.execution_id) == first


def test_a_finish_replayed_later_still_frees_a_lock_left_behind(world: FakeWorld) -> None:
    execution = world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"))
    world.executions.advance(execution.execution_id, S.SUCCEEDED, updated_at="t")

    world.services.executions.finish(execution.execution_id, S.SUCCEEDED)

    assert world.locks.get("prod") is None


def test_cancel_asks_the_runner_and_the_exit_becomes_cancelled(world: FakeWorld) -> None:
    execution = world.services.executions.start(ALICE, ExecutionRequest("sleep 9", lock="prod"))

    cancelling = world.services.executions.cancel(ALICE, execution.execution_id)
    world.services.executions.on_exit(execution.execution_id, 143, timed_out=False)

    assert cancelling.status is S.CANCELLING
    assert world.runner.stopped == [(execution.execution_id, f"cancelled by {ALICE.email}")]
    finished = world.executions.get(execution.execution_id)
    assert finished is not None
    assert finished.status is S.CANCELLED
    assert finished.reason == f"cancelled by {ALICE.email}"
    assert world.locks.get("prod") is None


def test_cancel_is_idempotent_on_a_finished_execution(world: FakeWorld) -> None:
    execution = world.services.executions.start(ALICE, ExecutionRequest("true"))
    world.services.executions.on_exit(execution.execution_id, 0, timed_out=False)

    again = world.services.executions.cancel(ALICE, execution.execution_id)

    assert again.status is S.SUCCEEDED
    assert world.runner.stopped == []


def test_another_users_execution_does_not_exist_for_them_but_does_for_an_admin(
    world: FakeWorld,
) -> None:
    execution = world.services.executions.start(ALICE, ExecutionRequest("true"))

    with pytest.raises(NotFound):
        world.services.executions.get(BOB, execution.execution_id)
    with pytest.raises(NotFound):
        world.services.executions.cancel(BOB, execution.execution_id)
    assert world.services.executions.get(ADMIN, execution.execution_id) == execution


def test_users_list_their_own_and_admins_list_everyones(world: FakeWorld) -> None:
    mine = world.services.executions.start(ALICE, ExecutionRequest("a"))
    world.clock.advance(1)
    theirs = world.services.executions.start(BOB, ExecutionRequest("b"))

    assert [e.execution_id for e in world.services.executions.list_page(ALICE).items] == [
        mine.execution_id
    ]
    assert [e.execution_id for e in world.services.executions.list_page(ADMIN).items] == [
        theirs.execution_id,
        mine.execution_id,
    ]
    assert [
        e.execution_id for e in world.services.executions.list_page(ADMIN, user=BOB.email).items
    ] == [theirs.execution_id]
    with pytest.raises(Forbidden):
        world.services.executions.list_page(ALICE, user=BOB.email)


@pytest.mark.parametrize("timeout", [0, 86401])
def test_timeouts_outside_the_policy_are_refused(world: FakeWorld, timeout: int) -> None:
    with pytest.raises(ValidationFailed):
        world.services.executions.start(ALICE, ExecutionRequest("x", timeout_seconds=timeout))
    assert world.executions.items == {}


def test_logs_come_with_the_status(world: FakeWorld) -> None:
    execution = world.services.executions.start(ALICE, ExecutionRequest("x"))
    world.logs.output[execution.execution_id] = b"one\rtwo"

    current, page = world.services.executions.logs(ALICE, execution.execution_id, "1", 10)

    assert current.status is S.STARTING
    assert [c.data for c in page.chunks] == [b"ne\rtwo"]
    assert page.complete is False  # still running


def test_logs_are_complete_only_when_terminal_and_read_to_the_end(world: FakeWorld) -> None:
    # Given a finished execution with 10 bytes of output
    execution = world.services.executions.start(ALICE, ExecutionRequest("x"))
    world.logs.output[execution.execution_id] = b"0123456789"
    world.services.executions.on_exit(execution.execution_id, 0, timed_out=False)

    # When it is read in pages of 6 bytes
    _, first = world.services.executions.logs(ALICE, execution.execution_id, None, 6)
    _, last = world.services.executions.logs(ALICE, execution.execution_id, first.next_cursor, 6)

    # Then only the page that reached the end is complete
    assert (first.complete, last.complete) == (False, True)
    assert b"".join(c.data for c in first.chunks + last.chunks) == b"0123456789"


def test_a_truncated_log_says_where_from_the_record(world: FakeWorld) -> None:
    execution = world.services.executions.start(ALICE, ExecutionRequest("x"))
    world.services.executions.on_log_truncated(execution.execution_id, 1024)

    _, page = world.services.executions.logs(ALICE, execution.execution_id)

    assert page.truncated_at == 1024


def test_an_empty_page_of_a_running_execution_waits_then_reads_again(world: FakeWorld) -> None:
    # Given a running execution with no output yet, that prints while the request waits
    execution = world.services.executions.start(ALICE, ExecutionRequest("x"))
    world.log_waiter.during_wait = lambda: world.logs.output.update(
        {execution.execution_id: b"late"}
    )

    # When its logs are asked for with a wait
    _, page = world.services.executions.logs(ALICE, execution.execution_id, None, wait_seconds=5)

    # Then the service waited from the cursor and returns what arrived
    assert world.log_waiter.waits == [(execution.execution_id, "0", 5)]
    assert [c.data for c in page.chunks] == [b"late"]


def test_a_finished_execution_or_a_page_with_output_never_waits(world: FakeWorld) -> None:
    running = world.services.executions.start(ALICE, ExecutionRequest("x"))
    world.logs.output[running.execution_id] = b"x"
    done = world.services.executions.start(ALICE, ExecutionRequest("y"))
    world.services.executions.on_exit(done.execution_id, 0, timed_out=False)

    world.services.executions.logs(ALICE, running.execution_id, None, wait_seconds=5)
    _, page = world.services.executions.logs(ALICE, done.execution_id, None, wait_seconds=5)

    assert world.log_waiter.waits == []
    assert page.complete is True


@pytest.mark.parametrize(("max_bytes", "wait"), [(0, 0.0), (1024 * 1024 + 1, 0.0), (10, 20.5)])
def test_log_page_size_and_wait_are_bounded(world: FakeWorld, max_bytes: int, wait: float) -> None:
    execution = world.services.executions.start(ALICE, ExecutionRequest("x"))
    with pytest.raises(ValidationFailed):
        world.services.executions.logs(ALICE, execution.execution_id, None, max_bytes, wait)


def test_fail_unfinished_fails_active_executions_and_frees_their_locks(world: FakeWorld) -> None:
    running = world.services.executions.start(ALICE, ExecutionRequest("x", lock="prod"))
    done = world.services.executions.start(BOB, ExecutionRequest("y"))
    world.services.executions.on_exit(done.execution_id, 0, timed_out=False)

    failed = world.services.executions.fail_unfinished("server restarted")

    assert [e.execution_id for e in failed] == [running.execution_id]
    assert failed[0].reason == "server restarted"
    assert world.locks.get("prod") is None
    assert world.executions.get(done.execution_id).status is S.SUCCEEDED  # type: ignore[union-attr]


def test_env_over_the_limit_both_backends_carry_is_refused_before_anything_runs(
    world: FakeWorld,
) -> None:
    env = {"A": "a" * 8192, "B": "b" * 8192}  # 16,386 bytes with their names

    with pytest.raises(ValidationFailed, match="16384 bytes"):
        world.services.executions.start(ALICE, ExecutionRequest("true", lock="prod", env=env))

    assert world.runner.launched == []
    assert world.executions.items == {}
    assert world.locks.get("prod") is None


def test_start_records_the_playbook_that_asked(world: FakeWorld) -> None:
    # Given a request made by `mycli run deploy`
    request = ExecutionRequest("./deploy.sh", playbook="deploy")

    # When it starts
    execution = world.services.executions.start(ALICE, request)

    # Then the record names the playbook
    assert world.executions.get(execution.execution_id).playbook == "deploy"
