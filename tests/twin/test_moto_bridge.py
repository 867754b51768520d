"""The moto bridge end to end: RunTask and StopTask through boto3 on a real moto server
(ThreadedMotoServer over HTTP), the task's processes run by the stand-in, its events out."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from twin.ecs import EcsStandIn
from twin.moto_bridge import IDLE_INTERVAL, MotoEcsBridge
from twin.moto_wakeup import ecs_task_changes
from twin_ecs import Events, containers_of, new_standin

REGION = "eu-west-1"
WAIT_SECONDS = 10.0


@pytest.fixture
def ecs(moto_server: str) -> Any:
    return boto3.client(
        "ecs",
        endpoint_url=moto_server,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def cluster(ecs: Any) -> str:
    name = f"twin-{uuid.uuid4().hex[:8]}"  # the server is shared by the session
    arn: str = ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
    return arn


@pytest.fixture
def standin(tmp_path: Path, events: Events) -> Iterator[EcsStandIn]:
    ecs_standin = new_standin(tmp_path / "tasks", events)
    yield ecs_standin
    ecs_standin.close(timeout=5)


@pytest.fixture
def bridge(
    ecs: Any, cluster: str, standin: EcsStandIn, moto_server: str
) -> Iterator[MotoEcsBridge]:
    with MotoEcsBridge(
        ecs, standin, cluster=cluster, interval=0.05, moto_url=moto_server
    ) as running:
        yield running


def register(ecs: Any, family: str, **container: Any) -> str:
    definition = ecs.register_task_definition(
        family=family,
        cpu="256",
        memory="512",
        volumes=[{"name": "workspace"}],
        containerDefinitions=[
            {
                "name": "command",
                "image": "public.ecr.aws/docker/library/busybox:1.36",
                "essential": True,
                "memory": 128,  # moto's RunTask needs a container memory
                "mountPoints": [{"sourceVolume": "workspace", "containerPath": "/mycli"}],
                **container,
            }
        ],
    )
    arn: str = definition["taskDefinition"]["taskDefinitionArn"]
    return arn


def test_given_run_task_on_moto_then_the_container_runs_with_the_overrides_and_stops(
    ecs: Any, cluster: str, bridge: MotoEcsBridge, events: Events
) -> None:
    task_definition = register(ecs, "twin-run", command=["sh", "-c", "echo placeholder"])

    arn = ecs.run_task(
        cluster=cluster,
        taskDefinition=task_definition,
        launchType="FARGATE",
        startedBy="exec-1",
        overrides={
            "containerOverrides": [
                {
                    "name": "command",
                    "command": ["sh", "-c", 'echo "hello $WHO" > /mycli/out; cat /mycli/out'],
                    "environment": [{"name": "WHO", "value": "twin"}],
                }
            ]
        },
    )["tasks"][0]["taskArn"]

    run = _eventually(lambda: bridge.run_of(arn))
    assert run.wait(WAIT_SECONDS)
    assert run.output("command") == b"hello twin\n"
    detail = events.last(run)
    assert (detail["taskArn"], detail["clusterArn"], detail["startedBy"]) == (
        arn,
        cluster,
        "exec-1",
    )
    assert detail["lastStatus"] == "STOPPED"
    assert containers_of(detail)["command"]["exitCode"] == 0
    # The task ended by itself: moto is told, so DescribeTasks agrees.
    moto_task = _eventually(lambda: _described_if(ecs, cluster, arn, "STOPPED"))
    assert moto_task["stoppedReason"] == "Essential container in task exited"


def test_given_a_running_task_when_stop_task_is_called_on_moto_then_its_process_is_stopped(
    ecs: Any, cluster: str, bridge: MotoEcsBridge, events: Events
) -> None:
    task_definition = register(
        ecs, "twin-stop", command=["sh", "-c", "echo started; exec sleep 30"]
    )
    arn = ecs.run_task(cluster=cluster, taskDefinition=task_definition, launchType="FARGATE")[
        "tasks"
    ][0]["taskArn"]
    run = _eventually(lambda: bridge.run_of(arn))
    _eventually(lambda: run.output("command") == b"started\n" or None)
    # The bridge read the task more than once already: moto still says RUNNING.
    assert ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]["lastStatus"] == "RUNNING"

    began = time.monotonic()
    ecs.stop_task(cluster=cluster, task=arn, reason="cancelled by alice@example.com")

    assert run.wait(WAIT_SECONDS)
    assert time.monotonic() - began < 2
    detail = events.last(run)
    assert detail["stopCode"] == "UserInitiated"
    assert detail["stoppedReason"] == "cancelled by alice@example.com"
    assert containers_of(detail)["command"]["exitCode"] == 143


def test_given_a_task_the_twin_cannot_run_then_it_is_reported_stopped_with_why(
    ecs: Any, cluster: str, bridge: MotoEcsBridge, events: Events
) -> None:
    received = len(events.all())
    definition = ecs.register_task_definition(
        family="twin-healthy",
        containerDefinitions=[
            {"name": "db", "image": "postgres", "essential": False, "memory": 128},
            {
                "name": "command",
                "image": "busybox",
                "memory": 128,
                "dependsOn": [{"containerName": "db", "condition": "HEALTHY"}],
            },
        ],
    )["taskDefinition"]["taskDefinitionArn"]

    arn = ecs.run_task(
        cluster=cluster, taskDefinition=definition, startedBy="exec-9", launchType="FARGATE"
    )["tasks"][0]["taskArn"]

    event = _eventually(
        lambda: next((e for e in events.all()[received:] if e["detail"]["taskArn"] == arn), None)
    )
    assert event["detail"]["lastStatus"] == "STOPPED"
    assert event["detail"]["stopCode"] == "TaskFailedToStart"
    assert "HEALTHY condition on db is not supported" in event["detail"]["stoppedReason"]
    assert event["detail"]["startedBy"] == "exec-9"
    _eventually(lambda: _described_if(ecs, cluster, arn, "STOPPED"))


def _described_if(ecs: Any, cluster: str, arn: str, status: str) -> dict[str, Any] | None:
    task: dict[str, Any] = ecs.describe_tasks(cluster=cluster, tasks=[arn])["tasks"][0]
    return task if task["lastStatus"] == status else None


def _eventually(probe: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
    deadline = time.monotonic() + timeout
    while (value := probe()) is None:
        assert time.monotonic() < deadline, "not in time"
        time.sleep(0.02)
    return value


def test_given_an_idle_bridge_with_a_wake_up_then_it_polls_rarely_and_a_run_task_starts_at_once(
    ecs: Any, cluster: str, standin: EcsStandIn, moto_server: str
) -> None:
    # Given a bridge woken by moto's RunTask and StopTask, with nothing running
    list_calls: list[str] = []
    ecs.meta.events.register(
        "before-call.ecs.ListTasks", lambda **_: list_calls.append("ListTasks")
    )
    with (
        ecs_task_changes() as changes,
        MotoEcsBridge(
            ecs, standin, cluster=cluster, moto_url=moto_server, wake=changes.subscribe()
        ) as bridge,
    ):
        time.sleep(0.2)
        idle_from = len(list_calls)
        time.sleep(1.0)
        # Then while idle it polls at most once a second or so (two ListTasks a pass), not
        # ten times a second
        assert len(list_calls) - idle_from <= 2 * 2
        # When a task is started
        task_definition = register(ecs, "twin-wake", command=["sh", "-c", "echo woken"])
        asked = time.monotonic()
        arn = ecs.run_task(cluster=cluster, taskDefinition=task_definition, launchType="FARGATE")[
            "tasks"
        ][0]["taskArn"]
        # Then it runs well before the idle pause would have ended
        run = _eventually(lambda: bridge.run_of(arn))
        assert time.monotonic() - asked < IDLE_INTERVAL / 2
        assert run.wait(WAIT_SECONDS)
        assert run.output("command") == b"woken\n"
