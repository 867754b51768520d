"""The reaper (AWS, every minute): stop what ran past its deadline, and settle executions
whose task no longer exists. Locally the process runner does this work itself."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from orchestrator.domain.executions import TIMEOUT_STOP_PREFIX, ExecutionService
from orchestrator.domain.models import ExecutionStatus, parse_iso
from orchestrator.ports import Clock, ExecutionStore, Runner

TASK_LOST_REASON = "task lost"
NEVER_STARTED_REASON = "never started"
# A PENDING execution without a task is being launched; after this long, it never will be.
LAUNCH_GRACE = timedelta(minutes=5)


@dataclass
class ReapReport:
    stopped: list[str] = field(default_factory=list)
    timed_out: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)


class Reaper:
    def __init__(
        self,
        executions: ExecutionStore,
        runner: Runner,
        service: ExecutionService,
        clock: Clock,
    ) -> None:
        self._executions = executions
        self._runner = runner
        self._service = service
        self._clock = clock

    def run(self) -> ReapReport:
        report = ReapReport()
        now = self._clock.now()
        active = self._executions.list_active()
        launched = [e for e in active if e.task_ref]
        gone = self._runner.lost(launched) if launched else set()
        for execution in active:
            overdue = execution.deadline <= now
            if execution.execution_id in gone:
                # Its STOPPED event never came (or came before the record was written).
                if overdue:
                    self._service.finish(
                        execution.execution_id,
                        ExecutionStatus.TIMED_OUT,
                        reason=f"timed out after {execution.timeout_seconds}s",
                    )
                    report.timed_out.append(execution.execution_id)
                else:
                    self._service.finish(
                        execution.execution_id, ExecutionStatus.FAILED, reason=TASK_LOST_REASON
                    )
                    report.lost.append(execution.execution_id)
            elif not execution.task_ref:
                if parse_iso(execution.started_at) + LAUNCH_GRACE <= now:
                    self._service.finish(
                        execution.execution_id, ExecutionStatus.FAILED, reason=NEVER_STARTED_REASON
                    )
                    report.lost.append(execution.execution_id)
            elif overdue:
                reason = f"{TIMEOUT_STOP_PREFIX} after {execution.timeout_seconds}s"
                self._runner.stop(execution, reason)
                report.stopped.append(execution.execution_id)
        return report
