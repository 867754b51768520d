"""moto's DescribeTasks tells a task's lastStatus as the stand-in runs it. moto starts every
task RUNNING (moto/ecs/models.py, moto 5.2); in this process's moto a task starts
PROVISIONING instead, and each state the stand-in reports before it stops (PENDING, RUNNING,
STOPPING) is copied onto moto's task before the event is delivered, so a function reading
DescribeTasks after an event sees at least that state. STOPPED stays the moto bridge's (it
calls StopTask), as does anything StopTask already set."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from unittest import mock

from moto.ecs.models import EC2ContainerServiceBackend, ecs_backends

from twin.ecs.events import PENDING, PROVISIONING, RUNNING, STOPPED, STOPPING

MIRRORED = (PENDING, RUNNING, STOPPING)


def _starting_provisioning(run_task: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(run_task)
    def run_task_provisioning(*args: Any, **kwargs: Any) -> Any:
        tasks = run_task(*args, **kwargs)
        for task in tasks:
            task.last_status = PROVISIONING
        return tasks

    return run_task_provisioning


@contextmanager
def tasks_start_provisioning() -> Iterator[None]:
    """For the block, this process's moto starts each RunTask'd task PROVISIONING."""
    patched = _starting_provisioning(EC2ContainerServiceBackend.run_task)
    with mock.patch.object(EC2ContainerServiceBackend, "run_task", patched):
        yield


def mirror_status(record: dict[str, Any]) -> None:
    """Copy a stand-in task record's lastStatus onto moto's task (see the module's doc)."""
    status = record.get("lastStatus")
    arn = str(record.get("taskArn") or "")
    parts = arn.split(":", 5)
    if status not in MIRRORED or len(parts) != 6:
        return
    try:
        backend = ecs_backends[parts[4]][parts[3]]
    except KeyError:
        return
    task = next((tasks[arn] for tasks in backend.tasks.values() if arn in tasks), None)
    if task is not None and STOPPED not in (task.desired_status, task.last_status):
        task.last_status = status
