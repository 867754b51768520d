"""The warm-first runner on moto (docs/warm-runners.md): a run on an image with a ready warm
task, at the image's size, starts there (its assignment in the task's mailbox, no RunTask);
every other run starts cold; an assignment S3 refuses ends the task and starts the run cold."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from warm_world import TASK_ID, ready_task, tools

from moto_aws import REGION
from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.composition import ecs_runner, image_store, warm_pool
from orchestrator.adapters.aws.ecs import EcsRunner
from orchestrator.adapters.aws.s3_mailbox import S3Mailboxes, mailbox_key
from orchestrator.adapters.aws.settings import AwsSettings
from orchestrator.adapters.aws.task_layout import manifest_key
from orchestrator.adapters.aws.warm_runner import WarmFirstRunner
from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.models import LaunchSpec
from orchestrator.domain.warm_pools import WarmPools
from orchestrator.domain.warm_tasks import WarmState
from orchestrator.ports import WarmPool


@pytest.fixture
def runner(aws: AwsSettings) -> WarmFirstRunner:
    """The create function's runner, as the deployment composes it."""
    built = ecs_runner(aws, AwsClients())
    assert isinstance(built, WarmFirstRunner)
    return built


@pytest.fixture
def cold(runner: WarmFirstRunner) -> EcsRunner:
    return runner._cold


@pytest.fixture
def pool(aws: AwsSettings) -> WarmPool:
    return warm_pool(aws, AwsClients())


@pytest.fixture
def run_tasks(cold: EcsRunner) -> list[dict[str, Any]]:
    """Every RunTask request, as boto3 sends it."""
    requests: list[dict[str, Any]] = []
    cold._ecs.meta.events.register(
        "provide-client-params.ecs.RunTask", lambda params, **_: requests.append(params)
    )
    return requests


def _platform_ref(aws: AwsSettings) -> str | None:
    image = image_store(aws, AwsClients()).get("tools")
    return image.platform_ref if image is not None else None


def spec(
    aws: AwsSettings, execution_id: str = "e1", cpu: int = 256, memory: int = 512
) -> LaunchSpec:
    return LaunchSpec(
        execution_id,
        "echo hi",
        {"TOKEN": "sealed"},
        60,
        image="tools",
        image_ref=_platform_ref(aws),
        cpu=cpu,
        memory=memory,
    )


def mailbox_of(aws: AwsSettings, task_id: str = TASK_ID) -> dict[str, Any]:
    body = boto3.client("s3", region_name=REGION).get_object(
        Bucket=aws.code_bucket, Key=mailbox_key(task_id)
    )["Body"]
    document: dict[str, Any] = json.loads(body.read())
    return document


def status_of(aws: AwsSettings, cold: EcsRunner, arn: str) -> str:
    task = cold._ecs.describe_tasks(cluster=aws.cluster, tasks=[arn])["tasks"][0]
    return str(task["lastStatus"])


def test_the_deployments_runner_is_warm_first_only_with_the_warm_tasks_table(
    aws: AwsSettings,
) -> None:
    from dataclasses import replace

    assert isinstance(ecs_runner(aws, AwsClients()), WarmFirstRunner)
    assert isinstance(ecs_runner(replace(aws, warm_tasks_table=""), AwsClients()), EcsRunner)


def test_a_run_with_a_ready_warm_task_starts_there_without_run_task(
    aws: AwsSettings,
    runner: WarmFirstRunner,
    cold: EcsRunner,
    pool: WarmPool,
    run_tasks: list[dict[str, Any]],
) -> None:
    # Given the image `tools` with a pool, and one of its warm tasks ready
    tools(aws)
    arn = ready_task(aws, pool)
    run_tasks.clear()

    # When a run on it, at its size, is launched
    launched = runner.launch(spec(aws))

    # Then it took the warm task: no RunTask, the task's ARN and log stream, start warm
    assert run_tasks == []
    assert (launched.task_ref, launched.start) == (arn, "warm")
    assert launched.log_stream_name == f"exec/agent/{arn.rsplit('/', 1)[-1]}"
    assert launched.grant_id is not None  # its env is sealed, as on a cold start
    # and the task's mailbox holds the run's assignment: its id and its manifest's URL
    mailbox = mailbox_of(aws)
    assert (mailbox["v"], mailbox["execution_id"]) == (1, "e1")
    assert f"/{manifest_key('e1')}?" in mailbox["manifest_url"]
    task = pool.get(TASK_ID)
    assert task is not None and (task.state, task.execution_id) == (WarmState.ASSIGNED, "e1")
    assert status_of(aws, cold, arn) == "RUNNING"


@pytest.mark.parametrize(
    ("warm", "size", "why"),
    [(2, (512, 1024), "another size"), (0, (256, 512), "no pool"), (2, None, "no image")],
)
def test_a_run_that_cannot_use_the_pool_starts_cold(
    aws: AwsSettings,
    runner: WarmFirstRunner,
    cold: EcsRunner,
    pool: WarmPool,
    run_tasks: list[dict[str, Any]],
    warm: int,
    size: tuple[int, int] | None,
    why: str,
) -> None:
    # Given a ready warm task of `tools`
    tools(aws, warm=warm)
    arn = ready_task(aws, pool)
    run_tasks.clear()

    # When a run is launched at another size, on an image without a pool, or on no image
    launch = (
        spec(aws, cpu=size[0], memory=size[1])
        if size is not None
        else LaunchSpec("e1", "echo hi", {}, 60)
    )
    launched = runner.launch(launch)

    # Then it starts cold, and the warm task is left ready and waiting
    assert len(run_tasks) == 1, why
    assert launched.start == "cold" and launched.task_ref != arn
    task = pool.get(TASK_ID)
    assert task is not None and task.state is WarmState.READY
    assert mailbox_of(aws) == {"v": 1, "state": "waiting"}


def test_a_run_with_no_ready_task_starts_cold_and_notes_the_demand(
    aws: AwsSettings, runner: WarmFirstRunner, pool: WarmPool, run_tasks: list[dict[str, Any]]
) -> None:
    # Given an image with a pool and nothing ready (idle, scaled to zero)
    tools(aws)

    # When a run is launched on it
    launched = runner.launch(spec(aws))

    # Then it starts cold, and the pool knows a run asked for the image
    assert launched.start == "cold" and len(run_tasks) == 1
    assert pool.last_demand("tools") is not None


def test_an_assignment_s3_refuses_ends_the_warm_task_and_starts_the_run_cold(
    aws: AwsSettings, cold: EcsRunner, pool: WarmPool, run_tasks: list[dict[str, Any]]
) -> None:
    # Given a ready warm task, and mailboxes S3 will not take (a bucket that does not exist)
    image = tools(aws)
    arn = ready_task(aws, pool)
    run_tasks.clear()
    runner = WarmFirstRunner(
        cold,
        WarmPools(pool, SystemClock()),
        image_store(aws, AwsClients()),
        S3Mailboxes(boto3.client("s3", region_name=REGION), "no-such-bucket"),
    )

    # When a run claims it
    launched = runner.launch(spec(aws))

    # Then the warm task is ended dead and stopped, and the run started by RunTask with
    # the inputs already published (one manifest, one grant)
    task = pool.get(TASK_ID)
    assert task is not None and task.state is WarmState.DEAD
    assert status_of(aws, cold, arn) == "STOPPED"
    [request] = run_tasks
    assert request["taskDefinition"] == image.platform_ref
    assert launched.start == "cold" and launched.task_ref not in (arn, None)
    assert launched.grant_id is not None
    grants = boto3.client("kms", region_name=REGION).list_grants(KeyId=aws.env_key)["Grants"]
    assert [grant["GrantId"] for grant in grants] == [launched.grant_id]
    # and the mailbox was never written
    assert mailbox_of(aws) == {"v": 1, "state": "waiting"}
