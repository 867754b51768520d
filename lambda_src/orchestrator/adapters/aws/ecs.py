"""The ECS runner: each execution is one Fargate task of the run task definition (or of its
run's image's clone of it): the run agent and the command. RunTask's overrides carry only
the agent's execution id and the presigned URL of the run's manifest (RunInputs).

A run with sealed values holds a KMS grant beyond its task (kms_grants.py): revoked here
when the launch fails, by `release` once the run has ended, and by the reaper's `sweep`
when both were missed."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.kms_grants import RunGrants
from orchestrator.adapters.aws.run_inputs import PublishedInputs
from orchestrator.adapters.aws.task_events import task_state_change
from orchestrator.adapters.aws.task_layout import MAX_OVERRIDES_CHARS, overrides_size
from orchestrator.agent.layout import (
    AGENT_CONTAINER,
    EXECUTION_ID_VARIABLE,
    MANIFEST_URL_VARIABLE,
)
from orchestrator.domain.errors import LaunchFailed, StopFailed
from orchestrator.domain.models import (
    START_COLD,
    Execution,
    LaunchResult,
    LaunchSpec,
    TaskStateChange,
)
from orchestrator.ports import RunResults

EXECUTION_TAG = "mycli:execution-id"
# ECS emits the STOPPED event within seconds; a task stopped longer ago than this whose
# execution is still open had its event lost (or its handler failed every retry).
STOPPED_EVENT_GRACE = timedelta(minutes=2)
DESCRIBE_BATCH = 100
logger = logging.getLogger(__name__)


class Inputs(Protocol):
    def publish(self, spec: LaunchSpec) -> PublishedInputs:
        """Store the run's inputs; the presigned URL of its manifest, and its grant."""
        ...


class EcsRunner:
    def __init__(
        self,
        ecs: Any,
        *,
        cluster: str,
        task_definition: str,
        subnets: Sequence[str],
        security_groups: Sequence[str],
        log_stream_prefix: str,
        inputs: Inputs,
        results: RunResults,
        grants: RunGrants | None = None,
    ) -> None:
        """`results`: the run agents' reports, read when a task has ended (`ended`);
        `grants`: the runs' KMS grants (None: this deployment seals nothing)."""
        self._ecs = ecs
        self._grants = grants
        self._cluster = cluster
        self._task_definition = task_definition
        self._inputs = inputs
        self._results = results
        self._subnets = list(subnets)
        self._security_groups = list(security_groups)
        self._log_stream_prefix = log_stream_prefix

    def launch(self, spec: LaunchSpec) -> LaunchResult:
        return self.launch_published(spec, self.publish(spec))

    def publish(self, spec: LaunchSpec) -> PublishedInputs:
        """Store the run's inputs (its manifest, its grant) for a task to read."""
        return self._inputs.publish(spec)

    def launch_published(self, spec: LaunchSpec, published: PublishedInputs) -> LaunchResult:
        """RunTask for a run whose inputs are published; its grant revoked if that fails."""
        try:
            return self._start(spec, published)
        except BaseException:
            self._revoke(spec.execution_id, published.grant_id)
            raise

    def log_stream_of(self, task_arn: str) -> str:
        """The operators' copy (CloudWatch) of a task's agent: its log stream."""
        return f"{self._log_stream_prefix}/{AGENT_CONTAINER}/{task_arn.rsplit('/', 1)[-1]}"

    def stop_task(self, task_arn: str, reason: str) -> None:
        """StopTask; a task already gone needs none (StopFailed for other refusals)."""
        try:
            self._ecs.stop_task(cluster=self._cluster, task=task_arn, reason=reason[:255])
        except ClientError as error:
            if "not found" not in str(error).lower():
                raise StopFailed(str(error)) from error
        except BotoCoreError as error:
            raise StopFailed(str(error)) from error

    def _start(self, spec: LaunchSpec, published: PublishedInputs) -> LaunchResult:
        containers = self._overrides(spec, published.manifest_url)
        try:
            response = self._ecs.run_task(
                cluster=self._cluster,
                # A run on an image uses the image's task definition, a clone of the run's.
                taskDefinition=spec.image_ref or self._task_definition,
                launchType="FARGATE",
                count=1,
                startedBy=spec.execution_id[:36],
                # One task per run: a repeated RunTask for this execution starts no other.
                clientToken=spec.execution_id,
                tags=[{"key": EXECUTION_TAG, "value": spec.execution_id}],
                enableECSManagedTags=True,
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": self._subnets,
                        "securityGroups": self._security_groups,
                        "assignPublicIp": "ENABLED",  # public subnets, no NAT: pulls need it
                    }
                },
                overrides={"containerOverrides": containers, **_task_size(spec)},
            )
        except ClientError as error:
            raise LaunchFailed(
                error.response.get("Error", {}).get("Message") or str(error)
            ) from error
        except BotoCoreError as error:
            raise LaunchFailed(str(error)) from error
        failures = response.get("failures") or []
        tasks = response.get("tasks") or []
        if failures or not tasks:
            reasons = [
                " ".join(part for part in (f.get("reason"), f.get("detail")) if part)
                for f in failures
            ]
            raise LaunchFailed("; ".join(r for r in reasons if r) or "ECS started no task")
        task_arn: str = tasks[0]["taskArn"]
        # The operators' copy (CloudWatch): the agent's stream. The run's output is in S3.
        return LaunchResult(
            task_ref=task_arn,
            log_stream_name=self.log_stream_of(task_arn),
            grant_id=published.grant_id,
            start=START_COLD,
        )

    def _overrides(self, spec: LaunchSpec, manifest_url: str) -> list[dict[str, Any]]:
        """The agent's env: the execution id and its manifest's URL. Nothing else, nothing
        secret, and nothing for the command container (it reads the shared volume)."""
        containers: list[dict[str, Any]] = [
            {
                "name": AGENT_CONTAINER,
                "environment": [
                    {"name": EXECUTION_ID_VARIABLE, "value": spec.execution_id},
                    {"name": MANIFEST_URL_VARIABLE, "value": manifest_url},
                ],
            }
        ]
        size = overrides_size(containers)
        if size > MAX_OVERRIDES_CHARS:
            raise LaunchFailed(
                f"the task's overrides take {size} characters; ECS accepts {MAX_OVERRIDES_CHARS}"
            )
        return containers

    def stop(self, execution: Execution, reason: str) -> None:
        """Stop the execution's task; without a recorded task, every task started for it
        (the create function may have died between RunTask and recording the task)."""
        arns = [execution.task_ref] if execution.task_ref else self._tasks_started_for(execution)
        for arn in arns:
            self.stop_task(arn, reason)

    def release(self, execution: Execution) -> None:
        """Revoke the run's grant (one the agent already retired is fine; an error is
        logged and left to the sweep)."""
        self._revoke(execution.execution_id, execution.grant_id)

    def sweep(self, made_before: datetime) -> list[str]:
        """Revoke the runs' grants made before `made_before`; the executions they were for."""
        return self._grants.sweep(made_before) if self._grants is not None else []

    def _revoke(self, execution_id: str, grant_id: str | None) -> None:
        if self._grants is not None:
            self._grants.revoke_quietly(execution_id, grant_id)

    def _tasks_started_for(self, execution: Execution) -> list[str]:
        arns: list[str] = []
        for desired in ("RUNNING", "PENDING"):
            paginator = self._ecs.get_paginator("list_tasks")
            for page in paginator.paginate(
                cluster=self._cluster,
                startedBy=execution.execution_id[:36],
                desiredStatus=desired,
            ):
                arns += [arn for arn in page.get("taskArns", []) if arn not in arns]
        return arns

    def lost(self, executions: Sequence[Execution]) -> set[str]:
        return set(self.ended(executions))

    def ended(self, executions: Sequence[Execution]) -> dict[str, TaskStateChange | None]:
        """Executions whose task has ended: what DescribeTasks says about that end (the
        same facts a STOPPED event carries, exit code included), or None when ECS no
        longer knows the task. Tasks stopped less than the grace ago are left to their
        event."""
        by_arn = {e.task_ref: e.execution_id for e in executions if e.task_ref}
        arns = list(by_arn)
        ended: dict[str, TaskStateChange | None] = {}
        now = datetime.now(UTC)
        for start in range(0, len(arns), DESCRIBE_BATCH):
            batch = arns[start : start + DESCRIBE_BATCH]
            response = self._ecs.describe_tasks(cluster=self._cluster, tasks=batch)
            seen = set()
            for task in response.get("tasks", []):
                seen.add(task["taskArn"])
                stopped_at = task.get("stoppedAt")
                if task.get("lastStatus") == "STOPPED" and (
                    stopped_at is None or now - stopped_at > STOPPED_EVENT_GRACE
                ):
                    execution_id = by_arn[task["taskArn"]]
                    ended[execution_id] = task_state_change(
                        {
                            "detail-type": "ECS Task State Change",
                            "detail": {**task, "startedBy": execution_id},
                        },
                        self._results,
                    )
            ended |= {by_arn[arn]: None for arn in batch if arn not in seen}
        return ended


def _task_size(spec: LaunchSpec) -> dict[str, str]:
    """Task-level size overrides for a run on an image (Fargate units: CPU units, MiB)."""
    if spec.cpu is None or spec.memory is None:
        return {}
    return {"cpu": str(spec.cpu), "memory": str(spec.memory)}
