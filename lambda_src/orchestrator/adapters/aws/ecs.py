"""The ECS runner: each execution is one Fargate task of the executor task definition."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from orchestrator.adapters.aws.task_layout import (
    COMMAND_VARIABLE,
    COMMAND_WRAPPER,
    EXECUTION_ID_VARIABLE,
    PREPARE_CONTAINER,
    SEALED_ENV_VARIABLE,
    UPLOAD_KEY_VARIABLE,
)
from orchestrator.domain.errors import LaunchFailed
from orchestrator.domain.models import Execution, LaunchResult, LaunchSpec

EXECUTION_TAG = "mycli:execution-id"
# ECS emits the STOPPED event within seconds; a task stopped longer ago than this whose
# execution is still open had its event lost.
STOPPED_EVENT_GRACE = timedelta(minutes=2)
DESCRIBE_BATCH = 100


class EcsRunner:
    def __init__(
        self,
        ecs: Any,
        *,
        cluster: str,
        task_definition: str,
        container_name: str,
        subnets: Sequence[str],
        security_groups: Sequence[str],
        log_stream_prefix: str,
        prepared_task_definition: str = "",
        seal: Callable[[LaunchSpec], str] | None = None,
    ) -> None:
        self._ecs = ecs
        self._cluster = cluster
        self._task_definition = task_definition
        self._prepared_task_definition = prepared_task_definition
        self._seal = seal
        self._container = container_name
        self._subnets = list(subnets)
        self._security_groups = list(security_groups)
        self._log_stream_prefix = log_stream_prefix

    def launch(self, spec: LaunchSpec) -> LaunchResult:
        task_definition, containers = self._overrides(spec)
        try:
            response = self._ecs.run_task(
                cluster=self._cluster,
                taskDefinition=task_definition,
                launchType="FARGATE",
                count=1,
                startedBy=spec.execution_id[:36],
                tags=[{"key": EXECUTION_TAG, "value": spec.execution_id}],
                enableECSManagedTags=True,
                networkConfiguration={
                    "awsvpcConfiguration": {
                        "subnets": self._subnets,
                        "securityGroups": self._security_groups,
                        "assignPublicIp": "ENABLED",  # public subnets, no NAT: pulls need it
                    }
                },
                overrides={"containerOverrides": containers},
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
        task_id = task_arn.rsplit("/", 1)[-1]
        return LaunchResult(
            task_ref=task_arn,
            log_stream_name=f"{self._log_stream_prefix}/{self._container}/{task_id}",
        )

    def _overrides(self, spec: LaunchSpec) -> tuple[str, list[dict[str, Any]]]:
        """The task definition and container overrides for `spec`. Env values travel sealed
        with KMS; only the prepare container can unseal them (the task role)."""
        identity = {"name": EXECUTION_ID_VARIABLE, "value": spec.execution_id}
        if not spec.upload_location and not spec.env:
            plain: dict[str, Any] = {
                "name": self._container,
                "command": ["sh", "-c", spec.command],
                "environment": [identity],
            }
            return self._task_definition, [plain]
        if not self._prepared_task_definition or self._seal is None:
            raise LaunchFailed("this deployment cannot take uploads or env values")
        prepare_env = [identity]
        if spec.upload_location:
            prepare_env.append({"name": UPLOAD_KEY_VARIABLE, "value": spec.upload_location})
        if spec.env:
            prepare_env.append({"name": SEALED_ENV_VARIABLE, "value": self._seal(spec)})
        command: dict[str, Any] = {
            "name": self._container,
            "command": ["sh", "-c", COMMAND_WRAPPER],
            "environment": [identity, {"name": COMMAND_VARIABLE, "value": spec.command}],
        }
        prepare = {"name": PREPARE_CONTAINER, "environment": prepare_env}
        return self._prepared_task_definition, [command, prepare]

    def stop(self, execution: Execution, reason: str) -> None:
        if not execution.task_ref:
            return
        try:
            self._ecs.stop_task(cluster=self._cluster, task=execution.task_ref, reason=reason[:255])
        except ClientError as error:
            # A task that is already gone needs no stopping; its end is settled elsewhere.
            if "not found" not in str(error).lower():
                raise

    def lost(self, executions: Sequence[Execution]) -> set[str]:
        by_arn = {e.task_ref: e.execution_id for e in executions if e.task_ref}
        arns = list(by_arn)
        gone: set[str] = set()
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
                    gone.add(by_arn[task["taskArn"]])
            gone |= {by_arn[arn] for arn in batch if arn not in seen}
        return gone
