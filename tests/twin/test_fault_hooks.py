"""The twin's fault hooks (twin/faults.py): `<execution id> [N]` lines that count down, a
task-state delivery that fails to the dead-letter queue, and StopTask failing for the
functions only (never for the moto bridge's own calls)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from twin import events
from twin.events import Target, deliver
from twin.faults import (
    FAILED_STOP_TASKS_FILE,
    FAILED_TASK_EVENTS_FILE,
    STOP_TASK_FAILURE,
    FaultHooks,
    failing_stop_tasks,
)
from twin.functions import Function, invoking

REGION = "eu-west-1"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_a_counted_line_fails_n_calls_and_counts_down_an_uncounted_one_always(
    tmp_path: Path,
) -> None:
    hooks = FaultHooks(tmp_path)
    write(tmp_path / FAILED_STOP_TASKS_FILE, "e1 2\ne2\n")

    taken = [hooks.stop_tasks.take("e1") for _ in range(3)]

    assert taken == [True, True, False]
    assert (tmp_path / FAILED_STOP_TASKS_FILE).read_text() == "e1 0\ne2\n"
    assert [hooks.stop_tasks.take("e2") for _ in range(3)] == [True, True, True]
    assert hooks.stop_tasks.take("e3") is False
    hooks.clear()
    assert hooks.stop_tasks.take("e2") is False and not hooks.stop_tasks.listed()


class Recorded(Function):
    def __init__(self) -> None:
        super().__init__("TaskEvents", "x.handler", "task-events", "arn:fn", 128)
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: Any) -> Any:
        self.events.append(event)


def test_a_listed_runs_events_fail_every_retry_and_go_to_the_dead_letter_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(events, "RETRY_DELAY_SECONDS", 0)
    hooks = FaultHooks(tmp_path)
    write(tmp_path / FAILED_TASK_EVENTS_FILE, "e1\n")
    function = Recorded()
    dead: list[tuple[str, dict[str, Any]]] = []
    target = Target(function, retries=2, dead_letter_arn="arn:queue")
    listed = {"detail": {"startedBy": "e1", "lastStatus": "STOPPED"}}
    other = {"detail": {"startedBy": "e2", "lastStatus": "STOPPED"}}

    for event in (listed, other):
        deliver(target, event, lambda arn, event: dead.append((arn, event)), hooks.fail_task_event)

    assert function.events == [other]
    assert dead == [("arn:queue", listed)]


@pytest.fixture
def ecs() -> Iterator[tuple[Any, str, str]]:
    """A moto ECS client, a cluster and a task started for execution e1."""
    with mock_aws():
        client = boto3.client("ecs", region_name=REGION)
        cluster = client.create_cluster(clusterName="c")["cluster"]["clusterArn"]
        definition = client.register_task_definition(
            family="f", containerDefinitions=[{"name": "a", "image": "busybox", "memory": 64}]
        )["taskDefinition"]["taskDefinitionArn"]
        [task] = client.run_task(
            cluster=cluster, taskDefinition=definition, startedBy="e1", launchType="FARGATE"
        )["tasks"]
        yield client, cluster, task["taskArn"]


def test_stop_task_fails_for_a_function_and_works_for_the_bridge(
    tmp_path: Path, ecs: tuple[Any, str, str]
) -> None:
    client, cluster, task = ecs
    hooks = FaultHooks(tmp_path)
    write(tmp_path / FAILED_STOP_TASKS_FILE, "e1 1\n")

    with failing_stop_tasks(hooks):
        client.stop_task(cluster=cluster, task=task, reason="the bridge")  # not a function
        with invoking(), pytest.raises(ClientError, match=STOP_TASK_FAILURE):
            client.stop_task(cluster=cluster, task=task, reason="cancelled")
        with invoking():
            client.stop_task(cluster=cluster, task=task, reason="cancelled")

    assert (tmp_path / FAILED_STOP_TASKS_FILE).read_text() == "e1 0\n"
