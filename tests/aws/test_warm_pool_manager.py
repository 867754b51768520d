"""The pool manager function on moto (docs/warm-runners.md): it starts the missing warm tasks
of each image (mailbox `waiting` first, then RunTask with only the mailbox's URL and
expiry), within the budget; stops what an idle or removed pool no longer needs; and ends
the record of a task RunTask refused."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import boto3
import pytest
from warm_world import ready_task, tools

from concurrent_calls import all_at_once
from lambda_harness import Lambdas, reset_runtime
from moto_aws import REGION
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import image_store, warm_pool
from orchestrator.agent.layout import AGENT_CONTAINER
from orchestrator.domain.warm_tasks import WarmState
from orchestrator.ports import WarmPool


@pytest.fixture
def pool(lambdas: Lambdas) -> WarmPool:
    return warm_pool(lambdas.settings, AwsClients())


@pytest.fixture
def run_tasks(lambdas: Lambdas) -> list[dict[str, Any]]:
    """Every RunTask request the pool manager's ECS client sends."""
    from orchestrator.handlers.runtime import clients

    requests: list[dict[str, Any]] = []
    clients().ecs.meta.events.register(
        "provide-client-params.ecs.RunTask", lambda params, **_: requests.append(params)
    )
    return requests


def test_a_pool_is_filled_with_waiting_tasks_given_only_their_mailbox(
    lambdas: Lambdas, pool: WarmPool, run_tasks: list[dict[str, Any]]
) -> None:
    # Given an image with a pool of 2 (just registered: not idle)
    image = tools(lambdas.settings, warm=2)

    # When the pool manager runs
    report = lambdas.invoke("warm_pool_manager", {})

    # Then it started 2 tasks of the image's task definition, each `w-<id>`, whose agent
    # is given its mailbox's URL and expiry and nothing else
    assert len(report["started"]) == 2 and report["refused"] == []
    assert len(run_tasks) == 2
    s3 = boto3.client("s3", region_name=REGION)
    for request, task_id in zip(run_tasks, report["started"], strict=True):
        assert request["taskDefinition"] == image.platform_ref
        assert request["startedBy"] == f"w-{task_id}"
        [override] = request["overrides"]["containerOverrides"]
        assert override["name"] == AGENT_CONTAINER
        variables = {v["name"]: v["value"] for v in override["environment"]}
        assert set(variables) == {"MYCLI_MAILBOX_URL", "MYCLI_MAILBOX_UNTIL"}
        assert f"/warm/{task_id}/assignment?" in variables["MYCLI_MAILBOX_URL"]
        body = s3.get_object(Bucket=lambdas.settings.code_bucket, Key=f"warm/{task_id}/assignment")
        assert json.loads(body["Body"].read()) == {"v": 1, "state": "waiting"}
        task = pool.get(task_id)
        assert task is not None and task.state is WarmState.STARTING
        assert task.usable_until == variables["MYCLI_MAILBOX_UNTIL"]
    # and run again, it starts none while those are starting
    assert lambdas.invoke("warm_pool_manager", {})["started"] == []


def test_the_budget_caps_the_tasks_across_pools(
    lambdas: Lambdas, monkeypatch: pytest.MonkeyPatch, pool: WarmPool
) -> None:
    # Given a pool of 5 and a deployment budget of 3
    tools(lambdas.settings, warm=5)
    monkeypatch.setenv("WARM_BUDGET", "3")
    reset_runtime()

    # When the pool manager runs: then it starts 3
    assert len(lambdas.invoke("warm_pool_manager", {})["started"]) == 3
    assert pool.counts("tools").get(WarmState.STARTING) == 3


def test_a_pool_set_to_zero_has_its_ready_tasks_stopped(
    lambdas: Lambdas, pool: WarmPool, run_tasks: list[dict[str, Any]]
) -> None:
    # Given a ready warm task of an image whose pool is then turned off
    image = tools(lambdas.settings, warm=1)
    arn = ready_task(lambdas.settings, pool)
    store = image_store(lambdas.settings, AwsClients())
    store.delete(image.name)
    store.create(replace(image, warm=0))

    # When the pool manager runs
    report = lambdas.invoke("warm_pool_manager", {})

    # Then the task is stopped and its record dead; nothing is started
    [stopped] = report["stopped"]
    assert pool.get(stopped).state is WarmState.DEAD  # type: ignore[union-attr]
    ecs = boto3.client("ecs", region_name=REGION)
    task = ecs.describe_tasks(cluster=lambdas.settings.cluster, tasks=[arn])["tasks"][0]
    assert task["lastStatus"] == "STOPPED"
    assert report["started"] == [] and run_tasks == []


def test_a_task_run_task_refuses_has_its_record_ended(lambdas: Lambdas, pool: WarmPool) -> None:
    # Given an image whose task definition ECS does not know
    image = tools(lambdas.settings, warm=1)
    store = image_store(lambdas.settings, AwsClients())
    store.delete(image.name)
    store.create(replace(image, platform_ref="mycli-image-gone:1"))

    # When the pool manager runs
    report = lambdas.invoke("warm_pool_manager", {})

    # Then the start was refused and its record is dead (not left starting)
    [refused] = report["refused"]
    assert report["started"] == []
    assert pool.get(refused).state is WarmState.DEAD  # type: ignore[union-attr]
    assert pool.counts("tools").get(WarmState.STARTING, 0) == 0


def test_runs_at_once_start_only_what_the_pool_misses(lambdas: Lambdas, pool: WarmPool) -> None:
    # Given a pool of 3, empty
    tools(lambdas.settings, warm=3)

    # When 6 pool-manager runs come at once (refill invocations of a burst of creates)
    reports = all_at_once([lambda: lambdas.invoke("warm_pool_manager", {}) for _ in range(6)])

    # Then one planned (others asked it to run again) and 3 tasks were started in all
    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert sum(len(r["started"]) for r in reports) == 3
    assert sum(1 for r in reports if r["rounds"] == 0) >= 1
    assert pool.counts("tools").get(WarmState.STARTING) == 3
