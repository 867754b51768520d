"""EventBridge "ECS Task State Change" for the executor cluster → the execution's status,
with what the run agent reported (its result object in S3) once the task has stopped.

A failure here raises, so Lambda retries the event and, after the last retry, sends it to
the dead-letter queue (and its alarm); the reaper settles the execution meanwhile."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.aws.composition import run_results, warm_pool, warm_refill
from orchestrator.adapters.aws.task_events import task_state_change
from orchestrator.adapters.aws.warm_events import settle_warm_event
from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.models import utc_iso
from orchestrator.handlers.runtime import clients, logger, metrics, services, settings, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if settings().warm_tasks_table:
        answer, event = settle_warm_event(
            event,
            warm_pool(settings(), clients()),
            utc_iso(SystemClock().now()),
            warm_refill(settings(), clients()),
        )
        if answer is not None:
            logger.info("warm task event", extra=answer)
            return answer
    change = task_state_change(event, run_results(settings(), clients()))
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
