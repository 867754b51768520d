"""Every minute: stop tasks past their deadline, settle executions whose task is lost."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.reaper import Reaper
from orchestrator.handlers.runtime import logger, metrics, ports, services, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    reaper = Reaper(ports().executions, ports().runner, services().executions, SystemClock())
    report = asdict(reaper.run())
    logger.info("reaped", extra=report)
    return report
