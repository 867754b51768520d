"""Every minute (and invoked after a claim or a warm task's end): keep each image's warm
pool at its size, within the budget, and its records in line with ECS
(docs/warm-runners.md)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.aws.composition import warm_tasks
from orchestrator.handlers.runtime import clients, logger, metrics, ports, settings, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    pools, hands = warm_tasks(settings(), clients())
    images = ports().images.list_all()
    report = asdict(hands.keep(pools, images))
    logger.info("warm pools", extra=report)
    return report
