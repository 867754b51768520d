"""Warm pools on the Fargate twin (issue 22, point 5), with Fargate's start latency modelled
(`aws-twin set --task-start-delay`): 20 concurrent runs against a pool of 5 start exactly 5
warm and 15 cold, each run once with its own output; no run is assigned twice and no warm
task gets two runs; the pool refills to 5; a pool turned off leaves no warm task running.

The delay is what makes the figures exact: every task, cold or warm, stays PROVISIONING /
PENDING for it, so the refills the pool manager starts during the burst (it runs every 2 s
here) are not ready before the last run has been created. On Fargate that takes 30 to 60 s.

A second test shows scale-to-zero after `--warm-idle` (its shortest, a minute) and the pool
starting again with the next run, which starts cold.

Twin only: warm pools are an AWS feature (the embedded platform starts every run at once
and keeps no pool)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from deployment import LocalDeployment, running_deployment
from twin_deployment import TwinDeployment

pytestmark = pytest.mark.twin_only("warm pools are kept on AWS only")
RUNS = 20
POOL = 5
# Long enough that no refill is ready while the 20 CLIs post their runs (a few seconds on a
# loaded 2-core machine), short enough to keep the test around a minute.
START_DELAY_SECONDS = 8.0


@pytest.fixture(scope="module")
def roomy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwinDeployment]:
    with running_deployment(
        tmp_path_factory.mktemp("warm"),
        *("--max-running-per-user", "40", "--max-running-total", "60"),
    ) as deployment:
        assert isinstance(deployment, TwinDeployment)
        deployment.set_task_start_delay(START_DELAY_SECONDS)
        yield deployment


def pool(deployment: LocalDeployment, image: str) -> dict[str, int]:
    listed = json.loads(deployment.mycli("images", "list", "-o", "json", check=True).stdout)
    [found] = [item for item in listed if item["name"] == image]
    counts: dict[str, int] = found["warm"]
    return counts


def wait_for_pool(deployment: LocalDeployment, image: str, ready: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while (counts := pool(deployment, image))["ready"] != ready or counts["starting"]:
        assert time.monotonic() < deadline, counts
        time.sleep(0.5)


def warm_tasks(deployment: TwinDeployment) -> list[dict[str, Any]]:
    """The WarmTasks table's items (task items and `claim#` items), attributes unwrapped."""
    dynamodb = deployment.client("dynamodb")
    [table] = [t for t in dynamodb.list_tables()["TableNames"] if "WarmTasks" in t]
    items = dynamodb.scan(TableName=table, ConsistentRead=True)["Items"]
    return [
        {name: next(iter(value.values())) for name, value in item.items()}
        for item in items
        if not item["task_id"]["S"].startswith("demand#")
    ]


def ecs_tasks(deployment: TwinDeployment, *, warm: bool) -> list[dict[str, Any]]:
    """The tasks ECS still runs (desired RUNNING): the warm ones (startedBy w-<task id>) or
    the others."""
    ecs = deployment.client("ecs")
    found = []
    for cluster in ecs.list_clusters()["clusterArns"]:
        arns = ecs.list_tasks(cluster=cluster, desiredStatus="RUNNING")["taskArns"]
        if arns:
            for task in ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]:
                if str(task.get("startedBy", "")).startswith("w-") == warm:
                    found.append(task)
    return found


def test_twenty_runs_against_a_pool_of_five(roomy: TwinDeployment) -> None:
    # Given an image with a pool of 5, whose tasks are PROVISIONING / PENDING for the delay
    registered = time.monotonic()
    roomy.mycli(
        *("admin", "images", "register", "pooled", "--image", "alpine:3.20"),
        *("--warm", str(POOL)),
        check=True,
    )
    starting = _eventually(lambda: ecs_tasks(roomy, warm=True), timeout=10)
    assert {task["lastStatus"] for task in starting} <= {"PROVISIONING", "PENDING"}
    assert pool(roomy, "pooled")["ready"] == 0
    wait_for_pool(roomy, "pooled", POOL)
    assert time.monotonic() - registered >= START_DELAY_SECONDS
    assert {task["lastStatus"] for task in ecs_tasks(roomy, warm=True)} == {"RUNNING"}

    # When 20 runs on it are started at once
    began = time.monotonic()
    runs = [roomy.spawn("exec", "--image", "pooled", "--", f"echo run {n}") for n in range(RUNS)]
    outputs = [(run.wait(120), run.stdout.read() if run.stdout else "") for run in runs]
    took = time.monotonic() - began

    # Then every run ran once with its own output: exactly 5 on warm tasks, 15 cold
    assert outputs == [(0, f"run {n}\n") for n in range(RUNS)]
    listed = json.loads(roomy.mycli("list", "-o", "json", "--limit", "50", check=True).stdout)
    ran = [item for item in listed["items"] if item["image"] == "pooled"]
    assert len(ran) == RUNS
    created = sorted(datetime.fromisoformat(item["started_at"]) for item in ran)
    burst = (created[-1] - created[0]).total_seconds()  # must stay under the start delay
    print(f"20 runs created within {burst:.1f} s, all done in {took:.1f} s")
    assert Counter(item["start"] for item in ran) == {"warm": POOL, "cold": RUNS - POOL}, burst
    # (a cold run waits out the start delay; a warm one does not)
    assert took >= START_DELAY_SECONDS
    # And no run was assigned twice, and no task (warm or cold) was given two runs
    task_refs = [item["task_ref"] for item in ran]
    assert None not in task_refs and len(set(task_refs)) == RUNS
    items = warm_tasks(roomy)
    assigned = [item for item in items if item.get("execution_id") and "image" in item]
    claims = [item for item in items if item["task_id"].startswith("claim#")]
    warm_runs = {item["execution_id"]: item["task_ref"] for item in ran if item["start"] == "warm"}
    assert Counter(task["execution_id"] for task in assigned) == Counter(list(warm_runs))
    assert {task["execution_id"]: task["task_ref"] for task in assigned} == warm_runs
    assert sorted(claim["task_id"].removeprefix("claim#") for claim in claims) == sorted(warm_runs)
    assert len({claim["claimed_task"] for claim in claims}) == POOL

    # And the pool refills to 5
    wait_for_pool(roomy, "pooled", POOL)
    tasks = [task for task in warm_tasks(roomy) if "image" in task]
    assert {task["state"] for task in tasks} == {"ready", "done"}, json.dumps(tasks, indent=1)

    # When the pool is turned off (scale to zero), nothing is left running
    roomy.mycli("admin", "images", "update", "pooled", "--warm", "0", check=True)
    wait_for_pool(roomy, "pooled", 0)
    assert {task["state"] for task in warm_tasks(roomy) if "image" in task} <= {"done", "dead"}
    _eventually(lambda: not ecs_tasks(roomy, warm=True) and not ecs_tasks(roomy, warm=False))


def _eventually(probe: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := probe()):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.25)
    return found


def test_an_idle_pool_scales_to_zero_and_starts_again_with_the_next_run(
    roomy: TwinDeployment,
) -> None:
    # Given a pool of 1 that no run asks for, with the shortest idle time (1 minute)
    roomy.set_task_start_delay(0)
    roomy.mycli(
        *("admin", "images", "register", "sleepy", "--image", "alpine:3.20"),
        *("--warm", "1", "--warm-idle", "1m"),
        check=True,
    )
    wait_for_pool(roomy, "sleepy", 1)
    # When a minute passes with no run, its task is stopped: the pool is at zero
    wait_for_pool(roomy, "sleepy", 0, timeout=120)
    assert {task["state"] for task in image_tasks(roomy, "sleepy")} <= {"done", "dead"}
    assert pool(roomy, "sleepy")["target"] == 1
    # When the next run comes, it starts cold, and the pool starts again
    ran = roomy.mycli("exec", "--image", "sleepy", "--", "echo back", check=True)
    assert ran.stdout == "back\n"
    listed = json.loads(roomy.mycli("list", "-o", "json", "--limit", "50", check=True).stdout)
    [run] = [item for item in listed["items"] if item["image"] == "sleepy"]
    assert run["start"] == "cold"
    wait_for_pool(roomy, "sleepy", 1)
    roomy.mycli("admin", "images", "update", "sleepy", "--warm", "0", check=True)
    wait_for_pool(roomy, "sleepy", 0)
    roomy.set_task_start_delay(START_DELAY_SECONDS)


def image_tasks(deployment: TwinDeployment, image: str) -> list[dict[str, Any]]:
    return [task for task in warm_tasks(deployment) if task.get("image") == image]
