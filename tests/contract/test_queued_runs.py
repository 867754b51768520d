"""Runs that wait for their lock, through ExecutionService on every store backend (memory,
SQLite, DynamoDB on moto, each with its own env sealer): QUEUED at once, started by the
platform in arrival order when the lock frees, a cancel or an expired wait leaves the
queue, holds are waited behind, a promoter that dies mid-way leaves nothing stuck, and 50
concurrent waiters each run exactly once, in arrival order."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from contract.conftest import EXECUTION_STORES, LOCK_QUEUES
from fakes import FakeClock, FakeLogReader, FakeRunner
from moto_aws import REGION
from orchestrator.adapters.aws.kms_queued_env import KmsQueuedEnvSealer
from orchestrator.adapters.local.env_sealer import FernetEnvSealer
from orchestrator.domain.errors import LockHeld
from orchestrator.domain.executions import ExecutionPolicy, ExecutionService
from orchestrator.domain.lock_queue import LockQueueService
from orchestrator.domain.models import Execution, ExecutionRequest, ExecutionStatus
from orchestrator.domain.reaper import Reaper
from support import ADMIN, ALICE, BOB

S = ExecutionStatus
LOCK = "infra-prod"


@dataclass
class World:
    executions: Any
    locks: Any
    queue: Any
    sealer: Any
    runner: FakeRunner
    clock: FakeClock

    def service(self, runner: Any = None) -> ExecutionService:
        return ExecutionService(
            self.executions,
            self.locks,
            runner or self.runner,
            FakeLogReader(),
            self.clock,
            ExecutionPolicy(max_running_per_user=100, max_running_total=200),
            lock_queue=self.queue,
            env_sealer=self.sealer,
        )

    def status(self, execution_id: str) -> ExecutionStatus:
        execution = self.executions.get(execution_id)
        assert execution is not None
        return execution.status  # type: ignore[no-any-return]


@pytest.fixture(params=sorted(EXECUTION_STORES))
def world(request: pytest.FixtureRequest, tmp_path: Path) -> World:
    queue, locks = LOCK_QUEUES[request.param](request, tmp_path)
    if request.param == "dynamodb":
        key = request.getfixturevalue("aws").env_key
        sealer: Any = KmsQueuedEnvSealer(boto3.client("kms", region_name=REGION), key)
    else:
        sealer = FernetEnvSealer(tmp_path / "secrets.key")
    executions = EXECUTION_STORES[request.param](request, tmp_path)
    return World(executions, locks, queue, sealer, FakeRunner(), FakeClock())


def waits(wait: int = 600, **fields: Any) -> ExecutionRequest:
    return ExecutionRequest(command="deploy", lock=LOCK, wait_lock_seconds=wait, **fields)


def holder_run(service: ExecutionService) -> Execution:
    return service.start(ALICE, ExecutionRequest(command="hold it", lock=LOCK))


def test_given_a_held_lock_when_a_run_may_wait_then_it_is_queued_and_starts_when_it_frees(
    world: World,
) -> None:
    # Given Alice's run holding the lock
    service = world.service()
    first = holder_run(service)
    # When Bob asks to run with a wait, with an env value
    queued = service.start(BOB, waits(env={"TOKEN": "s3cret"}))
    # Then it is QUEUED at once, first in line, nothing launched, its value never stored plain
    assert queued.status is S.QUEUED
    place = service.queue_place(queued)
    assert place is not None and place.position == 1
    assert place.holder is not None and place.holder.execution_id == first.execution_id
    assert [spec.execution_id for spec in world.runner.launched] == [first.execution_id]
    stored = world.executions.get(queued.execution_id)
    assert stored.sealed_env and "s3cret" not in stored.sealed_env
    assert "sealed_env" not in stored.to_dict()
    # When Alice's run ends
    world.clock.advance(30)
    service.on_exit(first.execution_id, 0, timed_out=False)
    # Then Bob's run holds the lock and is launched with its env value, its clock started
    started = world.executions.get(queued.execution_id)
    assert started.status is S.STARTING
    assert started.dequeued_at is not None and started.sealed_env is None
    assert world.locks.get(LOCK).execution_id == queued.execution_id
    assert world.runner.launched[-1].env == {"TOKEN": "s3cret"}


def test_given_a_free_lock_when_a_run_may_wait_then_it_starts_at_once(world: World) -> None:
    service = world.service()
    run = service.start(BOB, waits())
    assert run.status is S.STARTING
    assert run.lock_wait_until is None


def test_without_a_wait_a_held_lock_is_still_refused(world: World) -> None:
    service = world.service()
    holder_run(service)
    with pytest.raises(LockHeld):
        service.start(BOB, ExecutionRequest(command="x", lock=LOCK))


def test_waiters_start_one_at_a_time_in_arrival_order(world: World) -> None:
    service = world.service()
    current = holder_run(service)
    waiting = [service.start(BOB, waits()).execution_id for _ in range(4)]
    order = []
    for _ in waiting:
        service.on_exit(current.execution_id, 0, timed_out=False)
        current = world.executions.get(world.locks.get(LOCK).execution_id)
        order.append(current.execution_id)
        assert sum(world.status(w) is S.QUEUED for w in waiting) == len(waiting) - len(order)
    assert order == waiting


def test_given_a_queued_run_when_cancelled_then_it_leaves_the_queue(world: World) -> None:
    service = world.service()
    first = holder_run(service)
    leaving = service.start(BOB, waits())
    staying = service.start(BOB, waits())
    # When Bob cancels the first waiter
    cancelled = service.cancel(BOB, leaving.execution_id)
    # Then it ends CANCELLED, never launched, and the other moves up
    assert cancelled.status is S.CANCELLED
    assert cancelled.cancelled_by == BOB.email
    assert world.executions.get(staying.execution_id).status is S.QUEUED
    assert service.queue_place(world.executions.get(staying.execution_id)).position == 1
    service.on_exit(first.execution_id, 0, timed_out=False)
    assert world.status(staying.execution_id) is S.STARTING
    launched = [spec.execution_id for spec in world.runner.launched]
    assert leaving.execution_id not in launched


def test_given_an_expired_wait_when_the_queues_are_swept_then_it_fails_with_125(
    world: World,
) -> None:
    service = world.service()
    holder_run(service)
    queued = service.start(BOB, waits(wait=60))
    world.clock.advance(61)
    service.sweep_queues()
    ended = world.executions.get(queued.execution_id)
    assert ended.status is S.FAILED and ended.exit_code == 125
    assert ended.reason.startswith("lock wait expired after 1m: lock 'infra-prod' is held by")
    assert LockQueueService(world.queue, world.locks, world.clock).queue(LOCK) == []


def test_given_a_hold_then_runs_are_refused_with_its_reason_or_queue_behind_it(
    world: World,
) -> None:
    service = world.service()
    locks = LockQueueService(world.queue, world.locks, world.clock)
    locks.hold(ADMIN, LOCK, "incident 42", 1800)
    # A run without a wait is refused, naming the hold's reason and time left
    with pytest.raises(LockHeld) as refused:
        service.start(BOB, ExecutionRequest(command="x", lock=LOCK))
    assert '"incident 42", ends in 30m' in refused.value.message
    assert refused.value.details["holder_kind"] == "hold"
    # A run with a wait queues behind it, and starts once the hold is released
    queued = service.start(BOB, waits())
    assert queued.status is S.QUEUED
    locks.release_hold(ADMIN, LOCK)
    service.advance_queue(LOCK)
    assert world.status(queued.execution_id) is S.STARTING


def test_given_an_expired_hold_when_swept_then_the_next_run_starts(world: World) -> None:
    service = world.service()
    LockQueueService(world.queue, world.locks, world.clock).hold(ALICE, LOCK, "freeze", 60)
    queued = service.start(BOB, waits())
    world.clock.advance(61)
    service.sweep_queues()
    assert world.status(queued.execution_id) is S.STARTING


def test_given_a_promoter_killed_after_claiming_then_the_reaper_frees_the_queue(
    world: World,
) -> None:
    # Given a queued run promoted and claimed (PENDING) by a promoter killed before RunTask
    service = world.service()
    first = holder_run(service)
    queued = service.start(BOB, waits())
    behind = service.start(BOB, waits())
    service.finish(first.execution_id, S.SUCCEEDED, advance=False)
    assert LockQueueService(world.queue, world.locks, world.clock).promote(LOCK).started
    now = "2026-01-01T12:00:00.000Z"
    claimed = world.executions.advance(
        queued.execution_id, S.PENDING, updated_at=now, dequeued_at=now
    )
    assert claimed is not None
    # When the reaper runs within the launch grace, nothing changes
    Reaper(world.executions, world.runner, service, world.clock).run()
    assert world.status(queued.execution_id) is S.PENDING
    # When it runs past the launch grace
    world.clock.advance(301)
    Reaper(world.executions, world.runner, service, world.clock).run()
    # Then that run failed "never started" and the next waiter holds the lock and started
    assert world.status(queued.execution_id) is S.FAILED
    assert world.status(behind.execution_id) is S.STARTING
    assert world.locks.get(LOCK).execution_id == behind.execution_id


def test_given_a_promoter_killed_between_promotion_and_claim_then_the_sweep_launches(
    world: World,
) -> None:
    # Given a queued run given its lock by a promotion whose promoter died at once
    service = world.service()
    first = holder_run(service)
    queued = service.start(BOB, waits())
    world.locks.release(LOCK, first.execution_id)
    service.finish(first.execution_id, S.SUCCEEDED, advance=False)
    assert LockQueueService(world.queue, world.locks, world.clock).promote(LOCK).started
    assert world.status(queued.execution_id) is S.QUEUED
    # When the queues are swept
    service.sweep_queues()
    # Then it is launched, once
    assert world.status(queued.execution_id) is S.STARTING
    service.sweep_queues()
    launched = [spec.execution_id for spec in world.runner.launched]
    assert launched.count(queued.execution_id) == 1


def test_fifty_concurrent_waiters_each_run_once_in_arrival_order(world: World) -> None:
    # Given a held lock and 50 waiters arriving from 50 threads (each its own host)
    service = world.service()
    current = holder_run(service)
    arrivals: list[str] = []
    guard = threading.Lock()

    failures: list[BaseException] = []

    def arrive() -> None:
        try:
            run = world.service().start(BOB, waits())
        except BaseException as error:
            failures.append(error)
            raise
        with guard:
            arrivals.append(run.execution_id)

    threads = [threading.Thread(target=arrive) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    queue = LockQueueService(world.queue, world.locks, world.clock).queue(LOCK)
    assert len(queue) == 50
    arrival_order = [entry.execution_id for entry in queue]
    # When each holder ends, reported by racing hosts
    started: list[str] = []
    for _ in range(50):
        ending = current.execution_id
        hosts = [threading.Thread(target=finish_on_a_host, args=(world, ending)) for _ in "ab"]
        for host in hosts:
            host.start()
        for host in hosts:
            host.join()
        current = world.executions.get(world.locks.get(LOCK).execution_id)
        started.append(current.execution_id)
    # Then every waiter ran exactly once, in arrival order
    assert started == arrival_order
    launched = [spec.execution_id for spec in world.runner.launched]
    assert sorted(launched[1:]) == sorted(arrival_order) and len(launched) == 51


def finish_on_a_host(world: World, execution_id: str) -> None:
    world.service().on_exit(execution_id, 0, timed_out=False)
