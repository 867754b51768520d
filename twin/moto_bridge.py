"""The bridge from a moto server's ECS to the stand-in: moto records RunTask and StopTask
and returns (moto/ecs/models.py, moto 5.2); this poller gives those calls their effect.

- A task moto lists with desiredStatus RUNNING that the bridge has not seen runs once in the
  stand-in, with the task definition moto describes and the overrides moto kept, under the
  task ARN moto gave.
- StopTask makes moto list the task with desiredStatus STOPPED (and its reason): the bridge
  stops the stand-in's task with that reason.
- A task that ends by itself is stopped in moto too (StopTask with the task's stoppedReason),
  so DescribeTasks and ListTasks say STOPPED. moto keeps no exit codes: the event has them.

moto advances a task's lastStatus each time DescribeTasks reads it (RUNNING → ... →
STOPPED, its default "manual" transition); the bridge holds it still through moto's
documented state-manager API, so only StopTask ends a task in moto."""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from collections.abc import Iterator
from typing import Any

from twin.ecs.events import USER_INITIATED
from twin.ecs.standin import EcsStandIn
from twin.ecs.task_definition import TaskDefinition, TaskDefinitionError, parse_task_definition
from twin.ecs.tasks import TaskRun

DESCRIBE_BATCH = 100
MAX_REASON_CHARS = 255
# moto advances a task's status after this many DescribeTasks calls: never, in practice.
HOLD_TRANSITIONS = 10**9
# While a stand-in task has not been settled in moto, poll this often; otherwise wait for a
# wake-up (moto_wakeup: a RunTask or StopTask) or this long.
BUSY_INTERVAL = 0.1
IDLE_INTERVAL = 2.0
logger = logging.getLogger(__name__)


def hold_task_status(moto_url: str) -> None:
    """Tell the moto server to leave tasks' lastStatus alone on DescribeTasks."""
    body = json.dumps(
        {
            "model_name": "ecs::task",
            "transition": {"progression": "manual", "times": HOLD_TRANSITIONS},
        }
    ).encode()
    request = urllib.request.Request(
        f"{moto_url.rstrip('/')}/moto-api/state-manager/set-transition",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


class MotoEcsBridge:
    """Polls one cluster of a moto server's ECS (a boto3 ECS client on its endpoint)."""

    def __init__(
        self,
        ecs: Any,
        standin: EcsStandIn,
        *,
        cluster: str,
        interval: float = BUSY_INTERVAL,
        moto_url: str | None = None,
        wake: threading.Event | None = None,
    ) -> None:
        """`moto_url`: the server's address, to hold tasks' status (see hold_task_status).
        `wake`: set when moto starts or stops a task (moto_wakeup); without it, the bridge
        polls every `interval`, busy or not."""
        self._ecs = ecs
        self._standin = standin
        self._cluster = cluster
        self._interval = interval
        self._moto_url = moto_url
        self._seen: set[str] = set()
        self._runs: dict[str, TaskRun] = {}
        self._stopping: set[str] = set()
        self._settled: set[str] = set()
        self._definitions: dict[str, TaskDefinition] = {}
        self._halt = threading.Event()
        self._wake = wake
        self._thread: threading.Thread | None = None

    def start(self) -> MotoEcsBridge:
        if self._moto_url:
            hold_task_status(self._moto_url)
        self._thread = threading.Thread(target=self._loop, name="twin-moto-bridge", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling (the stand-in's tasks are the stand-in's to close)."""
        self._halt.set()
        if self._wake is not None:
            self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> MotoEcsBridge:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def run_of(self, task_arn: str) -> TaskRun | None:
        """The stand-in's run of a moto task, once the bridge has started it."""
        return self._runs.get(task_arn)

    def poll(self) -> None:
        """One pass: start new tasks, stop stopped ones, settle finished ones in moto."""
        running = self._task_arns("RUNNING")
        for task in self._describe([arn for arn in running if arn not in self._seen]):
            self._launch(task)  # a failure leaves it unseen: the next pass tries again
            self._seen.add(task["taskArn"])
        stopped = set(self._task_arns("STOPPED"))
        to_stop = [
            arn
            for arn in stopped
            if arn in self._runs and arn not in self._stopping and not self._runs[arn].done
        ]
        for task in self._describe(to_stop):
            self._stopping.add(task["taskArn"])
            self._runs[task["taskArn"]].stop(task.get("stoppedReason") or None)
        for arn, run in list(self._runs.items()):
            if run.done and arn not in self._settled:
                self._settled.add(arn)
                if arn not in stopped and run.stop_code != USER_INITIATED:
                    reason = (run.stopped_reason or "")[:MAX_REASON_CHARS]
                    self._ecs.stop_task(cluster=self._cluster, task=arn, reason=reason)

    def _loop(self) -> None:
        while not self._halt.is_set():
            try:
                self.poll()
            except Exception:  # moto restarting, a network hiccup: the next pass retries
                logger.exception("the moto bridge could not poll ECS")
            self._pause()

    def _pause(self) -> None:
        busy = any(arn not in self._settled for arn in self._runs)
        if self._wake is None or busy:
            self._halt.wait(self._interval)
            return
        self._wake.wait(IDLE_INTERVAL)
        self._wake.clear()  # before the next pass: a change during it wakes the one after

    def _launch(self, task: dict[str, Any]) -> None:
        arn = task["taskArn"]
        try:
            definition = self._definition(task["taskDefinitionArn"])
            self._runs[arn] = self._standin.run_task(
                definition,
                cluster_arn=task.get("clusterArn"),
                overrides=task.get("overrides"),
                started_by=task.get("startedBy") or "",
                group=task.get("group") or "",
                task_arn=arn,
            )
        except TaskDefinitionError as error:
            reason = f"the twin cannot run this task: {error}"
            logger.warning("%s: %s", arn, reason)
            self._standin.report_unrunnable(task, reason)
            self._ecs.stop_task(cluster=self._cluster, task=arn, reason=reason[:MAX_REASON_CHARS])

    def _definition(self, arn: str) -> TaskDefinition:
        if arn not in self._definitions:
            response = self._ecs.describe_task_definition(taskDefinition=arn)
            self._definitions[arn] = parse_task_definition(response)
        return self._definitions[arn]

    def _task_arns(self, desired_status: str) -> list[str]:
        paginator = self._ecs.get_paginator("list_tasks")
        pages = paginator.paginate(cluster=self._cluster, desiredStatus=desired_status)
        return [arn for page in pages for arn in page.get("taskArns", [])]

    def _describe(self, arns: list[str]) -> Iterator[dict[str, Any]]:
        for start in range(0, len(arns), DESCRIBE_BATCH):
            response = self._ecs.describe_tasks(
                cluster=self._cluster, tasks=arns[start : start + DESCRIBE_BATCH]
            )
            yield from response.get("tasks", [])
