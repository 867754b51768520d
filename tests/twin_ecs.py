"""The twin's ECS stand-in under test: task definitions written briefly, tasks run for real
(local processes), every event kept in order."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from twin.ecs import EcsStandIn, TaskDefinition, TaskRun, parse_task_definition

WAIT_SECONDS = 10.0


def container(
    name: str,
    script: str,
    *,
    essential: bool = True,
    depends_on: Sequence[tuple[str, str]] = (),
    **extra: Any,
) -> dict[str, Any]:
    """A container definition (DescribeTaskDefinition's shape) running `sh -c script`."""
    return {
        "name": name,
        "image": "public.ecr.aws/docker/library/busybox:1.36",
        "essential": essential,
        "command": ["sh", "-c", script],
        "dependsOn": [{"containerName": c, "condition": condition} for c, condition in depends_on],
        **extra,
    }


def definition(*containers: dict[str, Any], volumes: Sequence[str] = ()) -> TaskDefinition:
    return parse_task_definition(
        {
            "taskDefinitionArn": "arn:aws:ecs:eu-west-1:123456789012:task-definition/twin:1",
            "family": "twin",
            "containerDefinitions": list(containers),
            "volumes": [{"name": v} for v in volumes],
        }
    )


def workspace(path: str = "/mycli") -> dict[str, Any]:
    """The mount point of the task's shared volume `workspace`."""
    return {"mountPoints": [{"sourceVolume": "workspace", "containerPath": path}]}


class Events:
    """A sink that keeps every event (thread-safe)."""

    def __init__(self) -> None:
        self._events: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            self._events.append(event)

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._events)

    def of(self, task: TaskRun) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self._events if e["detail"]["taskArn"] == task.arn]

    def statuses(self, task: TaskRun) -> list[str]:
        """The task's lastStatus, event after event, repeats folded."""
        statuses: list[str] = []
        for event in self.of(task):
            status = event["detail"]["lastStatus"]
            if not statuses or statuses[-1] != status:
                statuses.append(status)
        return statuses

    def last(self, task: TaskRun) -> dict[str, Any]:
        detail: dict[str, Any] = self.of(task)[-1]["detail"]
        return detail


def containers_of(detail: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in detail["containers"]}


def finished(task: TaskRun, timeout: float = WAIT_SECONDS) -> TaskRun:
    assert task.wait(timeout), f"task {task.arn} still running after {timeout} s"
    return task


def new_standin(work_dir: Path, events: Events, **options: Any) -> EcsStandIn:
    return EcsStandIn(work_dir, events=events, stop_timeout=2.0, **options)
