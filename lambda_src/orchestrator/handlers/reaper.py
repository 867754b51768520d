"""Every minute: stop tasks past their deadline, settle executions whose task ended without
its event being applied (from DescribeTasks, exit code included), stop unrecorded tasks."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.reaper import Reaper, TaskInspector
from orchestrator.handlers.runtime import logger, metrics, ports, services, tracer


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
    )
    report = asdict(reaper.run())
    logger.info("reaped", extra=report)
    return report
