"""EventBridge "ECS Task State Change" for the executor cluster → the execution's status.

A failure here raises, so Lambda retries the event and, after the last retry, sends it to
the dead-letter queue (and its alarm); the reaper settles the execution meanwhile."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.aws.clients import AwsClients
from orchestrator.adapters.aws.task_events import (
    clone_succeeded,
    failed_step,
    logged_git_commit,
    parse_task_state_change,
    step_output,
)
from orchestrator.adapters.aws.task_layout import CLONE_CONTAINER
from orchestrator.handlers.runtime import logger, metrics, services, settings, tracer

_clients = AwsClients()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = parse_task_state_change(event, settings().container_name)
    if change is not None and change.setup_failure:
        change = replace(change, setup_failure=_with_step_output(event, change.setup_failure))
    if change is not None and clone_succeeded((event.get("detail") or {}).get("containers") or []):
        change = replace(change, git_commit=_git_commit(event))
    execution = services().executions.on_task_event(change) if change else None
    if execution is None:
        logger.info("ignored an event about a task that is not a mycli execution's")
        return {"ignored": True}
    logger.info(
        "task event",
        extra={
            "execution_id": execution.execution_id,
            "event_status": change and change.last_status,
        },
    )
    return {"execution_id": execution.execution_id, "status": execution.status.value}


def _git_commit(event: dict[str, Any]) -> str | None:
    """The commit the task's clone step printed (the clone step succeeded)."""
    task_id = str((event.get("detail") or {}).get("taskArn", "")).rsplit("/", 1)[-1]
    if not task_id or not settings().log_group:
        return None
    stream = f"{settings().log_stream_prefix}/{CLONE_CONTAINER}/{task_id}"
    return logged_git_commit(_clients.logs, settings().log_group, stream)


def _with_step_output(event: dict[str, Any], reason: str) -> str:
    """The reason, followed by the last lines the failed step wrote to its log."""
    detail = event.get("detail") or {}
    step = failed_step(detail.get("containers") or [])
    task_id = str(detail.get("taskArn", "")).rsplit("/", 1)[-1]
    if step is None or not task_id or not settings().log_group:
        return reason
    stream = f"{settings().log_stream_prefix}/{step}/{task_id}"
    output = step_output(_clients.logs, settings().log_group, stream)
    return f"{reason}: {output}" if output else reason
