"""The ECS stand-in: RunTask, StopTask and DescribeTasks for tasks whose containers run as
local processes, every task-state change sent to a sink as EventBridge's
"ECS Task State Change" event (the twin's sink invokes the task-events function)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from twin.ecs.events import (
    DEFAULT_STOP_REASON,
    STOPPED,
    TASK_FAILED_TO_START,
    iso,
    task_state_change,
    without_none,
)
from twin.ecs.images import ImageMapper, host_image
from twin.ecs.process import OutputSink
from twin.ecs.task_definition import TaskDefinition
from twin.ecs.tasks import TaskHost, TaskRun
from twin.ecs.volumes import VolumeMode, detect_mode

EventSink = Callable[[dict[str, Any]], None]
ACCOUNT = "123456789012"
REGION = "eu-west-1"
# Fargate's default stopTimeout (a container definition's own stopTimeout wins).
DEFAULT_STOP_TIMEOUT = 30.0


class UnknownTask(LookupError):
    """StopTask or DescribeTasks named a task the stand-in never ran."""


class EcsStandIn:
    """Runs tasks under `work_dir` (one directory per task: volumes, logs, roots)."""

    def __init__(
        self,
        work_dir: Path,
        *,
        events: EventSink | None = None,
        images: ImageMapper = host_image,
        on_output: OutputSink | None = None,
        volume_mode: VolumeMode | None = None,
        region: str = REGION,
        account: str = ACCOUNT,
        stop_timeout: float = DEFAULT_STOP_TIMEOUT,
        environment: Mapping[str, str] | None = None,
        start_delay: Callable[[], float] = lambda: 0.0,
    ) -> None:
        """`events` receives each event; `images` maps an image to this host; `on_output`
        receives the containers' output as it comes; `volume_mode` defaults to a mount
        namespace where one can be made; `environment` is given to every container (under
        the image's, the definition's and the overrides' values); `start_delay` gives, at
        each RunTask, the seconds the task stays PROVISIONING then PENDING (start_delay.py)."""
        self.work_dir = work_dir
        self.region = region
        self.account = account
        self.volume_mode = volume_mode or detect_mode()
        self._events = events
        self._host = TaskHost(
            images=images,
            volume_mode=self.volume_mode,
            environment={
                "AWS_EXECUTION_ENV": "AWS_ECS_FARGATE",
                "AWS_REGION": region,
                "AWS_DEFAULT_REGION": region,
                **(environment or {}),
            },
            stop_timeout=stop_timeout,
            emit=self._emit,
            on_output=on_output,
            start_delay=start_delay,
        )
        self._tasks: dict[str, TaskRun] = {}
        self._lock = threading.Lock()

    def run_task(
        self,
        definition: TaskDefinition,
        *,
        cluster_arn: str | None = None,
        overrides: Mapping[str, Any] | None = None,
        started_by: str = "",
        group: str = "",
        task_arn: str | None = None,
    ) -> TaskRun:
        """Start a task (its PROVISIONING event follows at once); TaskDefinitionError for
        overrides ECS would refuse. `task_arn` is the ARN a real RunTask gave (the moto
        bridge's); without it, one is made up."""
        cluster_arn = cluster_arn or f"arn:aws:ecs:{self.region}:{self.account}:cluster/default"
        cluster = cluster_arn.rsplit("/", 1)[-1]
        arn = task_arn or f"arn:aws:ecs:{self.region}:{self.account}:task/{cluster}/{_task_id()}"
        with self._lock:
            if arn in self._tasks:
                return self._tasks[arn]
            task = TaskRun(
                arn=arn,
                cluster_arn=cluster_arn,
                definition=definition,
                overrides=overrides,
                started_by=started_by,
                group=group,
                task_dir=self.work_dir / arn.rsplit("/", 1)[-1],
                host=self._host,
            )
            self._tasks[arn] = task
        task.start()
        return task

    def stop_task(self, task_arn: str, reason: str = DEFAULT_STOP_REASON) -> TaskRun:
        """StopTask: SIGTERM, the stopTimeout, then SIGKILL (asynchronously, as ECS)."""
        task = self.task(task_arn)
        task.stop(reason)
        return task

    def task(self, task_arn: str) -> TaskRun:
        """A task by ARN or id."""
        with self._lock:
            task = self._tasks.get(task_arn) or next(
                (t for t in self._tasks.values() if t.task_id == task_arn), None
            )
        if task is None:
            raise UnknownTask(f"the stand-in ran no task {task_arn}")
        return task

    def tasks(self) -> list[TaskRun]:
        with self._lock:
            return list(self._tasks.values())

    def close(self, timeout: float = 10.0, reason: str = "the twin shut down") -> None:
        """Stop every task still running and wait (up to `timeout`) for them to end."""
        tasks = self.tasks()
        for task in tasks:
            task.stop(reason)
        for task in tasks:
            task.wait(timeout)

    def report_unrunnable(self, task: Mapping[str, Any], reason: str) -> None:
        """A task RunTask accepted but the stand-in cannot run (e.g. a HEALTHY condition):
        its STOPPED event (TaskFailedToStart), so whoever started it is not left waiting."""
        now = iso(datetime.now(UTC))
        fields = ("taskArn", "clusterArn", "taskDefinitionArn", "group", "startedBy", "overrides")
        record = without_none({key: task.get(key) for key in fields})
        self._emit(
            {
                **record,
                "launchType": "FARGATE",
                "lastStatus": STOPPED,
                "desiredStatus": STOPPED,
                "stopCode": TASK_FAILED_TO_START,
                "stoppedReason": reason,
                "containers": [],
                "stoppedAt": now,
                "updatedAt": now,
                "version": 1,
            }
        )

    def _emit(self, record: dict[str, Any]) -> None:
        if self._events is not None:
            self._events(task_state_change(record, region=self.region, account=self.account))


def _task_id() -> str:
    return uuid.uuid4().hex
