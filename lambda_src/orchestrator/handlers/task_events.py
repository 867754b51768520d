"""EventBridge "ECS Task State Change" for the executor cluster → the execution's status."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.aws.task_events import parse_task_state_change
from orchestrator.handlers.runtime import logger, metrics, services, settings, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = parse_task_state_change(event, settings().container_name)
    if change is None:
        return {"applied": False}
    execution = services().executions.on_task_event(change)
    logger.info(
        "task event",
        extra={"execution_id": change.execution_id, "last_status": change.last_status},
    )
    return {"applied": execution is not None, "status": execution.status if execution else None}
