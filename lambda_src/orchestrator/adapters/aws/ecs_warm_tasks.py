"""The cluster's warm tasks as ECS sees them (the WarmTaskPlatform port): ListTasks of the
cluster, then DescribeTasks, keeping the tasks whose `startedBy` is `w-<task id>`."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from orchestrator.adapters.aws.warm_events import WARM_STARTED_BY_PREFIX
from orchestrator.domain.models import utc_iso
from orchestrator.domain.warm_reconcile import PlatformWarmTask

DESCRIBE_BATCH = 100


class EcsWarmTaskPlatform:
    def __init__(self, ecs: Any, cluster: str) -> None:
        self._ecs = ecs
        self._cluster = cluster

    def running(self) -> list[PlatformWarmTask]:
        arns: list[str] = []
        for page in self._ecs.get_paginator("list_tasks").paginate(
            cluster=self._cluster, desiredStatus="RUNNING"
        ):
            arns += page.get("taskArns", [])
        return [task for task in self._described(arns).values() if task is not None]

    def describe(self, task_refs: Sequence[str]) -> dict[str, PlatformWarmTask | None]:
        return self._described(list(task_refs))

    def _described(self, arns: list[str]) -> dict[str, PlatformWarmTask | None]:
        """Each ARN's warm task; None when ECS does not know it (a task that is not a warm
        task is left out)."""
        found: dict[str, PlatformWarmTask | None] = {}
        for start in range(0, len(arns), DESCRIBE_BATCH):
            batch = arns[start : start + DESCRIBE_BATCH]
            response = self._ecs.describe_tasks(cluster=self._cluster, tasks=batch)
            for task in response.get("tasks", []):
                started_by = str(task.get("startedBy") or "")
                if started_by.startswith(WARM_STARTED_BY_PREFIX):
                    found[task["taskArn"]] = _warm_task(task, started_by)
            described = {task["taskArn"] for task in response.get("tasks", [])}
            found |= {arn: None for arn in batch if arn not in described}
        return found


def _warm_task(task: dict[str, Any], started_by: str) -> PlatformWarmTask:
    stopped_at = task.get("stoppedAt")
    return PlatformWarmTask(
        task_id=started_by[len(WARM_STARTED_BY_PREFIX) :],
        task_ref=task["taskArn"],
        stopped=task.get("lastStatus") == "STOPPED",
        stopped_at=utc_iso(stopped_at) if isinstance(stopped_at, datetime) else None,
    )
