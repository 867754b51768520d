"""The running-execution quota: how many executions may be running (not terminal) at once,
per user and in total, and the refusal (429) of one more. The execution store counts and
records in one atomic step (ExecutionStore.create), so hosts racing each other cannot all
pass the same count."""

from __future__ import annotations

from dataclasses import dataclass

from orchestrator.domain.errors import TooManyExecutions
from orchestrator.domain.models import RunningCount


@dataclass(frozen=True)
class RunningLimits:
    per_user: int
    total: int

    def admits(self, running: RunningCount) -> bool:
        """Whether one more execution fits beside `running`."""
        return running.user < self.per_user and running.total < self.total

    def refusal(self, running: RunningCount) -> TooManyExecutions:
        """The 429 of a create that `running` leaves no room for, with the figures."""
        details: dict[str, object] = {
            "max_running_per_user": self.per_user,
            "max_running_total": self.total,
            "running": running.user,
        }
        if running.user >= self.per_user:
            return TooManyExecutions(
                f"too many executions: you have {running.user} running, the limit is "
                f"{self.per_user} per user; wait for one to finish",
                details,
            )
        return TooManyExecutions(
            f"too many executions: {running.total} running on the platform, the limit is "
            f"{self.total}; wait for one to finish",
            {**details, "total_running": running.total},
        )
