"""Refill a pool within seconds (docs/warm-runners.md, The pool manager): after a claim, and
after a warm task stopped, the pool manager function is invoked asynchronously
(InvocationType=Event). Asking is best effort: a refused or failed invoke is logged and
never fails the create or the event; the one-minute schedule refills the pool anyway."""

from __future__ import annotations

import json
import logging
from typing import Any

logger = logging.getLogger(__name__)


class PoolManagerRefill:
    def __init__(self, lambda_client: Any, function_name: str) -> None:
        self._lambda = lambda_client
        self._function_name = function_name

    def __call__(self, reason: str) -> None:
        """Ask the pool manager to run now (`reason`: what emptied a place in a pool)."""
        try:
            self._lambda.invoke(
                FunctionName=self._function_name,
                InvocationType="Event",
                Payload=json.dumps({"source": "mycli.warm-refill", "reason": reason}).encode(),
            )
        except Exception as error:  # best effort: the schedule is the fallback
            logger.warning("the pool manager could not be invoked (%s): %s", reason, error)
