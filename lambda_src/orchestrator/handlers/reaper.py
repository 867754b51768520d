"""Every minute: stop tasks past their deadline, settle executions whose task ended without
its event being applied (from DescribeTasks, exit code included), stop unrecorded tasks,
and revoke runs' KMS grants older than the longest timeout (and a margin)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.reaper import LaunchLeftovers, Reaper, TaskInspector
from orchestrator.handlers.runtime import logger, metrics, ports, services, settings, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    runner = ports().runner  # the ECS runner also reads how ended tasks ended
    reaper = Reaper(
        ports().executions,
        runner,
        services().executions,
        SystemClock(),
        tasks=cast(TaskInspector, runner),
        leftovers=cast(LaunchLeftovers, runner),
        max_timeout_seconds=settings().max_timeout_seconds,
    )
    report = asdict(reaper.run())
    logger.info("reaped", extra=report)
    return report
