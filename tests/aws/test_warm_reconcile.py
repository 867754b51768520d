"""The pool manager's records against ECS (docs/warm-runners.md), on moto: warm tasks nothing
accounts for (no record, an ended one, an image removed) are stopped; records whose task ECS
no longer runs, for longer than the grace, are ended (assigned -> done, others -> dead),
so a lost STOPPED event keeps no record assigned and no pool counting a dead task; and a
warm run whose task stopped unseen is settled by the reaper, by its task ARN."""

from __future__ import annotations

from datetime import timedelta

import boto3
import pytest
from warm_world import ecs_warm_task, ready_task, tools, warm_run_holding_prod

from lambda_harness import Lambdas
from moto_aws import REGION
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import image_store, warm_pool
from orchestrator.adapters.aws.s3_mailbox import mailbox_key
from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.models import utc_iso
from orchestrator.domain.warm_tasks import WarmState, WarmTask
from orchestrator.ports import WarmPool

# Before the grace (2 minutes): the task's last move, when ECS gives no stoppedAt.
LONG_AGO = timedelta(minutes=10)


@pytest.fixture
def pool(lambdas: Lambdas) -> WarmPool:
    return warm_pool(lambdas.settings, AwsClients())


def record(
    lambdas: Lambdas,
    pool: WarmPool,
    task_id: str,
    state: WarmState,
    task_ref: str | None,
    *,
    ago: timedelta = LONG_AGO,
    image: str = "tools",
) -> None:
    """A warm task's record as the pool manager, the events and the claim leave it, its
    last move `ago`."""
    at = utc_iso(SystemClock().now() - ago)
    assigned = state in (WarmState.ASSIGNED, WarmState.DONE)
    pool.register(
        WarmTask(
            task_id=task_id,
            image=image,
            state=state,
            mailbox=mailbox_key(task_id),
            platform_ref=image_store(lambdas.settings, AwsClients()).get("tools").platform_ref,  # type: ignore[union-attr]
            started_at=at,
            usable_until="2999-01-01T00:00:00.000Z",
            task_ref=task_ref,
            ready_at=at if task_ref else None,
            execution_id=f"run-{task_id[:4]}" if assigned else None,
            claimed_at=at if assigned else None,
        )
    )


def ecs_status(lambdas: Lambdas, arn: str) -> str:
    ecs = boto3.client("ecs", region_name=REGION)
    [task] = ecs.describe_tasks(cluster=lambdas.settings.cluster, tasks=[arn])["tasks"]
    return str(task["lastStatus"])


def stop_unseen(lambdas: Lambdas, arn: str) -> None:
    """ECS stops the task; its STOPPED event is lost."""
    boto3.client("ecs", region_name=REGION).stop_task(
        cluster=lambdas.settings.cluster, task=arn, reason="Essential container exited"
    )


def test_warm_tasks_nothing_accounts_for_are_stopped(lambdas: Lambdas, pool: WarmPool) -> None:
    # Given an image with a pool of 1 and, on the cluster: a warm task with no record (its
    # manager died before registering it... or after its record expired), one whose record
    # has ended, one ready for an image since removed, and a ready and an assigned one
    # that are the pool's
    tools(lambdas.settings, warm=1)
    no_record = ecs_warm_task(lambdas.settings, "1" * 32)
    ended = ecs_warm_task(lambdas.settings, "2" * 32)
    record(lambdas, pool, "2" * 32, WarmState.DONE, ended)
    removed = ecs_warm_task(lambdas.settings, "3" * 32)
    record(lambdas, pool, "3" * 32, WarmState.READY, removed, image="gone")
    ready = ready_task(lambdas.settings, pool, "4" * 32)
    assigned = ecs_warm_task(lambdas.settings, "5" * 32)
    record(lambdas, pool, "5" * 32, WarmState.ASSIGNED, assigned)

    # When the pool manager runs
    report = lambdas.invoke("warm_pool_manager", {})

    # Then the three orphans are stopped, the removed image's record ended dead
    assert sorted(report["orphans"]) == sorted([no_record, ended, removed])
    for arn in (no_record, ended, removed):
        assert ecs_status(lambdas, arn) == "STOPPED"
    assert pool.get("3" * 32).state is WarmState.DEAD  # type: ignore[union-attr]
    # and the pool's own tasks run on, untouched; the pool is full: nothing started
    assert ecs_status(lambdas, ready) == ecs_status(lambdas, assigned) == "RUNNING"
    assert pool.get("4" * 32).state is WarmState.READY  # type: ignore[union-attr]
    assert pool.get("5" * 32).state is WarmState.ASSIGNED  # type: ignore[union-attr]
    assert report["lost"] == [] and report["started"] == []


def test_records_whose_task_stopped_unseen_are_ended_after_the_grace(
    lambdas: Lambdas, pool: WarmPool
) -> None:
    # Given a pool of 1 whose records' tasks ECS stopped, their STOPPED events lost: an
    # assigned one and a ready one (last moved 10 minutes ago), one ECS has forgotten, one
    # starting whose task never ran, and a ready one stopped a moment ago
    tools(lambdas.settings, warm=1)
    assigned = ecs_warm_task(lambdas.settings, "1" * 32)
    record(lambdas, pool, "1" * 32, WarmState.ASSIGNED, assigned)
    ready = ecs_warm_task(lambdas.settings, "2" * 32)
    record(lambdas, pool, "2" * 32, WarmState.READY, ready)
    forgotten = lambdas.settings.cluster.replace(":cluster/", ":task/") + "/" + "f" * 32
    record(lambdas, pool, "3" * 32, WarmState.READY, forgotten)
    record(lambdas, pool, "4" * 32, WarmState.STARTING, None, ago=timedelta(minutes=3))
    recent = ecs_warm_task(lambdas.settings, "5" * 32)
    record(lambdas, pool, "5" * 32, WarmState.READY, recent, ago=timedelta(seconds=5))
    for arn in (assigned, ready, recent):
        stop_unseen(lambdas, arn)

    # When the pool manager runs
    report = lambdas.invoke("warm_pool_manager", {})

    # Then the assigned record is done, the others past the grace dead
    assert sorted(report["lost"]) == ["1" * 32, "2" * 32, "3" * 32, "4" * 32]
    states = {n: pool.get(n * 32).state for n in "12345"}  # type: ignore[union-attr]
    assert states == {
        "1": WarmState.DONE,
        "2": WarmState.DEAD,
        "3": WarmState.DEAD,
        "4": WarmState.DEAD,
        "5": WarmState.READY,  # within the grace: its event may be on its way
    }
    # and the pool counts only that one, so it started nothing (its target is 1)
    assert pool.counts("tools").get(WarmState.READY) == 1
    assert report["started"] == []


def test_a_warm_run_whose_task_stopped_unseen_is_settled_by_the_reaper(
    lambdas: Lambdas, pool: WarmPool
) -> None:
    # Given a run that started on a warm task, holding a lock
    arn, execution = warm_run_holding_prod(lambdas, pool)
    assert execution["start"] == "warm", execution

    # When its task stops and the STOPPED event is lost, and the reaper runs
    stop_unseen(lambdas, arn)
    lambdas.invoke("reaper", {})

    # Then the run is ended by its task ARN (the agent reported nothing: FAILED), its lock
    # freed, as a cold run's would be
    status, ended = lambdas.call(
        "GET", f"/executions/{execution['execution_id']}", lambdas.alice_key
    )
    assert status == 200 and ended["status"] == "FAILED", ended
    assert lambdas.call("GET", "/locks", lambdas.alice_key)[1]["locks"] == []
