"""Every minute (and invoked after a claim or a warm task's end): keep each image's warm
pool at its size, within the budget, and its records in line with ECS
(docs/warm-runners.md). One run at a time: a run that finds another running asks it to run
once more and ends (domain/warm_lease.py)."""

from __future__ import annotations

import uuid
from dataclasses import asdict
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orchestrator.adapters.aws.composition import pool_manager_lease, warm_tasks
from orchestrator.adapters.aws.warm_manager import PoolReport
from orchestrator.adapters.clock import SystemClock
from orchestrator.domain.warm_lease import run_alone
from orchestrator.handlers.runtime import clients, logger, metrics, ports, settings, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    pools, hands = warm_tasks(settings(), clients())
    rounds = run_alone(
        pool_manager_lease(settings(), clients()),
        uuid.uuid4().hex,
        SystemClock(),
        lambda: hands.keep(pools, ports().images.list_all()),
    )
    report = {"rounds": len(rounds), **asdict(PoolReport.merged(rounds))}
    logger.info("warm pools", extra=report)
    return report
